import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createServices } from "../../../src/app";
import { encode } from "../../../src/protocols/dhcp/codec";
import { MessageType } from "../../../src/protocols/dhcp/options";
import { messageTypeName } from "../../../src/protocols/dhcp/server";
import { serveMetrics } from "../../../src/serve-metrics";
import { Metrics } from "../../../src/services/metrics";
import { sqliteLeaseStore } from "../../../src/store/boot-store";
import { request } from "../dhcp/fixtures";
import { drover, tempDir } from "../../helpers/cli";

const t = tempDir("drover-metrics-");
afterAll(() => t.cleanup());

describe("Prometheus text format", () => {
  test("counters with escaped labels, histograms with cumulative buckets, +Inf, sum and count; gauges read when scraped", () => {
    let rss = 1;
    const m = new Metrics()
      .counter("x_total", "things")
      .histogram("d_seconds", "durations", [0.1, 1])
      .gauge("g", "a gauge", () => rss);
    m.inc("x_total", { route: '/a"b\\c', code: "200" });
    m.inc("x_total", { code: "200", route: '/a"b\\c' }, 2);
    m.observe("d_seconds", 0.05, { stage: "kernel" });
    m.observe("d_seconds", 0.5, { stage: "kernel" });
    m.observe("d_seconds", 5, { stage: "kernel" });
    rss = 42;
    expect(m.render()).toBe(
      [
        "# HELP x_total things",
        "# TYPE x_total counter",
        'x_total{code="200",route="/a\\"b\\\\c"} 3',
        "# HELP d_seconds durations",
        "# TYPE d_seconds histogram",
        'd_seconds_bucket{stage="kernel",le="0.1"} 1',
        'd_seconds_bucket{stage="kernel",le="1"} 2',
        'd_seconds_bucket{stage="kernel",le="+Inf"} 3',
        'd_seconds_sum{stage="kernel"} 5.55',
        'd_seconds_count{stage="kernel"} 3',
        "# HELP g a gauge",
        "# TYPE g gauge",
        "g 42",
        "",
      ].join("\n"),
    );
  });

  test("a DHCP datagram's message type is read from its option 53", () => {
    expect(messageTypeName(encode(request({ type: MessageType.DISCOVER })))).toBe("DISCOVER");
    expect(messageTypeName(encode(request({ type: MessageType.REQUEST })))).toBe("REQUEST");
    expect(messageTypeName(new Uint8Array(300))).toBe("none");
    expect(messageTypeName(new Uint8Array(10))).toBe("none");
  });
});

describe("drover serve's metrics", () => {
  test("boot stage durations (time from the previous stage), nodes by state, leases, overlay archives", async () => {
    const dir = `${t.dir}/d`;
    expect((await drover(dir, "node", "add", "n[1-3]", "--ipaddr", "10.0.0.11/24")).code).toBe(0);
    const svc = createServices(dir);
    try {
      const leases = sqliteLeaseStore(svc.store.db);
      leases.put({ mac: "52:54:00:00:00:01", ip: "10.0.0.11", expiresAt: Date.now() + 60_000, node: "n1" });
      leases.put({ mac: "52:54:00:00:00:09", ip: "10.0.0.200", expiresAt: Date.now() + 60_000 });
      leases.put({ mac: "52:54:00:00:00:08", ip: "10.0.0.201", expiresAt: Date.now() - 1 });
      const obs = serveMetrics(svc, leases, () => ({}));
      const t0 = Date.now();
      const ev = (stage: string, at: number) => svc.bootState.record({ node: "n1", mac: "52:54:00:00:00:01", stage, at });
      ev("ipxe", t0);
      ev("kernel", t0 + 1_500);
      ev("booted", t0 + 40_000);
      ev("heartbeat", t0 + 100_000);
      // The next boot, hours later: its first stage is not timed from 'booted'.
      ev("ipxe", t0 + 10_000_000);
      const archive = obs.overlays({ archive: async () => ({ refused: true, status: 404, message: "no" }) });
      await archive.archive("system", "n2");
      obs.onDhcpPacket("DISCOVER", "replied");
      obs.onTftpTransfer({ file: "undionly.kpxe", client: { address: "10.0.0.5", port: 2000 }, ok: true, bytes: 70_000 });
      const text = obs.http.render();
      expect(text).toContain('drover_boot_stage_duration_seconds_bucket{stage="kernel",le="2.5"} 1');
      expect(text).toContain('drover_boot_stage_duration_seconds_bucket{stage="kernel",le="1"} 0');
      expect(text).toContain('drover_boot_stage_duration_seconds_sum{stage="booted"} 38.5');
      expect(text).toContain('drover_boot_stage_duration_seconds_count{stage="booted"} 1');
      expect(text).not.toContain('drover_boot_stage_duration_seconds_count{stage="ipxe"}');
      expect(text).toContain('drover_boot_events_total{known="true",stage="ipxe"} 2');
      expect(text).toContain('drover_nodes{state="booting"} 1');
      expect(text).toContain('drover_nodes{state="never seen"} 2');
      expect(text).toContain('drover_dhcp_leases{kind="reserved"} 1');
      expect(text).toContain('drover_dhcp_leases{kind="pool"} 1');
      expect(text).toContain('drover_overlay_archives_total{kind="system",outcome="refused"} 1');
      expect(text).toContain('drover_dhcp_packets_total{outcome="replied",type="DISCOVER"} 1');
      expect(text).toContain('drover_tftp_transfers_total{outcome="ok"} 1');
      expect(text).toContain("drover_tftp_bytes_total 70000");
      expect(text).toMatch(/\nprocess_resident_memory_bytes \d+\n/);
      expect(text).toContain("# TYPE process_cpu_seconds_total counter");
      // The shipped dashboard plots only what /metrics has.
      const dashboard = readFileSync(join(import.meta.dir, "../../../docs/grafana-dashboard.json"), "utf8");
      const used = new Set([...dashboard.matchAll(/\b((?:drover|process)_[a-z_]+)/g)].map((m) => m[1]!.replace(/_bucket$/, "")));
      expect([...used].filter((n) => !text.includes(`# TYPE ${n} `))).toEqual([]);
      obs.stop();
    } finally {
      svc.close();
    }
  });
});
