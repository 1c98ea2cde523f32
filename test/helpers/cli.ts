import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../src/cli/program";

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** Runs the drover CLI in-process against a data dir, capturing what it prints. */
export async function drover(dataDir: string, ...args: string[]): Promise<CliResult> {
  return droverWithEnv(dataDir, { EDITOR: "false" }, ...args);
}

/** Like drover(), with a chosen environment (e.g. EDITOR for `edit` commands). */
export async function droverWithEnv(dataDir: string, env: Record<string, string>, ...args: string[]): Promise<CliResult> {
  let out = "";
  let err = "";
  const code = await runCli(["--data-dir", dataDir, ...args], {
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    isTTY: false,
    env,
  });
  return { code, out, err };
}

/** A fresh temporary directory; remove it with the returned cleanup. */
export function tempDir(prefix = "drover-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
