/**
 * Boot storms in a network lab, shared by bench/storm.ts and test/integration/storm-restart.test.ts:
 * a head-node namespace (drover, or dnsmasq + nginx) and one client namespace where bench/_storm-node.ts
 * plays every node. The nodes' addresses are 172.22.1.1 upwards in 172.22.0.0/16 (the head node is
 * 172.22.0.1), all on the client's one interface; the head node gets a permanent neighbour entry for
 * each, so thousands of nodes never overflow the kernel's (global) ARP table.
 *
 *   const s = await StormLab.create(1000);
 *   const data = prepareDataDir(join(work, "data"), work, s.nodes, { imageMiB: 64 });
 *   const d = await startDroverIn(s.lab, data, s.droverArgs());
 *   const run = await s.run({ mode: "full" }, (line) => console.log(line));
 *   await s.destroy();
 */
import { type Subprocess, spawnSync } from "bun";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { droverIn } from "./binary";
import { Lab, type LabClient } from "./netns";

export const STORM_SERVER = "172.22.0.1";
const ROOT = join(import.meta.dir, "../..");

export interface StormNode {
  name: string;
  mac: string;
  ip: string;
}

/** Node i (0-based): n0001 …, 52:54:5a:00:00:00 …, 172.22.1.1 … (250 per /24, from 172.22.1.0/24 up). */
export function stormNode(i: number, width = 4): StormNode {
  const h = (n: number) => n.toString(16).padStart(2, "0");
  return {
    name: `n${String(i + 1).padStart(width, "0")}`,
    mac: `52:54:5a:${h((i >> 16) & 255)}:${h((i >> 8) & 255)}:${h(i & 255)}`,
    ip: `172.22.${1 + Math.floor(i / 250)}.${(i % 250) + 1}`,
  };
}

export interface StormRecord {
  mac: string;
  ip: string;
  start: number;
  done?: number;
  stages: Record<string, number>;
  retries: Record<string, number>;
  bytes: number;
  status: Record<string, number>;
  acks: string[];
  error?: string;
}

export interface StormResult {
  nodes: number;
  booted: number;
  allBootedS: number | null;
  lastBootedS: number | null;
  seconds: number;
  link: { rxBytes: number; txBytes: number; meanRxBps: number; peakRxBps: number };
  dhcpSent: number;
  dhcpTimeouts: number;
  naks: number;
  tftpTimeouts: number;
  tftpErrors: number;
  http503: number;
  httpErrors: number;
  scriptRetries: number;
  firmwareRestarts: number;
  httpBytes: number;
  tftpBytes: number;
  records: StormRecord[];
}

export class StormLab {
  private constructor(
    readonly lab: Lab,
    readonly client: LabClient,
    readonly nodes: StormNode[],
  ) {}

  static async create(count: number): Promise<StormLab> {
    const lab = await Lab.create();
    try {
      const client = lab.addClient("sim");
      const nodes = Array.from({ length: count }, (_, i) => stormNode(i));
      // TCP congestion control cubic, as on a stock Debian head node, by route (a namespace may not change its
      // default away from the host's, which here may be bbr: under a 1,000-flow storm bbr's estimate collapses).
      lab.sh(
        lab.hn,
        `ip addr add ${STORM_SERVER}/16 dev br0 && ip route replace 172.22.0.0/16 dev br0 proto kernel scope link src ${STORM_SERVER} congctl cubic && sysctl -qw net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192`,
      );
      const clientMac = lab.sh(client.ns, `cat /sys/class/net/${client.ifname}/address`).trim();
      // Every node's address on the client interface, a permanent neighbour entry for it on the head node.
      const batch = (ns: string, lines: string[]) => {
        const r = lab.run(ns, ["ip", "-batch", "-"], { stdin: `${lines.join("\n")}\n`, timeoutMs: 120_000 });
        if (r.code !== 0) throw new Error(`ip -batch in ${ns}: ${r.err}`);
      };
      batch(client.ns, ["addr add 172.22.0.2/16 dev eth0", ...nodes.map((n) => `addr add ${n.ip}/16 dev eth0`)]);
      batch(
        lab.hn,
        nodes.map((n) => `neigh replace ${n.ip} lladdr ${clientMac} dev br0 nud permanent`),
      );
      lab.sh(
        client.ns,
        `ip neigh replace ${STORM_SERVER} lladdr $(ip netns exec ${lab.hn} cat /sys/class/net/br0/address) dev eth0 nud permanent && ip route replace 172.22.0.0/16 dev eth0 proto kernel scope link src 172.22.0.2 congctl cubic && sysctl -qw net.ipv4.ip_local_port_range="10000 65000"`,
      );
      return new StormLab(lab, client, nodes);
    } catch (e) {
      await lab.destroy();
      throw e;
    }
  }

  /** `drover serve` arguments for this lab (DHCP on br0, the embedded iPXE binaries over TFTP). */
  droverArgs(extra: string[] = []): string[] {
    return ["-i", "br0", "--server-ip", STORM_SERVER, "--no-ipv6-ra", "--port", "9873", ...extra];
  }

  /** Runs the simulator over `nodes` (default all) and returns its result; `onLine` sees every line it prints. */
  async run(o: {
    mode: "full" | "script";
    nodes?: StormNode[];
    spreadMs?: number;
    deadlineMs?: number;
    heartbeats?: number;
    heartbeatMs?: number;
    work: string;
    onLine?: (l: string) => void;
    onStart?: (p: Subprocess) => void;
  }): Promise<StormResult> {
    const nodes = o.nodes ?? this.nodes;
    mkdirSync(o.work, { recursive: true });
    const specPath = join(o.work, "storm-spec.json");
    const out = join(o.work, "storm-nodes.jsonl");
    writeFileSync(
      specPath,
      JSON.stringify({
        iface: this.client.ifname,
        nodes: nodes.map((n) => ({ mac: n.mac, ip: n.ip })),
        mode: o.mode,
        arch: 7,
        spreadMs: o.spreadMs ?? 1000,
        deadlineMs: o.deadlineMs ?? 900_000,
        heartbeats: o.heartbeats ?? 1,
        heartbeatMs: o.heartbeatMs ?? 1000,
        out,
        progressMs: 5000,
      }),
    );
    const p = this.lab.spawn(this.client.ns, ["sh", "-c", `ulimit -n 65536; exec "$0" "$@"`, process.execPath, join(ROOT, "bench/_storm-node.ts"), specPath], {
      stdout: "pipe",
      stderr: "pipe",
    });
    o.onStart?.(p);
    let result: Omit<StormResult, "records"> | undefined;
    let err = "";
    const chunks = async function* (s: ReadableStream<Uint8Array>) {
      const r = s.getReader();
      for (let c = await r.read(); !c.done; c = await r.read()) yield c.value;
    };
    const errPump = (async () => {
      for await (const c of chunks(p.stderr as ReadableStream<Uint8Array>)) err += new TextDecoder().decode(c);
    })();
    let buf = "";
    for await (const c of chunks(p.stdout as ReadableStream<Uint8Array>)) {
      buf += new TextDecoder().decode(c);
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith("result ")) result = JSON.parse(line.slice(7));
        o.onLine?.(line);
      }
    }
    await p.exited;
    await errPump;
    if (!result) throw new Error(`the storm simulator ended (${p.exitCode}) without a result:\n${err.slice(-3000)}`);
    const records = readFileSync(out, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as StormRecord);
    return { ...result, records };
  }

  async destroy() {
    await this.lab.destroy();
  }
}

/**
 * A data dir with one image of about `imageMiB` MiB (incompressible payload, busybox, a stand-in 8 MiB
 * kernel file: nothing here runs it) and `nodes` imported with the CLI (`drover node import`: MAC and address
 * per node). Returns `dir`.
 */
export function prepareDataDir(dir: string, work: string, nodes: StormNode[], o: { imageMiB: number }): string {
  const drover = droverIn(dir);
  const rootfs = join(work, `rootfs-${o.imageMiB}`);
  if (!safeExists(join(rootfs, "bin/sh"))) {
    rmSync(rootfs, { recursive: true, force: true });
    mkdirSync(join(rootfs, "boot"), { recursive: true });
    mkdirSync(join(rootfs, "bin"));
    mkdirSync(join(rootfs, "data"));
    const payload = Math.max(1, o.imageMiB - 1);
    must([
      "sh",
      "-c",
      `head -c ${payload * 1048576} /dev/urandom > ${rootfs}/data/payload && head -c ${8 * 1048576} /dev/urandom > ${rootfs}/boot/vmlinuz-6.1.0-storm && cp /bin/busybox ${rootfs}/bin/sh`,
    ]);
  }
  drover("image", "import", rootfs, "storm");
  const yaml = ["nodes:"];
  for (const n of nodes)
    yaml.push(
      `  ${n.name}:`,
      "    profiles: [default]",
      "    image name: storm",
      "    network devices:",
      "      default:",
      `        hwaddr: ${n.mac}`,
      `        ipaddr: ${n.ip}`,
      "        netmask: 255.255.0.0",
    );
  const file = join(work, `nodes-${nodes.length}.yaml`);
  writeFileSync(file, `${yaml.join("\n")}\n`);
  drover("node", "import", file);
  return dir;
}

function safeExists(p: string) {
  try {
    readdirSync(join(p, ".."));
    return readFileSync(p).length > 0;
  } catch {
    return false;
  }
}

function must(cmd: string[]) {
  const r = spawnSync(cmd, { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
}

/** The p-quantile of xs (nearest rank), NaN when empty. */
export function quantile(xs: number[], p: number): number {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

/** CPU seconds and peak RSS of a process tree, sampled from /proc (children that already exited count via cutime). */
export class TreeSampler {
  private peakRss = 0;
  private cpu = new Map<number, number>();
  private base = new Map<number, number>();
  private timer: Timer;
  constructor(private readonly pids: number[]) {
    this.sample();
    // CPU spent before the storm (start-up, warming the node cache) is not the storm's.
    this.base = new Map(this.cpu);
    this.timer = setInterval(() => this.sample(), 500);
  }
  private sample() {
    const kids = new Map<number, number[]>();
    const stats = new Map<number, string[]>();
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const s = readFileSync(`/proc/${d}/stat`, "utf8");
        const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
        stats.set(Number(d), f);
        const pp = Number(f[1]);
        kids.set(pp, [...(kids.get(pp) ?? []), Number(d)]);
      } catch {}
    }
    let rss = 0;
    const walk = (pid: number) => {
      const f = stats.get(pid);
      if (f) {
        rss += Number(f[21]) * 4096;
        this.cpu.set(pid, (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100);
      }
      for (const k of kids.get(pid) ?? []) walk(k);
    };
    for (const p of this.pids) walk(p);
    this.peakRss = Math.max(this.peakRss, rss);
  }
  /** Stops sampling: CPU seconds (user + system) of the whole tree, peak RSS (sum over the tree) in MB. */
  stop(): { cpuS: number; peakRssMb: number } {
    this.sample();
    clearInterval(this.timer);
    let cpuS = 0;
    for (const [pid, c] of this.cpu) cpuS += c - (this.base.get(pid) ?? 0);
    return { cpuS, peakRssMb: this.peakRss / 1e6 };
  }
}

/** VmHWM of a process in MB (its own peak RSS, kernel-kept), NaN when it is gone. */
export function vmHwmMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? (Number(m[1]) * 1024) / 1e6 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
