/**
 * Stage 1's download progress as it is recorded: the detail of an `image` boot event, one per piece the
 * node asks for. One format, written here and read back by parseProgress (node status, the API, the page),
 * so progress needs no column of its own and survives a restart of drover like every other event.
 */
export interface StreamProgress {
  /** Bytes of the image the node had received when it asked for this piece. */
  bytes: number;
  total: number;
  /** Bytes per second, as the node measured it since the first piece (0 before the first piece). */
  rate: number;
  format: "gzip" | "zstd";
}

const MiB = 1048576;

export function formatProgress(p: StreamProgress): string {
  const pct = p.total ? Math.floor((p.bytes / p.total) * 100) : 0;
  return `stage 1 streaming the image (${p.format}): ${(p.bytes / MiB).toFixed(1)} of ${(p.total / MiB).toFixed(1)} MiB (${pct}%), ${(p.rate / MiB).toFixed(1)} MiB/s`;
}

const RE = /^stage 1 streaming the image \((gzip|zstd)\): ([\d.]+) of ([\d.]+) MiB \(\d+%\), ([\d.]+) MiB\/s$/;

export function parseProgress(detail: string | undefined): StreamProgress | undefined {
  const m = detail ? RE.exec(detail) : null;
  if (!m) return undefined;
  return {
    format: m[1] as "gzip" | "zstd",
    bytes: Math.round(Number(m[2]) * MiB),
    total: Math.round(Number(m[3]) * MiB),
    rate: Math.round(Number(m[4]) * MiB),
  };
}
