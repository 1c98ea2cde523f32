import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DroverError, invalid } from "../domain/errors";
import type { Io } from "./output";

/**
 * Opens text in $EDITOR (then $VISUAL, then vi) and hands the result to `apply`. When `apply` throws a
 * DroverError the admin sees it and, on a terminal, may edit again; nothing is written until `apply` succeeds.
 * Returns false when the file was left unchanged.
 */
export async function editLoop(io: Io, text: string, apply: (edited: string) => void): Promise<boolean> {
  const editor = io.env.EDITOR || io.env.VISUAL || "vi";
  const dir = mkdtempSync(join(tmpdir(), "drover-edit-"));
  const file = join(dir, "edit.yaml");
  try {
    writeFileSync(file, text, { mode: 0o600 });
    for (;;) {
      const proc = Bun.spawnSync(["sh", "-c", `${editor} "$1"`, "sh", file], { stdio: ["inherit", "inherit", "inherit"] });
      if (proc.exitCode !== 0) throw invalid(`the editor (${editor}) exited with status ${proc.exitCode}; nothing was changed`);
      const edited = readFileSync(file, "utf8");
      if (edited === text) return false;
      try {
        apply(edited);
        return true;
      } catch (e) {
        if (!(e instanceof DroverError) || !io.isTTY || !io.prompt) throw e;
        io.err(`drover: ${e.message}\n`);
        const a = await io.prompt("Edit again? [Y/n] ");
        if (/^n/i.test(a ?? "n")) throw invalid("edit abandoned; nothing was changed");
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
