import { resolve } from "node:path";

/**
 * Where drover keeps its state: `--data-dir`, else $DROVER_DATA_DIR, else /var/lib/drover for root
 * and ./.drover for anyone else (so trying drover out needs no root).
 */
export function resolveDataDir(flag: string | undefined, env: Record<string, string | undefined> = process.env): string {
  const dir = flag ?? env.DROVER_DATA_DIR ?? (process.getuid?.() === 0 ? "/var/lib/drover" : ".drover");
  return resolve(dir);
}
