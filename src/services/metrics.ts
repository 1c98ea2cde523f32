/**
 * Prometheus metrics without a client library: counters and histograms with labels, and gauges read at
 * scrape time, rendered in the text exposition format (version 0.0.4). One `Metrics` is made by the
 * composition root (`drover serve`) and handed, as the narrow `MetricsPort` below or as plain callbacks, to
 * the code that counts; nothing here is global, so every test gets its own.
 */

export type Labels = Record<string, string>;

/** What the protocol servers and the HTTP layer may do with metrics: count, observe, and nothing else. */
export interface MetricsPort {
  inc(name: string, labels?: Labels, by?: number): void;
  observe(name: string, value: number, labels?: Labels): void;
}

type Family =
  | { type: "counter"; help: string; values: Map<string, number> }
  | { type: "histogram"; help: string; buckets: number[]; values: Map<string, { counts: number[]; sum: number; count: number }> }
  | { type: "gauge" | "counter-fn"; help: string; collect: () => [Labels, number][] };

const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const labelText = (l: Labels) => {
  const keys = Object.keys(l).sort();
  return keys.length ? `{${keys.map((k) => `${k}="${escape(l[k]!)}"`).join(",")}}` : "";
};
const num = (n: number) => (Number.isFinite(n) ? String(n) : n > 0 ? "+Inf" : n < 0 ? "-Inf" : "NaN");

export class Metrics implements MetricsPort {
  private readonly families = new Map<string, Family>();

  counter(name: string, help: string): this {
    this.families.set(name, { type: "counter", help, values: new Map() });
    return this;
  }

  histogram(name: string, help: string, buckets: number[]): this {
    this.families.set(name, { type: "histogram", help, buckets: [...buckets].sort((a, b) => a - b), values: new Map() });
    return this;
  }

  /** A value read when scraped (node counts, memory); a collector that throws leaves its family empty. */
  gauge(name: string, help: string, collect: () => [Labels, number][] | number, kind: "gauge" | "counter" = "gauge"): this {
    this.families.set(name, {
      type: kind === "counter" ? "counter-fn" : "gauge",
      help,
      collect: () => {
        const v = collect();
        return typeof v === "number" ? [[{}, v]] : v;
      },
    });
    return this;
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    const f = this.families.get(name);
    if (f?.type !== "counter") throw new Error(`metrics: no counter ${name}`);
    const k = labelText(labels);
    f.values.set(k, (f.values.get(k) ?? 0) + by);
  }

  observe(name: string, value: number, labels: Labels = {}): void {
    const f = this.families.get(name);
    if (f?.type !== "histogram") throw new Error(`metrics: no histogram ${name}`);
    const k = labelText(labels);
    let h = f.values.get(k);
    if (!h) f.values.set(k, (h = { counts: f.buckets.map(() => 0), sum: 0, count: 0 }));
    f.buckets.forEach((b, i) => {
      if (value <= b) h!.counts[i]!++;
    });
    h.sum += value;
    h.count++;
  }

  /** The current value of a counter series (tests, /status). */
  value(name: string, labels: Labels = {}): number {
    const f = this.families.get(name);
    return f?.type === "counter" ? (f.values.get(labelText(labels)) ?? 0) : 0;
  }

  render(): string {
    const out: string[] = [];
    for (const [name, f] of this.families) {
      out.push(`# HELP ${name} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${name} ${f.type === "counter-fn" ? "counter" : f.type}`);
      if (f.type === "counter") for (const [k, v] of f.values) out.push(`${name}${k} ${num(v)}`);
      else if ("collect" in f) {
        let rows: [Labels, number][] = [];
        try {
          rows = f.collect();
        } catch {}
        for (const [l, v] of rows) out.push(`${name}${labelText(l)} ${num(v)}`);
      } else
        for (const [k, h] of f.values) {
          const inner = k.slice(1, -1);
          const withLe = (le: string) => `{${inner ? `${inner},` : ""}le="${le}"}`;
          f.buckets.forEach((b, i) => out.push(`${name}_bucket${withLe(num(b))} ${h.counts[i]}`));
          out.push(`${name}_bucket${withLe("+Inf")} ${h.count}`, `${name}_sum${k} ${num(h.sum)}`, `${name}_count${k} ${h.count}`);
        }
    }
    return `${out.join("\n")}\n`;
  }
}

/** Seconds buckets for boot stages: from a DHCP answer (ms) to an image download over a slow link (minutes). */
export const STAGE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];
/** Seconds buckets for HTTP requests and overlay archives. */
export const REQUEST_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The families `drover serve` exports; docs/operations.md lists them and docs/grafana-dashboard.json plots them. */
export function droverMetrics(): Metrics {
  return new Metrics()
    .counter("drover_dhcp_packets_total", "DHCP packets received, by message type (DISCOVER, REQUEST, …) and outcome (replied, handled, or the drop reason)")
    .counter("drover_tftp_transfers_total", "TFTP transfers finished, by outcome (ok, failed)")
    .counter("drover_tftp_bytes_total", "Bytes sent by finished TFTP transfers")
    .counter("drover_http_requests_total", "HTTP requests answered, by route, method and status code")
    .counter("drover_http_response_bytes_total", "HTTP response body bytes (as declared by Content-Length), by route")
    .histogram("drover_http_request_duration_seconds", "Time to the HTTP response's headers, by route", REQUEST_BUCKETS)
    .histogram("drover_boot_stage_duration_seconds", "Time from a node's previous boot stage to this one, by the stage reached", STAGE_BUCKETS)
    .counter("drover_boot_events_total", "Boot events recorded, by stage and whether the MAC belongs to a known node")
    .counter("drover_overlay_archives_total", "Overlay archives handed to booting nodes, by kind (system, runtime) and outcome (served, refused)")
    .histogram(
      "drover_overlay_archive_duration_seconds",
      "Time to have a node's overlay archive ready (long when it had to be built), by kind",
      REQUEST_BUCKETS,
    );
}
