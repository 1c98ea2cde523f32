// Overlays at cluster scale, in-process over a real data dir (SQLite, archives on disk):
//   cold:    render and pack system + runtime overlays for 10,000 nodes (hosts overlay included, so every
//            runtime archive carries a 10,000-line /etc/hosts)     target ≤ 10 s on 2 cores
//   change:  one node changes; its next archive is served          target ≤ 100 ms
//   poll:    an unchanged node asks again (what every agent poll costs the server)
//   hostkeys: ssh-keygen for nodes with ssh.host_keys (once per node ever), measured on 200 nodes
// The cold run is repeated with the archive cache on a tmpfs (/dev/shm): on a busy or slow disk, creating
// 20,000 archive files costs more than rendering them, and the cache is disposable (cacheDir option).
// Usage: bun bench/overlay.ts [NODES]
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServices } from "../src/app";
import { readArtifact } from "../src/boot/artifact";
import { OverlayService } from "../src/services/overlays";
import { sqliteNodeStore } from "../src/store/node-store";
import { readCpio } from "../src/overlay/cpio";
import { median } from "./_util";

const N = Number(process.argv[2] ?? 10000);
const dir = mkdtempSync(join(tmpdir(), "drover-bench-overlay-"));
const ms = (t0: number) => performance.now() - t0;
try {
  const svc = createServices(dir);
  svc.overlays.setServer({ address: "10.0.0.1", netmask: "255.255.0.0", port: 9873, hostname: "head", dns: ["10.0.0.1"] });
  svc.nodes.setProfiles(["default"], {
    set: {
      systemOverlay: ["wwinit", "wwclient", "hostname", "issue", "resolv", "fstab", "NetworkManager", "systemd.networkd", "ifupdown"],
      runtimeOverlay: ["hosts", "ssh.authorized_keys"],
      tags: { dns: "10.0.0.1" },
      resources: { fstab: [{ spec: "10.0.0.1:/home", file: "/home", vfstype: "nfs" }] },
    },
  });
  const names = Array.from({ length: N }, (_, i) => `n${String(i + 1).padStart(5, "0")}`);
  let t0 = performance.now();
  svc.nodes.addNodes(names, { set: { networkDevices: { default: { device: "eth0", ipaddr: "10.0.0.11", netmask: "255.255.0.0", gateway: "10.0.0.1" } } } });
  console.log(`setup: ${N} nodes added in ${(ms(t0) / 1000).toFixed(2)} s (not measured below)`);

  // Cold: a fresh service over the data dir, empty cache.
  svc.close();
  const cold = createServices(dir);
  cold.overlays.setServer({ address: "10.0.0.1", netmask: "255.255.0.0", port: 9873, hostname: "head", dns: ["10.0.0.1"] });
  t0 = performance.now();
  let cpu0 = process.cpuUsage();
  const out = await cold.overlays.build();
  const coldMs = ms(t0);
  const cpu = (c: NodeJS.CpuUsage) => ((c.user + c.system) / 1e6).toFixed(2);
  const coldCpu = cpu(process.cpuUsage(cpu0));
  const errors = out.filter((r) => r.status === "error");
  if (errors.length) throw new Error(`${errors.length} failed, e.g. ${errors[0]!.message}`);
  const bytes = out.reduce((n, r) => n + (r.size ?? 0), 0);
  // What is on disk: shared members (hosts file, agent, …) once, then each node's own member.
  const written = [...new Bun.Glob("**/*").scanSync(join(dir, "overlay-cache"))].reduce((n, f) => n + statSync(join(dir, "overlay-cache", f)).size, 0);
  const rt = await cold.overlays.archive("runtime", names[0]!);
  if ("refused" in rt) throw new Error(rt.message);
  const hostsLines = new TextDecoder().decode(readCpio(readArtifact(rt)).find((e) => e.path === "etc/hosts")!.data).split("\n").length;
  console.log(
    `cold, cache on the data dir's disk: ${out.length} archives (${N} nodes × system + runtime) in ${(coldMs / 1000).toFixed(2)} s, ${(bytes / 1e6).toFixed(0)} MB served, ${(written / 1e6).toFixed(0)} MB written; /etc/hosts has ${hostsLines} lines; CPU ${coldCpu} s  (target ≤ 10 s)`,
  );

  if (existsSync("/dev/shm")) {
    const shm = mkdtempSync("/dev/shm/drover-bench-cache-");
    try {
      const o = new OverlayService({
        dataDir: dir,
        cacheDir: shm,
        nodeStore: sqliteNodeStore(cold.store.db),
        imageRoot: () => undefined,
        server: cold.overlays.serverSettings,
      });
      t0 = performance.now();
      cpu0 = process.cpuUsage();
      const r = await o.build();
      const t = ms(t0);
      const c = cpu(process.cpuUsage(cpu0));
      if (r.some((x) => x.status !== "built")) throw new Error("tmpfs run did not build everything");
      console.log(`cold, cache on tmpfs: ${r.length} archives in ${(t / 1000).toFixed(2)} s, CPU ${c} s  (target ≤ 10 s)`);
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
  }

  // Unchanged: what an agent poll costs (key check + stat of outside files).
  const poll: number[] = [];
  for (let i = 0; i < 200; i++) {
    const n = names[(i * 37) % N]!;
    t0 = performance.now();
    const a = await cold.overlays.archive("runtime", n);
    poll.push(ms(t0));
    if ("refused" in a) throw new Error(a.message);
  }
  console.log(`poll, unchanged node: median ${median(poll).toFixed(2)} ms, max ${Math.max(...poll).toFixed(2)} ms (200 requests)`);

  // One node changes (its address: every node's hosts file changes too). Time its next archives.
  const change: number[] = [];
  const other: number[] = [];
  for (let k = 0; k < 5; k++) {
    const n = names[k * Math.floor(N / 5)]!;
    cold.nodes.setNodes([n], { set: { tags: { bench: String(k) }, networkDevices: { default: { ipaddr: `10.0.${200 + k}.1` } } } });
    t0 = performance.now();
    const s = await cold.overlays.archive("system", n);
    const r = await cold.overlays.archive("runtime", n);
    change.push(ms(t0));
    if ("refused" in s || "refused" in r) throw new Error("refused");
    const got = new TextDecoder().decode(readCpio(readArtifact(r)).find((e) => e.path === "etc/hosts")!.data);
    if (!got.includes(`10.0.${200 + k}.1  ${n}`)) throw new Error("the new archive does not show the change");
    t0 = performance.now();
    await cold.overlays.archive("runtime", names[k * Math.floor(N / 5) + 1]!);
    other.push(ms(t0));
  }
  console.log(
    `change: node changed → its system + runtime archives served in median ${median(change).toFixed(1)} ms, max ${Math.max(...change).toFixed(1)} ms  (target ≤ 100 ms)`,
  );
  console.log(`        another node's runtime archive after that change (its hosts file changed too): median ${median(other).toFixed(1)} ms`);

  // Host keys: generated once per node with ssh-keygen (ed25519 + ecdsa).
  if (Bun.which("ssh-keygen")) {
    const sample = names.slice(0, 200);
    cold.nodes.setNodes(sample, { set: { systemOverlay: ["ssh.host_keys"] } });
    const st = cold.overlays.snapshot();
    t0 = performance.now();
    const made = await cold.overlays.prepareHostKeys(sample.map((n) => st.resolved.get(n)!));
    const k = ms(t0);
    console.log(
      `hostkeys: ${made} keys for 200 nodes in ${(k / 1000).toFixed(2)} s → ~${(((k / 200) * N) / 1000).toFixed(0)} s for ${N} nodes, once ever (extrapolated, not measured)`,
    );
  }
  console.log(
    `load average at the end: ${(await import("node:os"))
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")} (other work on this machine inflates wall times)`,
  );
  console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  cold.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
