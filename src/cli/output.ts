import { readFileSync, statSync } from "node:fs";
import { stringify } from "yaml";
import { invalid } from "../domain/errors";

/**
 * Where commands write, and the user's side of a command: the terminal, the files named on the command line,
 * the editor. Tests pass a capturing sink; main passes stdout/stderr. When a command runs on a head node for
 * `drover --server` (remote), the server passes hooks that forward each of these to the client's machine.
 */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  isTTY: boolean;
  env: Record<string, string | undefined>;
  /** Reads a line from the terminal (confirmations); undefined when there is no terminal. */
  prompt?(question: string): Promise<string | undefined>;
  /**
   * Reads a file the user named on the command line ("-" is standard input), on the user's machine.
   * Fails with an Error whose `code` is an errno code (ENOENT, EISDIR …) or ETOOBIG. Absent: this host's fs.
   */
  readFile?(path: string): Promise<UserFile>;
  /** Opens text in the user's editor and returns the saved text. Absent: $EDITOR on this host (editor.ts). */
  edit?(text: string): Promise<string>;
  /** The command runs on the head node for a remote client (`drover --server`); see program.ts LOCAL_ONLY. */
  remote?: boolean;
}

/** A file read for a command: its bytes, and its permission bits and owner where they mean something. */
export interface UserFile {
  data: Uint8Array;
  mode?: number;
  uid?: number;
  gid?: number;
}

/** A file the user named: through the Io's hook when it has one (remote), else from this host. */
export function readUserFile(io: Io, path: string): Promise<UserFile> {
  return io.readFile ? io.readFile(path) : Promise.resolve(readLocalFile(path));
}

/**
 * Reads a file on this host, or standard input for "-"; the one reader behind local commands and behind a
 * remote client answering the server. `max` caps the size (remote); errors carry a `code` (see Io.readFile).
 */
export function readLocalFile(path: string, max = Number.POSITIVE_INFINITY): UserFile {
  const fail = (code: string, message: string) => Object.assign(new Error(message), { code });
  const tooBig = () => fail("ETOOBIG", `${path} is larger than ${max / 1024 / 1024} MiB; copy it to the head node and run the command there`);
  if (path === "-") {
    const data = new Uint8Array(readFileSync(0));
    if (data.length > max) throw tooBig();
    return { data };
  }
  const st = statSync(path); // ENOENT, EACCES … as they come
  if (st.isFile() && st.size > max) throw tooBig();
  const data = new Uint8Array(readFileSync(path)); // EISDIR for a directory; a pipe (<(…)) is read to its end
  if (data.length > max) throw tooBig();
  return { data, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

/** The errno-like code of a failed readUserFile (ENOENT, EISDIR, ETOOBIG …), if any. */
export const fileErrorCode = (e: unknown): string | undefined => (e as { code?: unknown })?.code as string | undefined;

/** A text file the user named (a config to import), as readUserFile reads it; a failure is an `invalid` naming it. */
export async function readUserText(io: Io, path: string): Promise<string> {
  try {
    return new TextDecoder().decode((await readUserFile(io, path)).data);
  } catch (e) {
    const code = fileErrorCode(e);
    throw invalid(`cannot read ${path}: ${code && code !== "ETOOBIG" ? code : (e as Error).message}`);
  }
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

/**
 * Asks "question? [y/N]" on the user's terminal and says whether they answered y or yes. Without a terminal
 * there is no one to ask and the answer is yes (scripts, remote clients without one); `question` is only
 * built when it is asked.
 */
export async function confirmed(io: Io, question: () => string): Promise<boolean> {
  if (!io.isTTY || !io.prompt) return true;
  return /^y(es)?$/i.test((await io.prompt(`${question()} [y/N] `)) ?? "");
}
