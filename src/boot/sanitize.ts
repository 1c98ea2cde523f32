/**
 * The one sanitiser for every file name served by TFTP or HTTP. Protocol code calls it on the name as the
 * client sent it (TFTP: the RRQ filename; HTTP: the already percent-decoded path below the route prefix —
 * never decode twice) and opens only the `name` it returns.
 *
 * Contract:
 * - Refused outright: NUL, backslashes, control characters (C0, DEL, C1), Unicode line separators, names
 *   longer than MAX_NAME_LENGTH characters or with a segment longer than MAX_SEGMENT_LENGTH, Windows drive
 *   letters (`C:`), and `..` segments that would climb above the root.
 * - One leading `/` means "the root of the boot tree" and is dropped: TFTP clients (PXE ROMs, GRUB) often
 *   ask for `/undionly.kpxe`. A name that is still absolute after that (`//etc/passwd`) is refused. So
 *   `/etc/passwd` becomes `etc/passwd` inside the boot tree — served only if the tree has such a file.
 * - `.` segments and empty segments (`a//b`) are dropped; `a/../b` becomes `b` (it never leaves the root).
 * - The result is relative, uses `/` between segments, and is never empty.
 *
 * Pure function: no I/O, no symlink resolution (a BootFiles implementation over a directory checks that
 * the resolved path stays inside its root).
 */

export const MAX_NAME_LENGTH = 1024;
export const MAX_SEGMENT_LENGTH = 255;

export type SanitizeRejection = "empty" | "nul" | "backslash" | "control-character" | "too-long" | "absolute" | "escapes-root";

export type SanitizeResult = { ok: true; name: string } | { ok: false; reason: SanitizeRejection; detail: string };

// C0 controls except NUL (reported separately), DEL, C1 controls, U+2028/U+2029 (line/paragraph separators).
const CONTROL = /[\u0001-\u001f\u007f-\u009f\u2028\u2029]/;
const DRIVE = /^[A-Za-z]:/;

function reject(reason: SanitizeRejection, detail: string): SanitizeResult {
  return { ok: false, reason, detail };
}

export function sanitizeBootPath(raw: string): SanitizeResult {
  if (raw.length > MAX_NAME_LENGTH) return reject("too-long", `name is ${raw.length} characters (limit ${MAX_NAME_LENGTH})`);
  if (raw.includes("\u0000")) return reject("nul", "name contains a NUL byte");
  if (raw.includes("\\")) return reject("backslash", "name contains a backslash");
  const ctl = CONTROL.exec(raw);
  if (ctl) return reject("control-character", `name contains control character U+${ctl[0].charCodeAt(0).toString(16).padStart(4, "0")}`);
  const rel = raw.startsWith("/") ? raw.slice(1) : raw;
  if (rel.startsWith("/")) return reject("absolute", "name is an absolute path");
  const out: string[] = [];
  for (const seg of rel.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length === 0) return reject("escapes-root", "name climbs above the root with ..");
      out.pop();
      continue;
    }
    if (seg.length > MAX_SEGMENT_LENGTH) return reject("too-long", `a path segment is ${seg.length} characters (limit ${MAX_SEGMENT_LENGTH})`);
    out.push(seg);
  }
  if (out.length === 0) return reject("empty", "name is empty");
  if (DRIVE.test(out[0]!)) return reject("absolute", "name starts with a drive letter");
  return { ok: true, name: out.join("/") };
}
