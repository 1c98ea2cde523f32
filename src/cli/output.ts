import { stringify } from "yaml";

/** Where commands write. Tests pass a capturing sink; main passes stdout/stderr. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  isTTY: boolean;
  env: Record<string, string | undefined>;
  /** Reads a line from the terminal (confirmations); undefined when there is no terminal. */
  prompt?(question: string): Promise<string | undefined>;
}

export type Format = "table" | "json" | "yaml";

export function formatOf(opts: { json?: boolean; yaml?: boolean }): Format {
  return opts.json ? "json" : opts.yaml ? "yaml" : "table";
}

/** Prints data as JSON or YAML; tables are the caller's. */
export function emit(io: Io, format: Exclude<Format, "table">, data: unknown) {
  io.out(format === "json" ? `${JSON.stringify(data, null, 2)}\n` : stringify(data, { lineWidth: 0 }));
}

/** A plain aligned table: header row, then rows; the last column is not padded. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join("\n")}\n`;
}
