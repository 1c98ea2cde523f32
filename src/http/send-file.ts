/**
 * Sends a file or a byte array as an HTTP response with the validators and ranges download tools and iPXE
 * rely on: ETag + If-None-Match (304), Range (206, one range; 416 when unsatisfiable), HEAD. Files stream
 * from disk (Bun.file slices are sent without buffering the whole file).
 */
import type { ArtifactPart } from "../boot/ports";
import { readParts, streamParts } from "../boot/artifact";

export interface Sendable {
  size: number;
  etag: string;
  /** A path on disk, files whose concatenation is the content (an overlay archive), or the bytes themselves. */
  path?: string;
  parts?: readonly ArtifactPart[];
  data?: Uint8Array;
  contentType?: string;
}

/**
 * Content in parts up to this size is read at once and sent with its length; larger content streams part
 * after part (Bun sends a streamed body chunked, without Content-Length). Overlay archives are kilobytes.
 */
const READ_AT_ONCE = 8 << 20;

export function sendFile(req: Request, f: Sendable): Response {
  const headers = new Headers({
    "accept-ranges": "bytes",
    etag: f.etag,
    "content-type": f.contentType ?? "application/octet-stream",
    "cache-control": "no-cache",
  });
  const inm = req.headers.get("if-none-match");
  if (inm && inm.split(",").some((t) => t.trim() === f.etag || t.trim() === "*")) return new Response(null, { status: 304, headers });
  const body = (start: number, end: number): BodyInit => {
    if (f.path) return Bun.file(f.path).slice(start, end);
    if (f.parts) return (end - start <= READ_AT_ONCE ? readParts(f.parts, start, end) : streamParts(f.parts, start, end)) as BodyInit;
    return f.data!.subarray(start, end) as Uint8Array<ArrayBuffer>;
  };
  const range = req.headers.get("range");
  const ifRange = req.headers.get("if-range");
  if (range && (!ifRange || ifRange === f.etag)) {
    const r = parseRange(range, f.size);
    if (r === "unsatisfiable") {
      headers.set("content-range", `bytes */${f.size}`);
      return new Response(null, { status: 416, headers });
    }
    if (r) {
      headers.set("content-range", `bytes ${r.start}-${r.end}/${f.size}`);
      headers.set("content-length", String(r.end - r.start + 1));
      return new Response(req.method === "HEAD" ? null : body(r.start, r.end + 1), { status: 206, headers });
    }
  }
  headers.set("content-length", String(f.size));
  return new Response(req.method === "HEAD" ? null : body(0, f.size), { status: 200, headers });
}

/** One `bytes=` range; several ranges or a malformed header are ignored (the whole file is sent, RFC 9110). */
export function parseRange(h: string, size: number): { start: number; end: number } | "unsatisfiable" | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const n = Number(m[2]);
    if (n === 0) return "unsatisfiable";
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (start >= size) return "unsatisfiable";
    if (end < start) return undefined;
  }
  return { start, end };
}
