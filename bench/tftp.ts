/**
 * TFTP boot-storm benchmark: N concurrent curl fetches of ipxe.efi (blksize 1468), drover against tftpd-hpa
 * and dnsmasq in the same run, each server restarted for every round, rounds interleaved.
 * Everything runs inside a network namespace this script creates (loopback only inside it), so port 69 is
 * private and no traffic leaves the machine.
 *
 *   bun bench/tftp.ts [--clients 100] [--rounds 3]
 *   bun bench/tftp.ts --serve --port P --address A [--root DIR]     (drover's server alone; used by the
 *       benchmark and by test/integration/tftp-fuzz.test.ts; prints "READY <port>", and "STATS <json>" on SIGTERM)
 *
 * Reports the median wall time per server, the ratio other/drover (above 1.0: drover is faster) and the peak
 * RSS of each server's process tree (tftpd-hpa forks a child per transfer; the tree sum is sampled) and its
 * CPU seconds (not for tftpd-hpa: its per-transfer children are never accounted to the parent).
 * tftpd-hpa listens on ":69" (all addresses of the namespace, i.e. its loopback): given "127.0.0.1:69" it
 * exits with status 66, because its getaddrinfo uses AI_ADDRCONFIG and a namespace with only lo has no
 * "configured" IPv4 address.
 */
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dirBootFiles, embeddedIpxeFiles } from "../src/boot/files";
import { startTftpServer } from "../src/protocols/tftp/server";

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

if (process.argv.includes("--serve")) {
  const root = arg("root", "");
  const srv = await startTftpServer(
    { port: Number(arg("port", "69")), address: arg("address", "127.0.0.1") },
    root ? dirBootFiles(root) : embeddedIpxeFiles(),
    (l) => console.error(l),
  );
  console.log(`READY ${srv.port}`);
  process.on("SIGTERM", async () => {
    const s = srv.stats();
    await srv.stop();
    console.log(`STATS ${JSON.stringify(s)}`);
    process.exit(0);
  });
} else {
  await bench();
}

async function bench() {
  const clients = Number(arg("clients", "100"));
  const rounds = Number(arg("rounds", "3"));
  const which = (b: string) =>
    Bun.spawnSync(["sh", "-c", `command -v ${b}`])
      .stdout.toString()
      .trim();
  if (process.getuid?.() !== 0 || !which("ip")) {
    console.log("tftp bench: skipped: needs root and iproute2 (it runs the servers inside a private network namespace)");
    return;
  }
  const tftpd = which("in.tftpd");
  const dnsmasq = which("dnsmasq");
  const curl = which("curl");
  if (!curl) {
    console.log("tftp bench: skipped: needs curl (apt-get install curl)");
    return;
  }
  if (!tftpd) console.log("tftp bench: tftpd-hpa not installed (apt-get install tftpd-hpa): not compared");
  if (!dnsmasq) console.log("tftp bench: dnsmasq not installed (apt-get install dnsmasq-base): not compared");

  const ns = `dvtb${Math.random().toString(36).slice(2, 8)}`;
  const base = mkdtempSync(join(tmpdir(), "drover-tftp-bench-"));
  const root = join(base, "root");
  mkdirSync(root);
  copyFileSync(join(import.meta.dir, "../assets/ipxe/ipxe.efi"), join(root, "ipxe.efi"));
  // dnsmasq and tftpd-hpa drop privileges: the tree must be readable by nobody.
  for (const p of [base, root]) chmodSync(p, 0o755);
  chmodSync(join(root, "ipxe.efi"), 0o644);
  const want = createHash("sha256")
    .update(readFileSync(join(root, "ipxe.efi")))
    .digest("hex");
  const sh = (cmd: string[]) => Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (sh(["ip", "netns", "add", ns]).exitCode !== 0) {
    console.log("tftp bench: skipped: cannot create a network namespace");
    return;
  }
  sh(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"]);

  type Server = { name: string; cmd: string[] };
  const servers: Server[] = [
    { name: "drover", cmd: [process.execPath, join(import.meta.dir, "tftp.ts"), "--serve", "--port", "69", "--address", "127.0.0.1", "--root", root] },
  ];
  if (tftpd) servers.push({ name: "tftpd-hpa", cmd: [tftpd, "-l", "-L", "-s", root, "-a", ":69", "-u", "nobody"] });
  if (dnsmasq)
    servers.push({
      name: "dnsmasq",
      cmd: [
        dnsmasq,
        "-k",
        "-C",
        "/dev/null",
        "--pid-file=",
        "--port=0",
        "--enable-tftp",
        `--tftp-root=${root}`,
        `--tftp-max=${clients * 2}`,
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--log-facility=/dev/null",
        "--user=nobody",
      ],
    });

  const results = new Map<string, { ms: number[]; rssMb: number[]; cpu: number[]; failed: number }>();
  try {
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? servers : [...servers].reverse();
      for (const s of order) {
        const out = join(base, `out-${s.name}-${r}`);
        mkdirSync(out);
        const one = await measure(ns, s, clients, out, want);
        rmSync(out, { recursive: true, force: true });
        const e = results.get(s.name) ?? { ms: [], rssMb: [], cpu: [], failed: 0 };
        e.ms.push(one.ms);
        e.cpu.push(one.cpu);
        e.rssMb.push(one.rssMb);
        e.failed += one.failed;
        results.set(s.name, e);
      }
    }
  } finally {
    sh(["ip", "netns", "del", ns]);
    rmSync(base, { recursive: true, force: true });
  }

  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const d = med(results.get("drover")!.ms);
  console.log(`TFTP: ${clients} concurrent curl fetches of ipxe.efi (850 KB, blksize 1468), ${rounds} rounds, median wall time`);
  console.log("server      median ms   other/drover   peak RSS MB   server CPU s   failed fetches");
  for (const [name, e] of results) {
    const m = med(e.ms);
    console.log(
      `${name.padEnd(11)} ${m.toFixed(0).padStart(9)}   ${(name === "drover" ? "—" : (m / d).toFixed(2) + "x").padStart(12)}   ${Math.max(...e.rssMb)
        .toFixed(1)
        .padStart(11)}   ${(name === "tftpd-hpa" ? "n/a" : med(e.cpu).toFixed(2)).padStart(12)}   ${String(e.failed).padStart(14)}`,
    );
  }
  for (const name of ["dnsmasq", "tftpd-hpa"]) {
    const e = results.get(name);
    if (e) console.log(`drover vs ${name}: ${(med(e.ms) / d).toFixed(2)}x (>= 1.0 means drover is as fast or faster)`);
  }
}

/** User+system CPU seconds of a process and its reaped children (from /proc/PID/stat). */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    // Fields after the command: state(0) ... utime(11) stime(12) cutime(13) cstime(14), in clock ticks.
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
  } catch {
    return 0;
  }
}

/** Sum of VmRSS over a process and its descendants, in MB. */
function treeRssMb(pid: number): number {
  const kids = new Map<number, number[]>();
  const rss = new Map<number, number>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const status = readFileSync(`/proc/${e}/status`, "utf8");
      const ppid = Number(/PPid:\s+(\d+)/.exec(status)?.[1]);
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      rss.set(Number(e), kb);
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(e)]);
    } catch {}
  }
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    total += rss.get(p) ?? 0;
    stack.push(...(kids.get(p) ?? []));
  }
  return total / 1024;
}

async function measure(ns: string, s: { name: string; cmd: string[] }, clients: number, out: string, want: string) {
  const proc = Bun.spawn(["ip", "netns", "exec", ns, ...s.cmd], { stdout: "pipe", stderr: "ignore" });
  try {
    // Ready when a fetch works (each server has its own way of saying it is up; this one is common).
    const probe = join(out, "probe");
    let ready = false;
    for (let i = 0; i < 100 && !ready; i++) {
      const r = Bun.spawnSync(["ip", "netns", "exec", ns, "curl", "-s", "--max-time", "2", "-o", probe, "tftp://127.0.0.1/ipxe.efi"]);
      ready = r.exitCode === 0;
      if (proc.exitCode !== null) throw new Error(`${s.name} exited (${proc.exitCode})`);
      if (!ready) await Bun.sleep(100);
    }
    if (!ready) throw new Error(`${s.name} never answered a TFTP request`);
    let peak = treeRssMb(proc.pid);
    const sampler = setInterval(() => {
      peak = Math.max(peak, treeRssMb(proc.pid));
    }, 50);
    // Each client from its own loopback address (127.1.0.1 …), as each node of a storm has its own: drover
    // serves at most 16 transfers at once to one address (TftpTuning.maxTransfersPerClient).
    const from = "127.1.$((i / 250)).$((i % 250 + 1))";
    const script = `for i in $(seq 1 ${clients}); do curl -s --max-time 60 --interface ${from} --tftp-blksize 1468 -o ${out}/f$i tftp://127.0.0.1/ipxe.efi & done; wait`;
    const t0 = performance.now();
    const storm = Bun.spawn(["ip", "netns", "exec", ns, "sh", "-c", script], { stdout: "ignore", stderr: "ignore" });
    await storm.exited;
    const ms = performance.now() - t0;
    clearInterval(sampler);
    peak = Math.max(peak, treeRssMb(proc.pid));
    const cpu = cpuSeconds(proc.pid);
    let failed = 0;
    for (let i = 1; i <= clients; i++) {
      try {
        if (
          createHash("sha256")
            .update(readFileSync(join(out, `f${i}`)))
            .digest("hex") !== want
        )
          failed++;
      } catch {
        failed++;
      }
    }
    return { ms, rssMb: peak, failed, cpu };
  } finally {
    proc.kill("SIGTERM");
    await Promise.race([proc.exited, Bun.sleep(3000)]);
    if (proc.exitCode === null) proc.kill("SIGKILL");
    await proc.exited;
  }
}
