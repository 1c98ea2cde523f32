import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { drover, tempDir } from "../helpers/cli";

/**
 * `drover power`, `node sensors` and `node console` through the real ipmitool against OpenIPMI's BMC
 * simulator (ipmi_sim), started here on 127.0.0.1 with a private config: a LAN channel on a loopback UDP
 * port, one admin user, a chassis-control script that keeps the power state in a file, one temperature
 * sensor, and Serial-over-LAN wired to a TCP listener in this test.
 */
const PASSWORD = "ipmi-S3cret";
const have = (p: string) => Bun.which(p) !== null;
const skip = !have("ipmi_sim") || !have("ipmitool");
if (skip) console.warn("power-ipmi: skipped: needs ipmi_sim and ipmitool (apt-get install openipmi ipmitool)");

const REPO = join(import.meta.dir, "../..");

/** Keeps the simulated chassis in files: power (1/0), boot (default/pxe/…), and a log of every set. */
const CHASSIS_SCRIPT = `#!/bin/sh
# ipmi_sim chassis control: $0 DEVICE get PARM... | $0 DEVICE set PARM VALUE...
dir=$(dirname "$0")
shift
op=$1; shift
case $op in
get)
  for p in "$@"; do
    case $p in
      power) v=$(cat "$dir/power" 2>/dev/null || echo 0) ;;
      boot) v=$(cat "$dir/boot" 2>/dev/null || echo default) ;;
      *) echo "unknown parameter $p"; exit 1 ;;
    esac
    echo "$p:$v"
  done ;;
set)
  while [ $# -ge 2 ]; do
    echo "$1 $2" >> "$dir/log"
    case $1 in
      power) echo "$2" > "$dir/power" ;;
      reset) echo 1 > "$dir/power" ;;
      shutdown) echo 0 > "$dir/power" ;;
      boot) echo "$2" > "$dir/boot" ;;
    esac
    shift 2
  done ;;
*) echo "unknown operation $op"; exit 1 ;;
esac
`;

/** A full sensor record (SDR type 1) for an analog temperature sensor #1 named "CPU Temp". */
const SDR =
  "00 00 51 01 33  20 00 01  03 01 67 68 01 01  00 00 00 00 00 00  00 01 00  00  01 00  00 00  00 00 00 00 00 00  ff 00  00 00 00 00 00 00  00 00  00 00  00  c8 43 50 55 20 54 65 6d 70"
    .split(/\s+/)
    .map((b) => `0x${b}`)
    .join(" ");

async function freeUdpPort(): Promise<number> {
  const s = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
  const p = s.port;
  s.close();
  return p;
}

describe.skipIf(skip)("power over IPMI (ipmitool against ipmi_sim)", () => {
  let dir: string;
  let cleanup: () => void;
  let sim: ReturnType<typeof Bun.spawn> | undefined;
  let serial: { port: number; stop(closeActive?: boolean): void } | undefined;
  let simDir: string;
  let port: number;
  const chassis = (f: string) => (existsSync(join(simDir, f)) ? readFileSync(join(simDir, f), "utf8").trim() : "");

  beforeAll(async () => {
    ({ dir, cleanup } = tempDir());
    simDir = join(dir, "bmc");
    mkdirSync(join(simDir, "state"), { recursive: true });
    port = await freeUdpPort();
    // The node's serial port, as ipmi_sim reaches it for Serial-over-LAN.
    const listener = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: { data: (sock, d) => void sock.write(`echo:${d.toString()}`) },
    });
    serial = listener;
    writeFileSync(join(simDir, "chassis.sh"), CHASSIS_SCRIPT);
    chmodSync(join(simDir, "chassis.sh"), 0o755);
    writeFileSync(join(simDir, "power"), "0\n");
    writeFileSync(
      join(simDir, "lan.conf"),
      `name "drover-test-bmc"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 ${port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "${join(simDir, "chassis.sh")} 0x20"
  sol "telnet:127.0.0.1:${listener.port}" 115200
  user 2 true "admin" "${PASSWORD}" admin 10 none md2 md5 straight
`,
    );
    writeFileSync(
      join(simDir, "sim.emu"),
      `mc_setbmc 0x20
mc_add 0x20 0 has-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
main_sdr_add 0x20 ${SDR}
sensor_add 0x20 0 1 0x01 0x01
sensor_set_value 0x20 0 1 42 0
mc_enable 0x20
`,
    );
    sim = Bun.spawn(["ipmi_sim", "-n", "-c", join(simDir, "lan.conf"), "-f", join(simDir, "sim.emu"), "-s", join(simDir, "state")], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    // ipmi_sim has no Get Channel Cipher Suites; ipmitool waits ~10 s for it unless told the suite (-C 3).
    // A template in the data dir says so, which is also how a site would handle such a BMC.
    mkdirSync(join(dir, "power"));
    writeFileSync(join(dir, "power", "sim.tmpl"), "base: ipmitool -I {{interface}} -H {{ipaddr}} [-p {{port}}] [-U {{username}}] -C 3 -E\n");
    const add = await drover(
      dir,
      "node",
      "add",
      "bmc1",
      "--ipmiaddr",
      "127.0.0.1",
      "--ipmiport",
      String(port),
      "--ipmiuser",
      "admin",
      "--ipmipass",
      PASSWORD,
      "--ipmitemplate",
      "sim",
      "--ipmiescapechar",
      "&",
    );
    expect(add.code).toBe(0);
    expect((await drover(dir, "node", "add", "plain", "--bmctype", "none")).code).toBe(0);
    // Wait until the simulator answers.
    for (let i = 0; i < 50; i++) {
      const r = await drover(dir, "power", "status", "bmc1", "--timeout", "2");
      if (r.code === 0) return;
      await Bun.sleep(100);
    }
    throw new Error(`ipmi_sim did not come up: ${sim.stderr ? await new Response(sim.stderr as ReadableStream).text() : ""}`);
  }, 60_000);

  afterAll(async () => {
    sim?.kill();
    await sim?.exited;
    serial?.stop(true);
    cleanup?.();
  }, 60_000);

  test("status, on, off and cycle change and report the simulated chassis", async () => {
    writeFileSync(join(simDir, "power"), "0\n");
    let r = await drover(dir, "power", "status", "bmc1");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/bmc1\s+ipmi\s+off\s+Chassis Power is off/);

    r = await drover(dir, "power", "on", "bmc1");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/bmc1\s+ipmi\s+ok\s+Chassis Power Control: Up\/On/);
    expect(chassis("power")).toBe("1");
    r = await drover(dir, "power", "status", "bmc1", "--json");
    expect(JSON.parse(r.out)[0]).toMatchObject({ node: "bmc1", ok: true, state: "on" });

    r = await drover(dir, "power", "off", "bmc1");
    expect(r.code).toBe(0);
    expect(chassis("power")).toBe("0");
    expect((await drover(dir, "power", "status", "bmc1")).out).toMatch(/bmc1\s+ipmi\s+off/);

    writeFileSync(join(simDir, "log"), "");
    writeFileSync(join(simDir, "power"), "1\n");
    r = await drover(dir, "power", "cycle", "bmc1");
    expect(r.code).toBe(0);
    // ipmi_sim powers off at once and back on after a moment, as a real chassis does.
    for (let i = 0; i < 50 && chassis("power") !== "1"; i++) await Bun.sleep(100);
    expect(chassis("log").split("\n")).toEqual(["power 0", "power 1"]);
    expect(chassis("power")).toBe("1");
  }, 60_000);

  test("reset and soft reach the chassis", async () => {
    writeFileSync(join(simDir, "log"), "");
    expect((await drover(dir, "power", "reset", "bmc1")).code).toBe(0);
    expect((await drover(dir, "power", "soft", "bmc1")).code).toBe(0);
    expect(chassis("log").split("\n")).toEqual(["reset 1", "shutdown 1"]);
    expect(chassis("power")).toBe("0");
  }, 60_000);

  test("cycle --pxe sets the boot device to PXE first", async () => {
    writeFileSync(join(simDir, "boot"), "default\n");
    writeFileSync(join(simDir, "log"), "");
    const r = await drover(dir, "power", "cycle", "bmc1", "--pxe");
    expect(r.code).toBe(0);
    expect(chassis("boot")).toBe("pxe");
    expect(chassis("log").split("\n")[0]).toBe("boot pxe");
  }, 60_000);

  test("--show prints the ipmitool command with the password masked, and runs nothing", async () => {
    writeFileSync(join(simDir, "log"), "");
    const r = await drover(dir, "power", "on", "bmc1", "--show");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`IPMI_PASSWORD=******** ipmitool -I lanplus -H 127.0.0.1 -p ${port} -U admin -C 3 -E chassis power on`);
    expect(r.out).not.toContain(PASSWORD);
    expect(chassis("log")).toBe("");
  }, 60_000);

  test("the built-in template works too (ipmitool probes cipher suites first, so this one is slow)", async () => {
    await drover(dir, "node", "unset", "bmc1", "--ipmitemplate");
    try {
      const r = await drover(dir, "power", "status", "bmc1");
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/bmc1\s+ipmi\s+(on|off)/);
    } finally {
      await drover(dir, "node", "set", "bmc1", "--ipmitemplate", "sim");
    }
  }, 60_000);

  test("a wrong password fails clearly, names the node, and is never printed", async () => {
    expect(await drover(dir, "node", "set", "bmc1", "--ipmipass", "wrong-Pass")).toMatchObject({ code: 0 });
    try {
      const r = await drover(dir, "power", "status", "bmc1", "plain");
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(/bmc1\s+ipmi\s+FAILED\s+BMC 127\.0\.0\.1 refused the session/);
      expect(r.out).toContain("--ipmipass");
      expect(r.out).toMatch(/plain\s+none\s+FAILED\s+node plain has BMC type 'none'/);
      expect(r.err).toContain("failed on 2 of 2 nodes: bmc1, plain");
      expect(r.out + r.err).not.toContain("wrong-Pass");
    } finally {
      await drover(dir, "node", "set", "bmc1", "--ipmipass", PASSWORD);
    }
  }, 60_000);

  test("node sensors lists the simulated temperature sensor", async () => {
    const r = await drover(dir, "node", "sensors", "bmc1");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/bmc1\s+CPU Temp\s+42\.000\s+degrees C\s+ok/);
  }, 60_000);

  test("node console opens Serial-over-LAN and the node's escape character ends it", async () => {
    const show = await drover(dir, "node", "console", "bmc1", "--show");
    expect(show.out).toContain("-e '&' sol activate");
    expect(show.out).not.toContain(PASSWORD);
    // The real executable on a real terminal: `script` gives the child drover a pseudo-terminal, as an
    // admin's shell would, and relays this test's pipe to it as keystrokes.
    if (!Bun.which("script")) return console.warn("console test skipped: needs script(1) (apt-get install bsdutils)");
    const cmdline = [process.execPath, join(REPO, "src/main.ts"), "--data-dir", dir, "node", "console", "bmc1"].map((w) => `'${w}'`).join(" ");
    const child = Bun.spawn(["script", "-q", "-e", "-c", cmdline, "/dev/null"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => child.kill(), 30_000);
    let out = "";
    const drain = async (s: ReadableStream<Uint8Array>) => {
      const r = s.getReader();
      for (let c = await r.read(); !c.done; c = await r.read()) out += new TextDecoder().decode(c.value);
    };
    const reader = Promise.all([drain(child.stdout as ReadableStream<Uint8Array>), drain(child.stderr as ReadableStream<Uint8Array>)]);
    try {
      for (let i = 0; i < 100 && !out.includes("SOL Session operational"); i++) await Bun.sleep(100);
      expect(out).toContain("[connecting to bmc1's console; leave with &.]");
      expect(out).toContain("SOL Session operational");
      // '~.' would not end it: this node's escape character is '&' (recognised at the start of a line).
      child.stdin.write("~.\r");
      await child.stdin.flush();
      await Bun.sleep(300);
      expect(out).not.toContain("terminated ipmitool");
      child.stdin.write("&.");
      await child.stdin.flush();
      const code = await child.exited;
      await reader;
      expect(code).toBe(0);
      expect(out).toContain("terminated ipmitool");
    } finally {
      clearTimeout(timer);
      child.kill();
    }
  }, 60_000);
});
