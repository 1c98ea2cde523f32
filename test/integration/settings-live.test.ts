/**
 * Settings changed on a running `drover serve` take effect without a restart: the server (src/main.ts,
 * in its own process inside a lab namespace) starts with DHCP off; PATCH /api/v1/settings turns
 * authoritative DHCP on for br0 and a real client (busybox udhcpc) gets its reserved address; discovery
 * turned on registers an unknown MAC; a change naming a missing interface is refused, and a change whose
 * sockets cannot open (the ProxyDHCP port held by another process) is rolled back, with the old DHCP server
 * answering throughout. The API is reached with curl inside the namespace, with an API token.
 *
 * Needs root, iproute2, busybox udhcpc and curl.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createServices } from "../../src/app";
import { tempDir } from "../helpers/cli";
import { type DroverProcess, startDroverIn } from "../helpers/drover-server";
import { Lab, type LabClient } from "../helpers/netns";

const missing = ["udhcpc", "curl"].filter((b) => spawnSync(["sh", "-c", `command -v ${b} || test -x /usr/sbin/${b}`]).exitCode !== 0);
const why = Lab.unavailable() ?? (missing.length ? `needs ${missing.join(", ")} (apt-get install busybox curl)` : undefined);
if (why) console.warn(`skipping the live settings tests: ${why}`);

describe.skipIf(!!why)("settings changed while drover serve runs", () => {
  let lab: Lab;
  const t = tempDir("drover-settings-");
  const dataDir = join(t.dir, "data");
  let server: DroverProcess;
  let token = "";
  let known: LabClient;
  let stranger: LabClient;
  const port = 9873;

  beforeAll(async () => {
    lab = await Lab.create();
    known = lab.addClient("k");
    stranger = lab.addClient("s");
    const svc = createServices(dataDir);
    await svc.auth.setPassword("admin", "integration-test-password");
    token = svc.auth.createToken("settings-test").token;
    svc.nodes.addNodes(["n1"], { set: { networkDevices: { default: { hwaddr: known.mac, ipaddr: `${lab.subnet}.10`, netmask: "255.255.255.0" } } } });
    svc.close();
    server = await startDroverIn(lab, dataDir, ["--port", String(port), "--no-tftp"], undefined, { fromSource: true });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await lab?.destroy();
    t.cleanup();
  });

  /** A request to the API from inside the head node's namespace. */
  const api = (method: string, path: string, body?: unknown) => {
    const r = lab.run(lab.hn, [
      "curl",
      "-s",
      "-X",
      method,
      "-H",
      `authorization: Bearer ${token}`,
      "-H",
      "content-type: application/json",
      ...(body ? ["-d", JSON.stringify(body)] : []),
      "-w",
      "\n%{http_code}",
      `http://127.0.0.1:${port}/api/v1${path}`,
    ]);
    const lines = r.out.trimEnd().split("\n");
    const status = Number(lines.pop());
    return { status, body: JSON.parse(lines.join("\n") || "null") };
  };

  const hook = join(t.dir, "udhcpc.sh");
  writeFileSync(hook, '#!/bin/sh\n[ "$1" = bound ] && echo "BOUND $ip"\nexit 0\n');
  chmodSync(hook, 0o755);
  /** The address a DHCP client in `c` is offered (not configured on its interface), or undefined. */
  const lease = (c: LabClient, tries = 4) =>
    /BOUND (\S+)/.exec(lab.run(c.ns, ["udhcpc", "-f", "-q", "-n", "-t", String(tries), "-T", "2", "-i", c.ifname, "-s", hook], { timeoutMs: 30_000 }).out)?.[1];

  test("DHCP off at start: nobody answers", () => {
    expect(api("GET", "/settings").body.dhcp.mode).toBe("off");
    expect(lease(known, 2)).toBeUndefined();
  }, 30_000);

  test("PATCH to authoritative on br0: the known client gets its reserved address, no restart", async () => {
    const r = api("PATCH", "/settings", { dhcpMode: "authoritative", interfaces: ["br0"] });
    expect(r.status).toBe(200);
    expect(r.body.dhcp.interfaces.map((i: { name: string }) => i.name)).toEqual(["br0"]);
    expect(lease(known)).toBe(`${lab.subnet}.10`);
    // (spawnSync above blocked this process's event loop, so the server's log is read after it.)
    await server.waitForLog(/drover: settings changed by admin: dhcpMode: \(default\) → authoritative; interfaces: \(default\) → \[br0\]/, 5000);
    expect(server.log()).toContain("drover: DHCP (authoritative) on br0:67");
    expect(server.log().match(/drover: HTTP on/g)).toHaveLength(1);
  }, 40_000);

  test("discovery turned on: an unknown MAC is registered as a new node with an address of the range", () => {
    expect(lease(stranger, 2)).toBeUndefined();
    const r = api("PATCH", "/settings", { discovery: true, registerPattern: "found[01-09]", registerRange: `${lab.subnet}.50-${lab.subnet}.59` });
    expect(r.status).toBe(200);
    expect(lease(stranger)).toBe(`${lab.subnet}.50`);
    const node = api("GET", "/nodes/found01");
    expect(node.status).toBe(200);
    expect(node.body.conf.networkDevices.default.hwaddr).toBe(stranger.mac);
  }, 60_000);

  test("a change naming a missing interface is refused; the running DHCP server keeps answering", () => {
    const r = api("PATCH", "/settings", { interfaces: ["nosuch0"] });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/^interfaces: --interface nosuch0: no such interface/);
    expect(api("GET", "/settings").body.dhcp.interfaces[0].name).toBe("br0");
    expect(lease(known)).toBe(`${lab.subnet}.10`);
  }, 40_000);

  test("a change whose sockets cannot open is rolled back: the old server answers, nothing is saved", async () => {
    // Another process holds the ProxyDHCP port without SO_REUSEADDR, so proxy mode cannot start.
    const blocker = lab.spawn(
      lab.hn,
      [process.execPath, "-e", "const s=require('node:dgram').createSocket('udp4');s.bind(4011,'0.0.0.0',()=>console.log('bound'));setInterval(()=>{},1e6)"],
      { stdout: "pipe" },
    );
    const reader = (blocker.stdout as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("bound");
    try {
      const r = api("PATCH", "/settings", { dhcpMode: "proxy" });
      expect(r.status).toBe(409);
      expect(r.body.error).toContain("EADDRINUSE");
      expect(r.body.error).toContain("previous settings stay in effect");
      const g = api("GET", "/settings").body;
      expect(g.dhcp.mode).toBe("authoritative");
      expect(g.fields.dhcpMode.value).toBe("authoritative");
      expect(lease(known)).toBe(`${lab.subnet}.10`);
    } finally {
      blocker.kill("SIGTERM");
      await blocker.exited;
    }
  }, 40_000);

  test("the saved settings apply at the next start", async () => {
    await server.stop();
    server = await startDroverIn(lab, dataDir, ["--port", String(port), "--no-tftp"], undefined, { fromSource: true });
    expect(server.log()).toContain("drover: DHCP (authoritative) on br0:67, discovery on");
    // A flag on the command line wins over the saved value, and the page says so.
    await server.stop();
    server = await startDroverIn(lab, dataDir, ["--port", String(port), "--no-tftp", "--dhcp", "off"], undefined, { fromSource: true });
    const g = api("GET", "/settings").body;
    expect(g.dhcp.mode).toBe("off");
    expect(g.fields.dhcpMode).toMatchObject({ source: "command line", editable: "command line" });
    expect(api("PATCH", "/settings", { dhcpMode: "authoritative" }).status).toBe(409);
  }, 60_000);
});
