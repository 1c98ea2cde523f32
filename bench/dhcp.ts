/**
 * DHCP throughput: full DORA exchanges per second for relayed clients, drover vs dnsmasq, same run.
 *
 * perfdhcp (Debian kea-admin) acts as a relay (giaddr = its own address, source port 67) with 5,000
 * distinct MACs against each server in turn. Both servers run in a head-node namespace and perfdhcp in a
 * client namespace joined by a veth/bridge (a private loopback-like link: nothing leaves the lab).
 * dnsmasq is tuned as the reference figures in docs are (--no-ping --leasefile-ro), with a lease limit
 * large enough for the run. drover runs bench/_dhcp-server.ts (discovery on, pool for the relay subnet,
 * in-memory leases). Peak RSS is the server process's VmHWM.
 *
 *   sudo bun bench/dhcp.ts            (needs root, perfdhcp, dnsmasq; skips with a message otherwise)
 *   CLIENTS=5000 RATE=20000 ROUNDS=2 sudo bun bench/dhcp.ts
 */
import { spawnSync } from "bun";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../test/helpers/netns";

const CLIENTS = Number(process.env.CLIENTS ?? 5000);
const RATE = Number(process.env.RATE ?? 20000);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const root = join(import.meta.dir, "..");

const why =
  Lab.unavailable() ??
  (spawnSync(["sh", "-c", "command -v perfdhcp"]).exitCode !== 0 ? "needs perfdhcp (apt-get install kea-admin)" : undefined) ??
  (spawnSync(["sh", "-c", "command -v dnsmasq"]).exitCode !== 0 ? "needs dnsmasq (apt-get install dnsmasq-base)" : undefined);
if (why) {
  console.log(`dhcp bench skipped: ${why}`);
  process.exit(0);
}

const lab = await Lab.create();
const tmp = mkdtempSync(join(tmpdir(), "drover-dhcpbench-"));
try {
  // A /16 so 5,000 clients fit one relay subnet.
  const SERVER = "172.20.0.1";
  const RELAY = "172.20.0.2";
  lab.sh(lab.hn, `ip addr add ${SERVER}/16 dev br0`);
  const pc = lab.addClient("perf");
  lab.sh(pc.ns, `ip addr add ${RELAY}/16 dev ${pc.ifname}`);

  const spec = join(tmp, "spec.json");
  writeFileSync(
    spec,
    JSON.stringify({
      config: {
        interfaces: [{ name: "br0", mode: "authoritative", serverIp: SERVER, subnets: [{ network: "172.20.0.0", netmask: "255.255.0.0", pool: { start: "172.20.1.0", end: "172.20.255.254" } }] }],
        discovery: true,
      },
      nodes: {},
    }),
  );
  const servers: Record<string, string[]> = {
    drover: [process.execPath, join(root, "bench/_dhcp-server.ts"), spec],
    dnsmasq: [
      "dnsmasq", "-d", "-C", "/dev/null", "--port=0", "--user=root", "--group=root", "--pid-file=", "--interface=br0",
      "--dhcp-range=172.20.1.0,172.20.255.254,255.255.0.0,10m", "--no-ping", "--leasefile-ro", "--dhcp-lease-max=200000", "--quiet-dhcp",
    ],
  };

  const results: Record<string, Array<{ rate: number; drops: number; p50?: number; rssMb: number }>> = { drover: [], dnsmasq: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of ["drover", "dnsmasq"] as const) {
      const proc = lab.spawn(lab.hn, servers[name]!, { stdout: "ignore", stderr: "ignore", env: { DHCP_EVENTS: "0" } });
      // Wait until the server answers: a tiny perfdhcp probe.
      let up = false;
      for (let i = 0; i < 60 && !up; i++) {
        await Bun.sleep(100);
        const probe = lab.run(pc.ns, ["perfdhcp", "-4", "-l", RELAY, "-L", "67", "-n", "5", "-r", "50", "-R", "5", "-b", "mac=00:0c:01:00:00:00", "-W", "1000000", SERVER], { timeoutMs: 10_000 });
        up = acks(probe.out) >= 1;
      }
      if (!up) throw new Error(`${name} did not answer perfdhcp`);
      const r = lab.run(pc.ns, ["perfdhcp", "-4", "-l", RELAY, "-L", "67", "-r", String(RATE), "-R", String(CLIENTS), "-n", String(CLIENTS), "-b", `mac=00:0d:${(round * 2 + (name === "drover" ? 0 : 1)).toString(16).padStart(2, "0")}:00:00:00`, "-W", "2000000", SERVER], { timeoutMs: 120_000 });
      const rss = vmHwm(proc.pid);
      proc.kill("SIGTERM");
      await proc.exited;
      const rate = Number(/Rate: ([\d.]+) 4-way exchanges\/second/.exec(r.out)?.[1] ?? Number.NaN);
      const drops = sumDrops(r.out);
      const p50 = Number(/avg delay: ([\d.]+) ms/.exec(r.out)?.[1] ?? Number.NaN);
      results[name]!.push({ rate, drops, p50, rssMb: rss });
      console.log(`round ${round + 1} ${name.padEnd(7)}: ${rate.toFixed(0).padStart(6)} DORA/s  drops ${drops}  DO avg delay ${p50} ms  peak RSS ${rss.toFixed(1)} MB`);
      if (Number.isNaN(rate) || process.env.VERBOSE) console.log(r.out, r.err);
    }
  }
  const best = (n: string) => Math.max(...results[n]!.map((x) => x.rate));
  const rss = (n: string) => Math.max(...results[n]!.map((x) => x.rssMb));
  console.log(
    `dhcp: ${CLIENTS} relayed clients at up to ${RATE}/s — drover ${best("drover").toFixed(0)} DORA/s vs dnsmasq ${best("dnsmasq").toFixed(0)} DORA/s = ${(best("drover") / best("dnsmasq")).toFixed(2)}x; peak RSS drover ${rss("drover").toFixed(1)} MB vs dnsmasq ${rss("dnsmasq").toFixed(1)} MB`,
  );
} finally {
  await lab.destroy();
  rmSync(tmp, { recursive: true, force: true });
}

function vmHwm(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** "received packets" of perfdhcp's REQUEST-ACK section. */
function acks(out: string): number {
  const sec = out.split("***Statistics for: REQUEST-ACK***")[1] ?? "";
  return Number(/received packets: (\d+)/.exec(sec)?.[1] ?? 0);
}

function sumDrops(out: string): number {
  let n = 0;
  for (const m of out.matchAll(/drops: (\d+)/g)) n += Number(m[1]);
  return n;
}
