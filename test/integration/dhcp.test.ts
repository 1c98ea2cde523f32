/**
 * drover's DHCP server against real clients in network namespaces: busybox udhcpc (BIOS, UEFI, iPXE user
 * class), ISC dhclient, a relayed client through ISC dhcrelay in a router namespace, a head node with two
 * interfaces, and ProxyDHCP next to dnsmasq. The server runs as bench/_dhcp-server.ts inside the head-node
 * namespace; every packet stays inside namespaces this file creates.
 *
 * Needs root and: iproute2 busybox-static (or udhcpc) isc-dhcp-client isc-dhcp-relay dnsmasq-base.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab, type LabClient } from "../helpers/netns";

const ROOT = join(import.meta.dir, "../..");
const need: Array<[string, string]> = [
  ["udhcpc", "udhcpc"],
  ["dhclient", "isc-dhcp-client"],
  ["dhcrelay", "isc-dhcp-relay"],
  ["dnsmasq", "dnsmasq-base"],
];
const missing = need.filter(([bin]) => spawnSync(["sh", "-c", `command -v ${bin} || test -x /usr/sbin/${bin}`]).exitCode !== 0).map(([, pkg]) => pkg);
const skipWhy = Lab.unavailable() ?? (missing.length ? `needs Debian packages: apt-get install ${missing.join(" ")}` : undefined);
if (skipWhy) console.warn(`skipping DHCP integration tests: ${skipWhy}`);

let tmp = "";
const extraNs: string[] = [];

/** A server process inside a namespace, with its stdout lines collected. */
class Drover {
  lines: string[] = [];
  err = "";
  constructor(readonly proc: ReturnType<Lab["spawn"]>) {
    const read = async (s: ReadableStream<Uint8Array>, into: (t: string) => void) => {
      const dec = new TextDecoder();
      const reader = s.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        into(dec.decode(value));
      }
    };
    let buf = "";
    read(proc.stdout as ReadableStream<Uint8Array>, (t) => {
      buf += t;
      const parts = buf.split("\n");
      buf = parts.pop()!;
      this.lines.push(...parts);
    });
    read(proc.stderr as ReadableStream<Uint8Array>, (t) => (this.err += t));
  }
  async ready() {
    for (let i = 0; i < 200; i++) {
      if (this.lines.includes("ready")) return;
      if (this.proc.exitCode !== null) break;
      await Bun.sleep(50);
    }
    throw new Error(`DHCP server did not start: ${this.err}`);
  }
  async stop() {
    this.proc.kill("SIGTERM");
    await this.proc.exited;
    await Bun.sleep(50);
    const line = this.lines.find((l) => l.startsWith("stats "));
    return line ? JSON.parse(line.slice(6)) : undefined;
  }
  events() {
    return this.lines.filter((l) => l.startsWith("event ")).map((l) => JSON.parse(l.slice(6)));
  }
}

function startDrover(lab: Lab, spec: object, ns = lab.hn) {
  const file = join(tmp, `spec-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(spec));
  return new Drover(lab.spawn(ns, [process.execPath, join(ROOT, "bench/_dhcp-server.ts"), file], { env: { DHCP_DEBUG: "1" } }));
}

/** udhcpc hook: prints what it was given, and configures the address when asked to. */
function udhcpcScript(configure: boolean) {
  const f = join(tmp, `udhcpc-${configure}.sh`);
  writeFileSync(
    f,
    `#!/bin/sh\n[ "$1" = bound ] || exit 0\necho "BOUND ip=$ip siaddr=$siaddr boot_file=$boot_file mask=$subnet router=$router serverid=$serverid"\n${configure ? 'ip addr add "$ip/$mask" dev "$interface"\n' : ""}`,
  );
  chmodSync(f, 0o755);
  return f;
}

function udhcpc(lab: Lab, c: LabClient, extra: string[], configure = false) {
  const r = lab.run(c.ns, ["udhcpc", "-f", "-q", "-n", "-t", "4", "-T", "2", "-i", c.ifname, "-s", udhcpcScript(configure), ...extra], { timeoutMs: 30_000 });
  const m = /BOUND (.*)/.exec(r.out);
  if (!m) return undefined;
  return Object.fromEntries(m[1]!.split(" ").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
}

/** A namespace attached by a veth to a bridge (or device) in the head node that Lab.addClient does not cover. */
function attach(lab: Lab, name: string, hnSide: (hostIf: string) => string, mac: string): LabClient {
  const ns = `dv${lab.id}${name}`.slice(0, 15);
  must(["ip", "netns", "add", ns]);
  extraNs.push(ns);
  const h = `x${lab.id}${name}`.slice(0, 15);
  const p = `y${lab.id}${name}`.slice(0, 15);
  must(["ip", "link", "add", h, "type", "veth", "peer", "name", p]);
  must(["ip", "link", "set", h, "netns", lab.hn]);
  must(["ip", "link", "set", p, "netns", ns]);
  lab.sh(lab.hn, hnSide(h));
  lab.sh(ns, `ip link set lo up && ip link set ${p} name eth0 && ip link set eth0 address ${mac} && ip link set eth0 up`);
  return { ns, ifname: "eth0", mac };
}

function must(cmd: string[]) {
  const r = spawnSync(cmd);
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
}

const M_BIOS = "52:54:00:d0:00:01";
const M_UEFI = "52:54:00:d0:00:02";
const M_DHCL = "52:54:00:d0:00:03";
const M_RELAY = "52:54:00:d0:00:04";
const M_IF2 = "52:54:00:d0:00:05";

describe.skipIf(!!skipWhy)("drover DHCP with real clients", () => {
  let lab: Lab;
  let net: string; // e.g. 10.213.77
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "drover-dhcp-"));
    lab = await Lab.create();
    net = lab.subnet;
  });
  afterAll(async () => {
    await lab?.destroy();
    for (const ns of extraNs) spawnSync(["ip", "netns", "del", ns]);
    rmSync(tmp, { recursive: true, force: true });
  });

  const node = (n: number, ip: string, mask = "255.255.255.0", gateway?: string) => ({ node: `n${n}`, ip, netmask: mask, gateway, hostname: `n${n}` });

  test("authoritative: udhcpc BIOS/UEFI/iPXE and dhclient get the reservation, next-server and boot file; relayed and second-interface clients too", async () => {
    // Relay topology: router namespace rt between br0 and a client-only link 10.199.X.0/24.
    const x = net.split(".")[2];
    const far = `10.199.${x}`;
    const second = `10.198.${x}`;
    const rt = attach(lab, "rt", (h) => `ip link set ${h} master br0 && ip link set ${h} up`, "52:54:00:d0:00:fe");
    lab.sh(rt.ns, `ip addr add ${net}.254/24 dev eth0`);
    const relayed = attach(lab, "rc", () => "true", M_RELAY);
    // Move the relayed client's veth peer from hn into rt: it hangs off the router, not the head node.
    const hSide = `x${lab.id}rc`.slice(0, 15);
    lab.sh(lab.hn, `ip link set ${hSide} netns ${rt.ns}`);
    lab.sh(rt.ns, `ip link set ${hSide} name down0 && ip addr add ${far}.1/24 dev down0 && ip link set down0 up && sysctl -qw net.ipv4.ip_forward=1`);
    lab.sh(lab.hn, `ip route add ${far}.0/24 via ${net}.254`);
    // Second head-node interface: bridge br1 with its own subnet and client.
    lab.sh(
      lab.hn,
      `ip link add br1 type bridge && ip link set br1 type bridge forward_delay 0 stp_state 0 && ip addr add ${second}.1/24 dev br1 && ip link set br1 up`,
    );
    const c2 = attach(lab, "c2", (h) => `ip link set ${h} master br1 && ip link set ${h} up`, M_IF2);

    const cBios = lab.addClient("bios", M_BIOS);
    const cUefi = lab.addClient("uefi", M_UEFI);
    const cDhcl = lab.addClient("dhcl", M_DHCL);
    const srv = startDrover(lab, {
      config: {
        interfaces: [
          {
            name: "br0",
            mode: "authoritative",
            serverIp: lab.serverIp,
            subnets: [
              { network: `${net}.0`, netmask: "255.255.255.0", router: lab.serverIp },
              { network: `${far}.0`, netmask: "255.255.255.0", router: `${far}.1` },
            ],
          },
          { name: "br1", mode: "authoritative", serverIp: `${second}.1`, subnets: [{ network: `${second}.0`, netmask: "255.255.255.0" }] },
        ],
        httpPort: 9873,
      },
      nodes: {
        [M_BIOS]: node(1, `${net}.11`, "255.255.255.0", lab.serverIp),
        [M_UEFI]: node(2, `${net}.12`),
        [M_DHCL]: node(3, `${net}.13`),
        [M_RELAY]: node(4, `${far}.14`, "255.255.255.0", `${far}.1`),
        [M_IF2]: node(5, `${second}.15`),
      },
    });
    await srv.ready();
    // The head node has no default route: an unbound broadcast reply would fail with ENETUNREACH.
    expect(lab.run(lab.hn, ["ip", "route", "show", "default"]).out.trim()).toBe("");

    const bios = udhcpc(lab, cBios, ["-V", "PXEClient:Arch:00000:UNDI:002001", "-x", "0x5d:0000"]);
    expect(bios).toMatchObject({ ip: `${net}.11`, siaddr: lab.serverIp, boot_file: "undionly.kpxe", router: lab.serverIp, serverid: lab.serverIp });

    const uefi = udhcpc(lab, cUefi, ["-V", "PXEClient:Arch:00007:UNDI:003016", "-x", "0x5d:0007"]);
    expect(uefi).toMatchObject({ ip: `${net}.12`, siaddr: lab.serverIp, boot_file: "snponly.efi" });

    // The same MAC, now running iPXE (user class "iPXE" in hex), gets the script URL and the same address.
    const ipxe = udhcpc(lab, cUefi, ["-V", "PXEClient:Arch:00007:UNDI:003016", "-x", "0x5d:0007", "-x", "0x4d:69505845"]);
    expect(ipxe).toMatchObject({ ip: `${net}.12`, boot_file: `http://${lab.serverIp}:9873/ipxe/\${mac:hexhyp}?assetkey=\${asset}&uuid=\${uuid}` });

    // ISC dhclient with PXE options in its configuration.
    const out = join(tmp, "dhclient.out");
    const script = join(tmp, "dhclient.sh");
    writeFileSync(script, `#!/bin/sh\necho "$reason ip=$new_ip_address next=$new_next_server file=$new_filename mask=$new_subnet_mask" >> ${out}\n`);
    chmodSync(script, 0o755);
    const conf = join(tmp, "dhclient.conf");
    writeFileSync(
      conf,
      'option arch code 93 = unsigned integer 16;\nsend arch 7;\nsend vendor-class-identifier "PXEClient:Arch:00007:UNDI:003016";\nrequest subnet-mask, routers, host-name;\n',
    );
    const dh = lab.spawn(cDhcl.ns, [
      "dhclient",
      "-4",
      "-d",
      "-1",
      "-v",
      "-sf",
      script,
      "-cf",
      conf,
      "-lf",
      join(tmp, "dhclient.leases"),
      "-pf",
      join(tmp, "dhclient.pid"),
      cDhcl.ifname,
    ]);
    let bound = "";
    for (let i = 0; i < 150 && !bound; i++) {
      await Bun.sleep(100);
      try {
        bound =
          readFileSync(out, "utf8")
            .split("\n")
            .find((l) => l.startsWith("BOUND")) ?? "";
      } catch {}
    }
    dh.kill("SIGTERM");
    expect(bound).toBe(`BOUND ip=${net}.13 next=${lab.serverIp} file=snponly.efi mask=255.255.255.0`);

    // Relayed: dhcrelay in rt forwards with giaddr = its down0 address; drover answers the relay.
    const relay = lab.spawn(rt.ns, ["dhcrelay", "-4", "-d", "-id", "down0", "-iu", "eth0", lab.serverIp]);
    await Bun.sleep(500);
    const rel = udhcpc(lab, relayed, ["-V", "PXEClient:Arch:00007:UNDI:003016", "-x", "0x5d:0007"]);
    relay.kill("SIGTERM");
    expect(rel).toMatchObject({ ip: `${far}.14`, siaddr: lab.serverIp, boot_file: "snponly.efi", router: `${far}.1`, serverid: lab.serverIp });

    // Second interface: the request arrives on br1 and the reply leaves by br1, from br1's subnet.
    const if2 = udhcpc(lab, c2, ["-V", "PXEClient:Arch:00000:UNDI:002001", "-x", "0x5d:0000"]);
    expect(if2).toMatchObject({ ip: `${second}.15`, siaddr: `${second}.1`, serverid: `${second}.1`, boot_file: "undionly.kpxe" });

    const stats = await srv.stop();
    const acked = new Set(srv.events().map((e: { mac: string; address: string }) => `${e.mac} ${e.address}`));
    expect(acked).toEqual(new Set([`${M_BIOS} ${net}.11`, `${M_UEFI} ${net}.12`, `${M_DHCL} ${net}.13`, `${M_RELAY} ${far}.14`, `${M_IF2} ${second}.15`]));
    expect(stats.dropped["send-failed"]).toBeUndefined();
    expect(stats.dropped["wrong-subnet"]).toBeUndefined();
  }, 120_000);

  test("proxy: the client's address comes from dnsmasq, its boot information from drover (67 and 4011)", async () => {
    const dq = lab.addClient("dq");
    lab.sh(dq.ns, `ip addr add ${lab.subnet}.2/24 dev ${dq.ifname}`);
    const dns = lab.spawn(dq.ns, [
      "dnsmasq",
      "-d",
      "-C",
      "/dev/null",
      "--port=0",
      "--user=root",
      "--group=root",
      "--pid-file=",
      `--interface=${dq.ifname}`,
      `--dhcp-range=${lab.subnet}.100,${lab.subnet}.150,255.255.255.0,10m`,
      "--no-ping",
      "--leasefile-ro",
      "--log-dhcp",
    ]);
    const srv = startDrover(lab, {
      config: { interfaces: [{ name: "br0", mode: "proxy", serverIp: lab.serverIp, subnets: [] }], httpPort: 9873, discovery: true },
    });
    await srv.ready();
    await Bun.sleep(500);
    const c = lab.addClient("px", "52:54:00:d0:00:10");
    // A plain DHCP client: dnsmasq answers, drover stays silent (never an address in proxy mode).
    const plain = udhcpc(lab, c, [], true);
    expect(plain?.ip).toMatch(new RegExp(`^${lab.subnet.replaceAll(".", "\\.")}\\.1[0-5]\\d$`));
    expect(plain?.serverid).toBe(`${lab.subnet}.2`);
    // A PXE ROM: offers from both servers, then the 4011 exchange with drover.
    const r = lab.run(c.ns, [process.execPath, join(ROOT, "bench/_dhcp-client.ts"), "pxe", c.ifname, c.mac, "7"], { timeoutMs: 20_000 });
    const offers = r.out
      .split("\n")
      .filter((l) => l.startsWith("offer "))
      .map((l) => JSON.parse(l.slice(6)));
    const fromDnsmasq = offers.find((o) => o.server === `${lab.subnet}.2`);
    const fromDrover = offers.find((o) => o.server === lab.serverIp);
    expect(fromDnsmasq?.yiaddr).toMatch(/\.1[0-5]\d$/);
    expect(fromDrover).toMatchObject({ yiaddr: "0.0.0.0", siaddr: lab.serverIp, file: "snponly.efi", vendorClass: "PXEClient" });
    const ack = r.out.split("\n").find((l) => l.startsWith("ack "));
    expect(ack && JSON.parse(ack.slice(4))).toMatchObject({ type: 5, server: lab.serverIp, yiaddr: "0.0.0.0", file: "snponly.efi" });
    const stats = await srv.stop();
    dns.kill("SIGTERM");
    expect(stats.dropped["not-pxe"]).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
