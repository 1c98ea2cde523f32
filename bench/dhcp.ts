/**
 * DHCP throughput and latency, drover vs dnsmasq, in one run: relayed clients, every exchange a full DORA
 * (DISCOVER → OFFER → REQUEST → ACK), over a veth/bridge between two namespaces (nothing leaves the lab).
 *
 * Closed loop (the headline): bench/_dhcp-client.ts `loop` acts as a relay agent (giaddr = its address,
 * source port 67) with CLIENTS distinct MACs, keeping a fixed number of exchanges in flight (8, 32, 128);
 * it reports leases/s and the DORA latency p50/p99 (first DISCOVER sent → ACK received). Every figure
 * comes from a fresh set of MACs, so every exchange makes a new lease.
 *
 * Setups (SETUPS, comma-separated):
 *   drover-pool   `drover serve` from source, a data dir on disk, --discovery with a pool for the relay
 *                 subnet: unknown MACs get pool leases, every one persisted in SQLite before its ACK.
 *   drover-nodes  the same server with CLIENTS × (number of concurrencies) registered nodes, discovery off:
 *                 every client is a reservation; leases persisted too.
 *   drover-pool-fsync  drover-pool with `--lease-sync full`: every group commit fsync'd before its ACKs
 *                 (synchronous = FULL), so an ACKed lease survives a power cut, as dnsmasq's fsync'd lease
 *                 file does. Not in the default set.
 *   dnsmasq       `--no-ping` with its lease file (it rewrites the whole file and fsyncs it on every lease
 *                 change: lease.c lease_update_file).
 *   dnsmasq-ro    `--no-ping --leasefile-ro`: memory only, dnsmasq's fastest mode.
 * Then, unless OPENLOOP=0, perfdhcp (kea-admin) open loop at RATE/s for drover-pool and dnsmasq-ro: both
 * drop most of the offered load there, so that figure measures overload behaviour, not throughput.
 *
 *   sudo bun bench/dhcp.ts            (needs root, dnsmasq; perfdhcp for the open-loop part)
 *   CLIENTS=5000 INFLIGHT=8,32,128 SETUPS=drover-pool,dnsmasq-ro OPENLOOP=0 ROUNDS=3 sudo bun bench/dhcp.ts
 * The load average is printed with every figure: the 2 cores are shared.
 */
import { spawnSync } from "bun";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createServices } from "../src/app";
import type { Conf } from "../src/domain/conf";
import { formatIPv4, parseIPv4 } from "../src/domain/net";
import { Lab } from "../test/helpers/netns";

const CLIENTS = Number(process.env.CLIENTS ?? 5000);
const INFLIGHT = (process.env.INFLIGHT ?? "8,32,128").split(",").map(Number);
const SETUPS = (process.env.SETUPS ?? "drover-pool,drover-nodes,dnsmasq,dnsmasq-ro").split(",");
const OPENLOOP = process.env.OPENLOOP !== "0";
const RATE = Number(process.env.RATE ?? 20000);
/** Rounds of every setup, one after the other (so each round sees the same machine); medians reported. */
const ROUNDS = Number(process.env.ROUNDS ?? 1);
const root = join(import.meta.dir, "..");

const have = (cmd: string) => spawnSync(["sh", "-c", `command -v ${cmd}`]).exitCode === 0;
const why = Lab.unavailable() ?? (have("dnsmasq") ? undefined : "needs dnsmasq (apt-get install dnsmasq-base)");
if (why) {
  console.log(`dhcp bench skipped: ${why}`);
  process.exit(0);
}

const SERVER = "172.20.0.1";
const RELAY = "172.20.0.2";
const POOL = { start: "172.20.1.0", end: "172.20.255.254" };
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

interface LoopResult {
  clients: number;
  inflight: number;
  leases: number;
  failed: number;
  naks: number;
  retries: number;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
  max: number;
}
interface Row extends LoopResult {
  setup: string;
  load: string;
  rssMb: number;
  /** Server CPU time (user + system) per lease, µs: the figure least moved by other load. */
  cpuUs: number;
}

let macSeq = 0;
const lab = await Lab.create();
const tmp = mkdtempSync(join(tmpdir(), "drover-dhcpbench-"));
const rows: Row[] = [];
const openRows: string[] = [];
try {
  lab.sh(lab.hn, `ip addr add ${SERVER}/16 dev br0`);
  const pc = lab.addClient("perf");
  lab.sh(pc.ns, `ip addr add ${RELAY}/16 dev ${pc.ifname}`);
  for (let round = 0; round < ROUNDS; round++)
    for (const setup of SETUPS) {
      // Every run starts a fresh server (dnsmasq's cost per lease grows with the leases it holds, so runs
      // must not inherit each other's) and uses MACs no server has seen: a base (3 bytes; the client adds 3)
      // per run and one for its start-up probe, known up front so drover-nodes can register them all.
      const bases = INFLIGHT.map(() => nextBase());
      const probes = INFLIGHT.map(() => nextBase());
      const template = join(tmp, `${setup}-r${round}-template`);
      if (setup === "drover-nodes") registerNodes(template, bases, probes);
      for (const [k, inflight] of INFLIGHT.entries()) {
        const dir = join(tmp, `${setup}-r${round}-${inflight}`);
        if (setup === "drover-nodes") cpSync(template, dir, { recursive: true });
        const proc = lab.spawn(lab.hn, serverCommand(setup, dir), { stdout: "ignore", stderr: "ignore" });
        if (!(await answers(pc.ns, probes[k]!))) throw new Error(`${setup} did not answer a probe client`);
        const l0 = load();
        const c0 = cpuMs(proc.pid);
        const r = loop(pc.ns, bases[k]!, inflight);
        const cpuUs = Math.round(((cpuMs(proc.pid) - c0) * 1000) / Math.max(1, r.leases));
        const row: Row = { ...r, setup, load: `${l0} → ${load()}`, rssMb: vmHwm(proc.pid), cpuUs };
        rows.push(row);
        console.log(
          `${setup.padEnd(12)} ${String(inflight).padStart(3)} in flight: ${String(r.rate).padStart(5)} leases/s  p50 ${r.p50} ms  p99 ${r.p99} ms  server CPU ${cpuUs} µs/lease (${r.leases}/${r.clients} leased, ${r.failed} failed, ${r.retries} resent; load ${row.load}; RSS ${row.rssMb.toFixed(0)} MB)`,
        );
        proc.kill("SIGTERM");
        await Promise.race([proc.exited, Bun.sleep(5000)]);
      }
    }

  if (OPENLOOP && have("perfdhcp")) {
    for (const setup of ["drover-pool", "dnsmasq-ro"]) {
      const base = nextBase();
      const proc = lab.spawn(lab.hn, serverCommand(setup, join(tmp, `${setup}-open`)), { stdout: "ignore", stderr: "ignore" });
      if (!(await answers(pc.ns, nextBase()))) throw new Error(`${setup} did not answer a probe client`);
      const l0 = load();
      const r = lab.run(
        pc.ns,
        [
          "perfdhcp",
          "-4",
          "-l",
          RELAY,
          "-L",
          "67",
          "-r",
          String(RATE),
          "-R",
          String(CLIENTS),
          "-n",
          String(CLIENTS),
          "-b",
          `mac=${base}:00:00:00`,
          "-W",
          "2000000",
          SERVER,
        ],
        { timeoutMs: 120_000 },
      );
      proc.kill("SIGTERM");
      await Promise.race([proc.exited, Bun.sleep(5000)]);
      const rate = Number(/Rate: ([\d.]+) 4-way exchanges\/second/.exec(r.out)?.[1] ?? Number.NaN);
      const line = `OVERLOAD (open loop, perfdhcp at ${RATE}/s, ${CLIENTS} clients) ${setup}: ${rate.toFixed(0)} DORA/s, ${sumDrops(r.out)} packets dropped (load ${l0} → ${load()})`;
      openRows.push(line);
      console.log(line);
    }
  }

  console.log("\n| setup | in flight | leases/s | p50 ms | p99 ms | server CPU µs/lease | failed | load (1/5/15 min) |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(`| ${r.setup} | ${r.inflight} | ${r.rate} | ${r.p50} | ${r.p99} | ${r.cpuUs} | ${r.failed} | ${r.load} |`);
  // The median run of each setup and concurrency (by leases/s), over the rounds.
  const at = (s: string, n: number) => {
    const rs = rows.filter((r) => r.setup === s && r.inflight === n).sort((a, b) => a.rate - b.rate);
    return rs[Math.floor((rs.length - 1) / 2)];
  };
  if (ROUNDS > 1) console.log(`\nmedian of ${ROUNDS} rounds (by leases/s):`);
  for (const n of INFLIGHT) {
    const ro = at("dnsmasq-ro", n);
    if (ro)
      for (const s of ["drover-pool", "drover-nodes", "drover-pool-fsync"]) {
        const d = at(s, n);
        if (d)
          console.log(
            `dhcp: ${n} in flight: ${s} ${d.rate} leases/s = ${(d.rate / ro.rate).toFixed(2)}× dnsmasq --leasefile-ro (${ro.rate}); p99 ${d.p99} ms = ${(d.p99 / ro.p99).toFixed(2)}× its ${ro.p99} ms`,
          );
      }
    // Like for like: both fsync every lease change before answering.
    const file = at("dnsmasq", n);
    const fsynced = at("drover-pool-fsync", n);
    if (file && fsynced)
      console.log(
        `dhcp: ${n} in flight, both fsync'd: drover-pool-fsync ${fsynced.rate} leases/s = ${(fsynced.rate / file.rate).toFixed(2)}× dnsmasq with its lease file (${file.rate}); p99 ${fsynced.p99} ms vs ${file.p99} ms`,
      );
    const plain = at("drover-pool", n);
    if (plain && fsynced)
      console.log(`dhcp: ${n} in flight: --lease-sync full ${fsynced.rate} leases/s vs normal ${plain.rate}: ${(fsynced.rate / plain.rate).toFixed(2)}×`);
  }
  for (const l of openRows) console.log(l);
} finally {
  await lab.destroy();
  rmSync(tmp, { recursive: true, force: true });
}

/** The command line for a setup, its state in `dir` (drover-nodes: a copy of the registered template). */
function serverCommand(setup: string, dir: string): string[] {
  const drover = [
    process.execPath,
    join(root, "src/main.ts"),
    "-d",
    dir,
    "serve",
    "-i",
    "br0",
    "--dhcp",
    "authoritative",
    "--no-tftp",
    "--no-ipv6-ra",
    "--port",
    "19873",
    "--server-ip",
    SERVER,
  ];
  switch (setup) {
    case "drover-pool":
      return [...drover, "--discovery", "--pool", `${POOL.start}-${POOL.end}`];
    case "drover-nodes":
      return drover;
    case "drover-pool-fsync":
      return [...serverCommand("drover-pool", dir), "--lease-sync", "full"];
    case "dnsmasq":
    case "dnsmasq-ro":
      return [
        "dnsmasq",
        "-d",
        "-C",
        "/dev/null",
        "--port=0",
        "--user=root",
        "--group=root",
        "--pid-file=",
        "--interface=br0",
        `--dhcp-range=${POOL.start},${POOL.end},255.255.0.0,10m`,
        "--no-ping",
        "--dhcp-lease-max=200000",
        "--quiet-dhcp",
        ...(setup === "dnsmasq-ro" ? ["--leasefile-ro"] : [`--dhcp-leasefile=${dir}.leases`]),
      ];
    default:
      throw new Error(`unknown setup ${setup} (drover-pool, drover-nodes, drover-pool-fsync, dnsmasq, dnsmasq-ro)`);
  }
}

function nextBase(): string {
  const n = macSeq++;
  return `0e:${((n >> 8) & 255).toString(16).padStart(2, "0")}:${(n & 255).toString(16).padStart(2, "0")}`;
}

/** A data dir with a node for every MAC of `bases` (CLIENTS each) and the first of each probe base. */
function registerNodes(dir: string, bases: string[], probes: string[]) {
  const svc = createServices(dir);
  try {
    const docs: Record<string, Conf> = {};
    let ip = parseIPv4(POOL.start)!;
    let n = 0;
    const add = (mac: string) => {
      docs[`n${String(++n).padStart(5, "0")}`] = {
        profiles: ["default"],
        networkDevices: { default: { hwaddr: mac, ipaddr: formatIPv4(ip++), netmask: "255.255.0.0" } },
      };
    };
    for (const base of bases) for (let i = 0; i < CLIENTS; i++) add(macOf3(base, i));
    for (const p of probes) add(macOf3(p, 0));
    svc.nodes.replaceNodes(docs, { allowMissingImage: true });
  } finally {
    svc.close();
  }
}

function macOf3(base: string, i: number) {
  return `${base}:${[(i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
}

/** Waits until the server gives the first client of `base` a lease. */
async function answers(ns: string, base: string): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    await Bun.sleep(200);
    const r = loopRaw(ns, base, 1, 1, 500);
    if (r && r.leases === 1) return true;
  }
  return false;
}

function loop(ns: string, base: string, inflight: number): LoopResult {
  const r = loopRaw(ns, base, CLIENTS, inflight);
  if (!r) throw new Error(`closed-loop client failed (${base}, ${inflight} in flight)`);
  return r;
}

function loopRaw(ns: string, base: string, count: number, inflight: number, retryMs = 1000): LoopResult | undefined {
  const r = spawnSync(
    ["ip", "netns", "exec", ns, process.execPath, join(root, "bench/_dhcp-client.ts"), "loop", "eth0", SERVER, RELAY, String(count), String(inflight), base],
    {
      env: { ...process.env, RETRY_MS: String(retryMs) },
      timeout: 180_000,
    },
  );
  const m = /loop (\{.*\})/.exec(r.stdout.toString());
  if (!m && process.env.VERBOSE) console.log(r.stdout.toString(), r.stderr.toString());
  return m ? (JSON.parse(m[1]!) as LoopResult) : undefined;
}

/** utime + stime of a process, ms (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

function vmHwm(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function sumDrops(out: string): number {
  let n = 0;
  for (const m of out.matchAll(/drops: (\d+)/g)) n += Number(m[1]);
  return n;
}
