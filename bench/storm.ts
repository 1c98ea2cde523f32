/**
 * Boot storm: N simulated nodes power on within a second and boot the way firmware and iPXE do
 * (bench/_storm-node.ts: DHCP → TFTP of snponly.efi → DHCP again as iPXE → the iPXE script → kernel, a
 * 64 MiB image, the system overlay → the agent's booted callback, runtime overlay from a privileged port,
 * heartbeat), against one `drover serve` and against the reference, dnsmasq (DHCP + TFTP) + nginx serving
 * the very files drover produced for the same nodes (scripts, kernel, image, system and runtime overlays),
 * in the same run. Everything runs in network namespaces this script creates (test/helpers/storm.ts).
 *
 *   sudo bun bench/storm.ts [--nodes 1000] [--script-nodes 10000] [--image-mib 64] [--deadline-s 300]
 *                           [--setups drover,drover-nolimit,reference-tftpmax,reference] [--phases full,script]
 *                           [--limit N]   drover's --max-image-streams for the "drover" setup
 * A node not booted at the deadline counts as not booted (stock dnsmasq's 50 TFTP slots leave about half of
 * 1,000 there). The defaults take 15–30 minutes on a 2-core machine; --nodes 100 --script-nodes 1000 a few.
 *
 * Setups: `drover` (admission control at its default, or --limit), `drover-nolimit` (--max-image-streams 0:
 * every image request streams at once), `reference` (dnsmasq --no-ping + nginx, sendfile, 2 workers),
 * `reference-tftpmax` (the same with dnsmasq's --tftp-max raised from its default 50 to 2 × N).
 * Phases: `full` (N full boots), `script` (DHCP + script only, --script-nodes nodes; no TFTP, no files).
 * Printed per setup: booted / N, time until the last node booted, p50/p99 per stage (ms), bytes/s on the
 * client's link (mean and peak 1-s), the server tree's CPU seconds and peak RSS, retries and 503s.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { droverBinary } from "../test/helpers/binary";
import { startDroverIn } from "../test/helpers/drover-server";
import { Lab } from "../test/helpers/netns";
import {
  STORM_SERVER,
  type StormLab as StormLabT,
  type StormNode,
  type StormResult,
  StormLab,
  TreeSampler,
  prepareDataDir,
  quantile,
  vmHwmMb,
} from "../test/helpers/storm";

if (process.argv[2] === "--prep-reference") {
  await prepReference(process.argv[3]!);
  process.exit(0);
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

const FULL_N = Number(arg("nodes", "1000"));
const SCRIPT_N = Number(arg("script-nodes", "10000"));
const IMAGE_MIB = Number(arg("image-mib", "64"));
const SETUPS = arg("setups", "drover,drover-nolimit,reference-tftpmax,reference").split(",");
const PHASES = arg("phases", "full,script").split(",");
const LIMIT = arg("limit", "");
const DEADLINE_MS = Number(arg("deadline-s", "300")) * 1000;
const REF_PORT = 8080;
const STAGES = ["dhcp", "tftp", "dhcp2", "script", "kernel", "image", "system", "booted", "runtime", "heartbeat"];
const have = (cmd: string) => Bun.spawnSync(["sh", "-c", `command -v ${cmd}`]).exitCode === 0;

const why =
  Lab.unavailable() ??
  (have("dnsmasq") ? undefined : "needs dnsmasq (apt-get install dnsmasq-base)") ??
  (have("nginx") || !SETUPS.includes("reference") ? undefined : "needs nginx (apt-get install nginx-light) for the reference");
if (why) {
  console.log(`storm bench skipped: ${why}`);
  process.exit(0);
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
const work = join(import.meta.dir, ".work/storm");
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
droverBinary();

interface Row {
  phase: string;
  setup: string;
  n: number;
  r: StormResult;
  cpuS: number;
  peakRssMb: number;
  hwmMb?: number;
  load: string;
}
const rows: Row[] = [];

let current: StormLabT | undefined;
// Interrupted (Ctrl-C, a timeout): the namespaces and their processes go too.
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.on(sig, async () => {
    await current?.destroy();
    process.exit(130);
  });
for (const phase of PHASES) {
  const n = phase === "full" ? FULL_N : SCRIPT_N;
  const s = await StormLab.create(n);
  current = s;
  try {
    const template = join(work, `template-${phase}`);
    const t0 = performance.now();
    prepareDataDir(template, work, s.nodes, { imageMiB: IMAGE_MIB });
    console.log(`storm: ${phase}: ${n} nodes and a ${IMAGE_MIB} MiB image in ${template} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    for (const setup of SETUPS) {
      const l0 = load();
      const row = setup.startsWith("reference") ? await reference(s, phase, template, setup) : await drover(s, phase, template, setup);
      row.load = `${l0} → ${load()}`;
      rows.push(row);
      console.log(line(row));
    }
  } finally {
    await s.destroy();
  }
}
printTables();
rmSync(work, { recursive: true, force: true });

function stormOpts(phase: string, setup: string) {
  const dir = join(work, `${phase}-${setup}`);
  return {
    mode: phase === "full" ? ("full" as const) : ("script" as const),
    deadlineMs: DEADLINE_MS,
    work: dir,
    onLine: (l: string) => l.startsWith("progress") && console.log(`  ${setup}: ${l}`),
  };
}

async function drover(s: StormLabT, phase: string, template: string, setup: string): Promise<Row> {
  const data = join(work, `data-${phase}-${setup}`);
  cpSync(template, data, { recursive: true });
  const extra = setup === "drover-nolimit" ? ["--max-image-streams", "0"] : LIMIT ? ["--max-image-streams", LIMIT] : [];
  const d = await startDroverIn(s.lab, data, s.droverArgs(extra));
  const sampler = new TreeSampler([d.proc.pid]);
  try {
    const r = await s.run(stormOpts(phase, setup));
    const hwmMb = vmHwmMb(d.proc.pid);
    const { cpuS, peakRssMb } = sampler.stop();
    return { phase, setup: setup + (LIMIT && setup === "drover" ? ` (limit ${LIMIT})` : ""), n: r.nodes, r, cpuS, peakRssMb, hwmMb, load: "" };
  } finally {
    await d.stop();
    rmSync(data, { recursive: true, force: true });
  }
}

/**
 * The reference: what drover served for each node, as static files (fetched from a drover on the head
 * node's loopback with runtime security off, Host set to nginx's address so every script points there),
 * then dnsmasq for DHCP + TFTP and nginx for HTTP.
 */
async function reference(s: StormLabT, phase: string, template: string, setup: string): Promise<Row> {
  const dir = join(work, `ref-${phase}`);
  // reference-tftpmax: dnsmasq may run as many TFTP transfers at once as there are nodes (its default is 50).
  const tftpMax = setup === "reference-tftpmax" ? [`--tftp-max=${s.nodes.length * 2}`] : [];
  const www = join(dir, "www");
  const tftp = join(dir, "tftp");
  for (const d of [www, tftp, ...["ipxe", "kernel", "image", "system", "runtime"].map((k) => join(www, k))]) mkdirSync(d, { recursive: true });
  const data = join(work, `data-${phase}-prep`);
  cpSync(template, data, { recursive: true });
  const prep = await startDroverIn(s.lab, data, ["--listen", "127.0.0.1", "--port", "19873", "--no-tftp", "--insecure-runtime"], /drover: DHCP is off/);
  try {
    const list = join(dir, "nodes.json");
    writeFileSync(list, JSON.stringify({ nodes: s.nodes, www, full: phase === "full", host: `${STORM_SERVER}:${REF_PORT}` }));
    const r = s.lab.run(s.lab.hn, [process.execPath, import.meta.path, "--prep-reference", list], { timeoutMs: 600_000 });
    if (r.code !== 0) throw new Error(`preparing the reference's files failed: ${r.err}${r.out}`);
  } finally {
    await prep.stop();
    rmSync(data, { recursive: true, force: true });
  }
  // dnsmasq: the same reservations, TFTP of the same iPXE binary, iPXE's boot file the same URL form.
  cpSync(join(import.meta.dir, "../assets/ipxe/snponly.efi"), join(tftp, "snponly.efi"));
  writeFileSync(join(dir, "hosts"), `${s.nodes.map((n) => `${n.mac},${n.ip}`).join("\n")}\n`);
  const dnsmasq = s.lab.spawn(
    s.lab.hn,
    [
      "dnsmasq",
      "--no-daemon",
      "--conf-file=/dev/null",
      "--port=0",
      "--interface=br0",
      "--bind-interfaces",
      "--user=root",
      "--group=root",
      "--pid-file=",
      `--dhcp-leasefile=${join(dir, "leases")}`,
      `--log-facility=${join(dir, "dnsmasq.log")}`,
      "--quiet-dhcp",
      `--dhcp-range=172.22.0.0,static,255.255.0.0,24h`,
      `--dhcp-hostsfile=${join(dir, "hosts")}`,
      "--dhcp-lease-max=50000",
      "--no-ping",
      "--enable-tftp",
      `--tftp-root=${tftp}`,
      "--dhcp-match=set:efi64,option:client-arch,7",
      "--dhcp-userclass=set:ipxe,iPXE",
      `--dhcp-boot=tag:ipxe,http://${STORM_SERVER}:${REF_PORT}/ipxe/\${mac:hexhyp}`,
      `--dhcp-boot=tag:!ipxe,tag:efi64,snponly.efi,,${STORM_SERVER}`,
      "--dhcp-option=encap:175,176,1",
      ...tftpMax,
    ],
    { stdout: "ignore", stderr: "ignore" },
  );
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    `user root root;
worker_processes 2;
worker_rlimit_nofile 65536;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
daemon off;
events { worker_connections 30000; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path ${dir}/tmp-body;
  proxy_temp_path ${dir}/tmp-proxy;
  fastcgi_temp_path ${dir}/tmp-fcgi;
  uwsgi_temp_path ${dir}/tmp-uwsgi;
  scgi_temp_path ${dir}/tmp-scgi;
  server {
    listen ${STORM_SERVER}:${REF_PORT} backlog=8192;
    root ${www};
    location /callback/ { return 200 "ok\\n"; }
  }
}
`,
  );
  const nginx = s.lab.spawn(s.lab.hn, ["sh", "-c", `ulimit -n 65536; exec nginx -c ${conf} -p ${dir}`], { stdout: "ignore", stderr: "ignore" });
  for (let i = 0; ; i++) {
    const ok = s.lab.run(s.client.ns, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", `http://${STORM_SERVER}:${REF_PORT}/callback/x`]).out === "200";
    if (ok && readFileSync(join(dir, "dnsmasq.log"), "utf8").includes("TFTP root")) break;
    if (i > 100) throw new Error("the reference (dnsmasq + nginx) did not start");
    await Bun.sleep(100);
  }
  const sampler = new TreeSampler([dnsmasq.pid, nginx.pid]);
  try {
    const r = await s.run(stormOpts(phase, setup));
    const { cpuS, peakRssMb } = sampler.stop();
    return { phase, setup, n: r.nodes, r, cpuS, peakRssMb, load: "" };
  } finally {
    for (const p of [nginx, dnsmasq]) p.kill("SIGTERM");
    await Promise.race([Promise.all([nginx.exited, dnsmasq.exited]), Bun.sleep(5000)]);
    rmSync(dir, { recursive: true, force: true });
  }
}

function stageStats(r: StormResult) {
  const out: Record<string, { p50: number; p99: number }> = {};
  for (const st of STAGES) {
    const xs = r.records.map((x) => x.stages[st]).filter((v): v is number => v !== undefined);
    if (xs.length) out[st] = { p50: quantile(xs, 0.5), p99: quantile(xs, 0.99) };
  }
  return out;
}
/** When 10 %, 50 %, 90 % and all of the nodes had finished (booted, or had their script). */
function progressLine(r: StormResult): string {
  const done = r.records
    .map((x) => x.done)
    .filter((v): v is number => v !== undefined)
    .sort((a, b) => a - b);
  const at = (f: number) => {
    const k = Math.ceil(f * r.nodes) - 1;
    return k < done.length ? `${(done[k]! / 1000).toFixed(1)}` : "—";
  };
  return `first ${done.length ? (done[0]! / 1000).toFixed(1) : "—"}, 10 % ${at(0.1)}, 50 % ${at(0.5)}, 90 % ${at(0.9)}, all ${at(1)}`;
}
function mb(b: number) {
  return `${(b / 1e6).toFixed(0)} MB/s`;
}
function line(w: Row): string {
  const r = w.r;
  const st = stageStats(r);
  const stages = Object.entries(st)
    .map(([k, v]) => `${k} ${v.p50.toFixed(0)}/${v.p99.toFixed(0)}`)
    .join(", ");
  const failed = r.records.filter((x) => x.done === undefined);
  return [
    `storm ${w.phase} ${w.setup}: ${r.booted}/${r.nodes} ${w.phase === "full" ? "booted" : "got their script"}${r.allBootedS !== null ? `, all in ${r.allBootedS.toFixed(1)} s` : `, last at ${r.lastBootedS?.toFixed(1) ?? "-"} s`}`,
    `  stages p50/p99 ms: ${stages}`,
    `  finished by (s since the first power-on): ${progressLine(r)}`,
    `  link rx mean ${mb(r.link.meanRxBps)}, peak ${mb(r.link.peakRxBps)}; server CPU ${w.cpuS.toFixed(1)} s, peak RSS ${w.peakRssMb.toFixed(0)} MB${w.hwmMb ? ` (VmHWM ${w.hwmMb.toFixed(0)} MB)` : ""}; load ${w.load}`,
    `  DHCP sent ${r.dhcpSent} (timeouts ${r.dhcpTimeouts}, NAKs ${r.naks}); TFTP timeouts ${r.tftpTimeouts}, failed ${r.tftpErrors}; HTTP 503 ${r.http503}, errors ${r.httpErrors}; script retries ${r.scriptRetries}; firmware restarts ${r.firmwareRestarts}`,
    ...(failed.length
      ? [
          `  not finished: ${failed.length}, e.g. ${failed
            .slice(0, 3)
            .map((f) => `${f.mac}: ${f.error ?? "?"}`)
            .join("; ")}`,
        ]
      : []),
  ].join("\n");
}

function printTables() {
  console.log(
    "\n| phase | setup | N | finished | 10 % / 50 % / 90 % finished by | time to all | dhcp p50/p99 | tftp | script | kernel | image | booted cb | link rx mean / peak | server CPU | peak RSS | 503s / errors / DHCP timeouts |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  const f = (v?: { p50: number; p99: number }) => (v ? `${(v.p50 / 1000).toFixed(2)} / ${(v.p99 / 1000).toFixed(2)} s` : "—");
  for (const w of rows) {
    const st = stageStats(w.r);
    console.log(
      `| ${w.phase} | ${w.setup} | ${w.n} | ${w.r.booted} | ${progressLine(w.r).replace(/^.*10 % (\S+), 50 % (\S+), 90 % (\S+),.*$/, "$1 / $2 / $3 s")} | ${w.r.allBootedS?.toFixed(1) ?? "not all"} s | ${f(st.dhcp)} | ${f(st.tftp)} | ${f(st.script)} | ${f(st.kernel)} | ${f(st.image)} | ${f(st.booted)} | ${mb(w.r.link.meanRxBps)} / ${mb(w.r.link.peakRxBps)} | ${w.cpuS.toFixed(1)} s | ${w.peakRssMb.toFixed(0)} MB | ${w.r.http503} / ${w.r.httpErrors} / ${w.r.dhcpTimeouts} |`,
    );
  }
  for (const phase of PHASES) {
    const ref = rows.find((w) => w.phase === phase && w.setup.startsWith("reference"));
    if (!ref?.r.allBootedS) continue;
    for (const w of rows.filter((x) => x.phase === phase && !x.setup.startsWith("reference")))
      if (w.r.allBootedS)
        console.log(
          `storm ${phase}: ${w.setup} all finished in ${w.r.allBootedS.toFixed(1)} s vs the reference's ${ref.r.allBootedS.toFixed(1)} s = ${(ref.r.allBootedS / w.r.allBootedS).toFixed(2)}× (above 1: drover faster); CPU ${(w.cpuS / ref.cpuS).toFixed(2)}×, peak RSS ${w.peakRssMb.toFixed(0)} vs ${ref.peakRssMb.toFixed(0)} MB`,
        );
  }
}

/** Inside the head node: every node's files from the drover on 127.0.0.1:19873, as nginx will serve them. */
async function prepReference(listPath: string) {
  const { nodes, www, full, host } = JSON.parse(readFileSync(listPath, "utf8")) as { nodes: StormNode[]; www: string; full: boolean; host: string };
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:19873${path}`, { headers: { host } });
    if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    return new Uint8Array(await res.arrayBuffer());
  };
  const hex = (n: StormNode) => n.mac.replaceAll(":", "-");
  if (full) {
    const first = hex(nodes[0]!);
    writeFileSync(join(www, "kernel.bin"), await get(`/kernel/${first}`));
    writeFileSync(join(www, "image.bin"), await get(`/image/${first}`));
  }
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < nodes.length; i = next++) {
      const n = nodes[i]!;
      const h = hex(n);
      // The script a node boots with (drover's first answer only asks again with the node's RAM).
      const script = new TextDecoder().decode(await get(`/ipxe/${h}?assetkey=&uuid=&memsize=4096&platform=efi`));
      if (!script.includes(`http://${host}`)) throw new Error(`the script for ${n.name} does not point at ${host}:\n${script}`);
      writeFileSync(join(www, "ipxe", h), script);
      if (!full) continue;
      symlinkSync("../kernel.bin", join(www, "kernel", h));
      symlinkSync("../image.bin", join(www, "image", h));
      writeFileSync(join(www, "system", h), await get(`/system/${h}`));
      writeFileSync(join(www, "runtime", h), await get(`/runtime/${h}`));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

export type { StormNode };
