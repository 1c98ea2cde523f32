import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DroverError, invalid } from "../domain/errors";
import type { Io } from "./output";

/**
 * Opens text in $EDITOR (then $VISUAL, then vi) on this host's terminal and returns what was saved. The
 * default behind Io.edit; a remote client runs it on its own machine when the head node asks.
 */
export async function runEditor(io: Pick<Io, "env">, text: string): Promise<string> {
  const editor = io.env.EDITOR || io.env.VISUAL || "vi";
  const dir = mkdtempSync(join(tmpdir(), "drover-edit-"));
  const file = join(dir, "edit.yaml");
  try {
    writeFileSync(file, text, { mode: 0o600 });
    const proc = Bun.spawnSync(["sh", "-c", `${editor} "$1"`, "sh", file], { stdio: ["inherit", "inherit", "inherit"] });
    if (proc.exitCode !== 0) throw invalid(`the editor (${editor}) exited with status ${proc.exitCode}; nothing was changed`);
    return readFileSync(file, "utf8");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Opens text in the user's editor (Io.edit, else runEditor) and hands the result to `apply`. When `apply` throws
 * a DroverError the admin sees it and, on a terminal, may edit again (starting from what they saved); nothing
 * is written until `apply` succeeds. Returns false when the text was left unchanged.
 */
export async function editLoop(io: Io, text: string, apply: (edited: string) => void | Promise<void>): Promise<boolean> {
  const edit = io.edit ? (t: string) => io.edit!(t) : (t: string) => runEditor(io, t);
  let current = text;
  for (;;) {
    const edited = await edit(current);
    if (edited === text) return false;
    try {
      await apply(edited);
      return true;
    } catch (e) {
      if (!(e instanceof DroverError) || !io.isTTY || !io.prompt) throw e;
      io.err(`drover: ${e.message}\n`);
      const a = await io.prompt("Edit again? [Y/n] ");
      if (/^n/i.test(a ?? "n")) throw invalid("edit abandoned; nothing was changed");
      current = edited;
    }
  }
}
