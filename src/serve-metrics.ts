import type { Services } from "./app";
import type { LeaseStore, OverlayArtifacts } from "./boot/ports";
import type { DhcpServer } from "./protocols/dhcp";
import type { TftpServer, TransferRecord } from "./protocols/tftp/server";
import { droverMetrics } from "./services/metrics";
import { COMMIT, VERSION } from "./version";

/** Stages after which a node is up (or gave up): the time to the next event is not a boot stage's. */
const SETTLED = new Set(["booted", "heartbeat", "agent", "error"]);
/** Events that are not boot progress. */
const NOT_STAGES = new Set(["heartbeat", "agent"]);

/**
 * `drover serve`'s metrics, wired by the composition root: the counters get callbacks (DHCP `onPacket`, TFTP
 * `onTransfer`, the HTTP middleware's port, a wrapper around the boot service's overlay port, the boot-event
 * bus), the gauges read the services and the running servers when scraped. The protocol servers never see
 * this object, only their callbacks.
 */
export function serveMetrics(svc: Services, leases: LeaseStore, running: () => { tftp?: TftpServer; dhcp?: DhcpServer }) {
  const m = droverMetrics();
  const last = new Map<string, { stage: string; at: number }>();
  const unsubscribe = svc.events.subscribe((e) => {
    m.inc("drover_boot_events_total", { stage: e.stage, known: String(e.known) });
    if (!e.node || NOT_STAGES.has(e.stage)) return;
    const prev = last.get(e.node);
    last.set(e.node, { stage: e.stage, at: e.at });
    // The time spent getting from the previous stage of this boot to this one (within an hour: not a reboot).
    if (prev && !SETTLED.has(prev.stage) && prev.stage !== e.stage && e.at >= prev.at && e.at - prev.at < 3_600_000)
      m.observe("drover_boot_stage_duration_seconds", (e.at - prev.at) / 1000, { stage: e.stage });
  });
  m.gauge("drover_nodes", "Nodes by boot state (booted, booting, overdue, error, never seen)", () => {
    const seen = svc.bootStatus.seen();
    const by = new Map<string, number>([
      ["booted", 0],
      ["booting", 0],
      ["overdue", 0],
      ["error", 0],
    ]);
    for (const r of seen) by.set(r.state, (by.get(r.state) ?? 0) + 1);
    const total = svc.nodes.counts().nodes;
    // seen() also has rows of nodes deleted since; never below zero.
    by.set("never seen", Math.max(0, total - [...by.values()].reduce((a, b) => a + b, 0)));
    return [...by].map(([state, n]) => [{ state }, n]);
  })
    .gauge("drover_dhcp_leases", "DHCP leases held, by kind (reserved: a node's own address; pool), unexpired only", () => {
      const now = Date.now();
      const live = leases.all().filter((l) => l.expiresAt > now);
      const reserved = live.filter((l) => l.node).length;
      return [
        [{ kind: "reserved" }, reserved],
        [{ kind: "pool" }, live.length - reserved],
      ];
    })
    .gauge("drover_tftp_active_transfers", "TFTP transfers in progress", () => running().tftp?.stats().active ?? 0)
    .gauge("drover_build_info", "drover's version and commit (always 1)", () => [[{ version: VERSION, commit: COMMIT }, 1]])
    .gauge("process_resident_memory_bytes", "Resident memory of the drover serve process", () => process.memoryUsage().rss)
    .gauge("process_heap_bytes", "JavaScript heap in use", () => process.memoryUsage().heapUsed)
    .gauge("process_start_time_seconds", "When the process started, in seconds since the epoch", () =>
      Math.round((Date.now() - process.uptime() * 1000) / 1000),
    )
    .gauge(
      "process_cpu_seconds_total",
      "CPU time used by the process (user + system)",
      () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1e6;
      },
      "counter",
    );
  return {
    metrics: m,
    http: { port: m, render: () => m.render() },
    onDhcpPacket: (type: string, outcome: string) => m.inc("drover_dhcp_packets_total", { type, outcome }),
    onTftpTransfer: (t: TransferRecord) => {
      m.inc("drover_tftp_transfers_total", { outcome: t.ok ? "ok" : "failed" });
      if (t.bytes > 0) m.inc("drover_tftp_bytes_total", {}, t.bytes);
    },
    /** The boot service's overlay port, timed and counted (the time includes a build when the archive was stale). */
    overlays: (o: OverlayArtifacts): OverlayArtifacts => ({
      archive: async (kind, node) => {
        const t0 = performance.now();
        const out = await o.archive(kind, node);
        m.observe("drover_overlay_archive_duration_seconds", (performance.now() - t0) / 1000, { kind });
        m.inc("drover_overlay_archives_total", { kind, outcome: "refused" in out ? "refused" : "served" });
        return out;
      },
    }),
    stop: () => unsubscribe(),
  };
}
