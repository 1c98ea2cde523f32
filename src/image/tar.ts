/**
 * A streaming tar reader (ustar, GNU long names, PAX with binary-safe xattr values) and a small writer.
 *
 * Why not tar-stream: PAX values are byte strings, and `SCHILY.xattr.security.capability` is binary; a
 * reader that decodes them as UTF-8 silently corrupts file capabilities (ping loses cap_net_raw). This
 * reader keeps values as bytes and checks every header's checksum, so a damaged layer fails with its offset.
 */
export type EntryType = "file" | "dir" | "symlink" | "link" | "char" | "block" | "fifo";

export interface TarEntry {
  path: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (no file-type bits). */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Seconds since the epoch (fractional with PAX). */
  mtime: number;
  size: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Uint8Array>;
}

export class TarError extends Error {}

/** Pulls exact byte counts out of an async stream of chunks. */
class ByteReader {
  private buf: Uint8Array = new Uint8Array(0);
  private off = 0;
  private done = false;
  /** Bytes consumed so far (for error messages). */
  pos = 0;
  constructor(private readonly it: AsyncIterator<Uint8Array>) {}

  private async more(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    const rest = this.buf.length - this.off;
    if (rest === 0) this.buf = r.value;
    else {
      const b = new Uint8Array(rest + r.value.length);
      b.set(this.buf.subarray(this.off));
      b.set(r.value, rest);
      this.buf = b;
    }
    this.off = 0;
    return true;
  }

  /** Exactly n bytes, or fewer only at end of stream. */
  async read(n: number): Promise<Uint8Array> {
    while (this.buf.length - this.off < n) if (!(await this.more())) break;
    const take = Math.min(n, this.buf.length - this.off);
    const out = this.buf.subarray(this.off, this.off + take);
    this.off += take;
    this.pos += take;
    return out;
  }

  /** Up to n bytes as they arrive (at least 1 unless the stream ended). */
  async chunk(n: number): Promise<Uint8Array> {
    if (this.buf.length - this.off === 0 && !(await this.more())) return new Uint8Array(0);
    const take = Math.min(n, this.buf.length - this.off);
    const out = this.buf.subarray(this.off, this.off + take);
    this.off += take;
    this.pos += take;
    return out;
  }

  async skip(n: number): Promise<void> {
    while (n > 0) {
      const c = await this.chunk(n);
      if (c.length === 0) throw new TarError(`archive is truncated at byte ${this.pos}`);
      n -= c.length;
    }
  }
}

const dec = new TextDecoder();
function str(b: Uint8Array, start: number, len: number): string {
  let end = start;
  while (end < start + len && b[end] !== 0) end++;
  return dec.decode(b.subarray(start, end));
}

function num(b: Uint8Array, start: number, len: number): number {
  if (b[start]! & 0x80) {
    // GNU base-256: big-endian two's complement with the top bit as marker.
    let v = 0;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + b[i]!;
    return v + (b[start]! & 0x3f) * 256 ** (len - 1);
  }
  const s = str(b, start, len).trim();
  return s ? Number.parseInt(s, 8) : 0;
}

function checksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : b[i]!;
  return sum;
}

/** PAX records: `LEN KEY=VALUE\n`, LEN counting the whole record; VALUE kept as bytes. */
function parsePax(b: Uint8Array): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let i = 0;
  while (i < b.length) {
    let sp = i;
    while (sp < b.length && b[sp] !== 0x20) sp++;
    const len = Number.parseInt(dec.decode(b.subarray(i, sp)), 10);
    if (!Number.isFinite(len) || len <= 0 || i + len > b.length) {
      if (b.subarray(i).every((x) => x === 0)) break;
      throw new TarError("malformed PAX header");
    }
    const rec = b.subarray(sp + 1, i + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq > 0) out.set(dec.decode(rec.subarray(0, eq)), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

const TYPES: Record<string, EntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "link",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "dir",
  "6": "fifo",
};

/**
 * Reads a tar stream, calling `onEntry` for each member with a function that streams its body.
 * The callback must consume the body (or not call it: it is skipped). Throws TarError on damage.
 */
export async function readTar(
  src: AsyncIterable<Uint8Array>,
  onEntry: (e: TarEntry, body: () => AsyncGenerator<Uint8Array>) => Promise<void> | void,
): Promise<void> {
  const r = new ByteReader(src[Symbol.asyncIterator]());
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Map<string, Uint8Array> | undefined;
  const globalPax = new Map<string, Uint8Array>();
  let sawAny = false;
  for (;;) {
    const at = r.pos;
    const h = await r.read(512);
    if (h.length === 0) {
      if (!sawAny) throw new TarError("archive is empty");
      return; // EOF without the two zero blocks: tolerated, as GNU tar does
    }
    if (h.length < 512) throw new TarError(`archive is truncated at byte ${r.pos}`);
    if (h.every((x) => x === 0)) return;
    const stored = num(h, 148, 8);
    if (stored !== checksum(h)) throw new TarError(`bad tar header checksum at byte ${at} (not a tar archive, or damaged)`);
    sawAny = true;
    const flag = String.fromCharCode(h[156]!);
    let size = num(h, 124, 12);
    const padded = (n: number) => Math.ceil(n / 512) * 512;
    if (flag === "L" || flag === "K" || flag === "x" || flag === "g") {
      const data = await r.read(size);
      if (data.length < size) throw new TarError(`archive is truncated at byte ${r.pos}`);
      await r.skip(padded(size) - size);
      if (flag === "L") longName = str(data, 0, data.length);
      else if (flag === "K") longLink = str(data, 0, data.length);
      else if (flag === "x") pax = parsePax(data.slice());
      else for (const [k, v] of parsePax(data.slice())) globalPax.set(k, v);
      continue;
    }
    const type = TYPES[flag];
    const magic = str(h, 257, 6);
    let path = str(h, 0, 100);
    if (magic === "ustar") {
      const prefix = str(h, 345, 155);
      if (prefix) path = `${prefix}/${path}`;
    }
    const p = new Map([...globalPax, ...(pax ?? [])]);
    const pstr = (k: string) => (p.has(k) ? dec.decode(p.get(k)) : undefined);
    path = pstr("path") ?? longName ?? path;
    const linkname = pstr("linkpath") ?? longLink ?? str(h, 157, 100);
    if (p.has("size")) size = Number(pstr("size"));
    const xattrs = new Map<string, Uint8Array>();
    for (const [k, v] of p) {
      if (k.startsWith("SCHILY.xattr.")) xattrs.set(k.slice(13), v);
      else if (k.startsWith("LIBARCHIVE.xattr.")) xattrs.set(decodeURIComponent(k.slice(17)), Buffer.from(dec.decode(v), "base64"));
    }
    const entry: TarEntry = {
      path,
      type: type ?? "file",
      mode: num(h, 100, 8) & 0o7777,
      uid: p.has("uid") ? Number(pstr("uid")) : num(h, 108, 8),
      gid: p.has("gid") ? Number(pstr("gid")) : num(h, 116, 8),
      uname: pstr("uname") ?? str(h, 265, 32),
      gname: pstr("gname") ?? str(h, 297, 32),
      mtime: p.has("mtime") ? Number(pstr("mtime")) : num(h, 136, 12),
      size: type === "file" || type === undefined ? size : 0,
      linkname,
      devmajor: num(h, 329, 8),
      devminor: num(h, 337, 8),
      xattrs,
    };
    longName = longLink = pax = undefined;
    // Sparse files (GNU tar --sparse, PAX GNU.sparse.*; GNU type 'S'): their data is a map and pieces, not the
    // file. Stored as read, the image would hold the map where the file should be; refuse instead.
    if (flag === "S" || [...p.keys()].some((k) => k.startsWith("GNU.sparse."))) {
      throw new TarError(
        `'${path}' is stored as a sparse file (GNU tar --sparse), which drover does not expand; rebuild the layer without --sparse (e.g. docker build or tar without -S)`,
      );
    }
    if (type === undefined) {
      // Unknown member types (e.g. GNU sparse 'S', volume labels) are skipped, not misread as files.
      await r.skip(padded(size));
      continue;
    }
    let left = size;
    let consumed = false;
    const body = async function* () {
      consumed = true;
      while (left > 0) {
        const c = await r.chunk(Math.min(left, 1 << 20));
        if (c.length === 0) throw new TarError(`archive is truncated inside ${path} at byte ${r.pos}`);
        left -= c.length;
        yield c;
      }
    };
    await onEntry(entry, body);
    if (!consumed || left > 0) await r.skip(left);
    await r.skip(padded(size) - size);
  }
}

// ---- writer (fixtures, docker/oci archives in tests, image export) ----

const enc = new TextEncoder();

function octal(b: Uint8Array, off: number, len: number, v: number) {
  const s = Math.floor(v)
    .toString(8)
    .padStart(len - 1, "0");
  if (s.length > len - 1) throw new TarError(`value ${v} does not fit a tar header field`);
  b.set(enc.encode(s), off);
}

function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const body = new Uint8Array([...enc.encode(` ${key}=`), ...value, 0x0a]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return new Uint8Array([...enc.encode(String(len)), ...body]);
}

const FLAG: Record<EntryType, string> = { file: "0", link: "1", symlink: "2", char: "3", block: "4", dir: "5", fifo: "6" };

function header(name: string, flag: string, size: number, e: Partial<TarEntry>): Uint8Array {
  const h = new Uint8Array(512);
  h.set(enc.encode(name).subarray(0, 100), 0);
  octal(h, 100, 8, e.mode ?? 0o644);
  octal(h, 108, 8, e.uid ?? 0);
  octal(h, 116, 8, e.gid ?? 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, e.mtime ?? 0);
  h[156] = flag.charCodeAt(0);
  h.set(enc.encode((e.linkname ?? "").slice(0, 100)), 157);
  h.set(enc.encode("ustar\0"), 257);
  h.set(enc.encode("00"), 263);
  h.set(enc.encode(e.uname ?? ""), 265);
  h.set(enc.encode(e.gname ?? ""), 297);
  octal(h, 329, 8, e.devmajor ?? 0);
  octal(h, 337, 8, e.devminor ?? 0);
  h.fill(0x20, 148, 156);
  octal(h, 148, 7, checksum(h));
  h[155] = 0x20;
  return h;
}

const pad = (n: number) => new Uint8Array((512 - (n % 512)) % 512);

/** Serialises entries (with bodies) to a tar archive in memory. Long names, xattrs and big ids use PAX. */
export function writeTar(entries: readonly (Partial<TarEntry> & { path: string; type: EntryType; data?: Uint8Array | string })[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = typeof e.data === "string" ? enc.encode(e.data) : (e.data ?? new Uint8Array(0));
    const recs: Uint8Array[] = [];
    const name = e.type === "dir" && !e.path.endsWith("/") ? `${e.path}/` : e.path;
    if (enc.encode(name).length > 100) recs.push(paxRecord("path", enc.encode(name)));
    if (e.linkname && enc.encode(e.linkname).length > 100) recs.push(paxRecord("linkpath", enc.encode(e.linkname)));
    if (e.mtime !== undefined && !Number.isInteger(e.mtime)) recs.push(paxRecord("mtime", enc.encode(String(e.mtime))));
    for (const [k, v] of e.xattrs ?? []) recs.push(paxRecord(`SCHILY.xattr.${k}`, v));
    if (recs.length) {
      const body = new Uint8Array(recs.reduce((n, r) => n + r.length, 0));
      let o = 0;
      for (const r of recs) body.set(r, o), (o += r.length);
      parts.push(header("PaxHeader", "x", body.length, {}), body, pad(body.length));
    }
    parts.push(header(name, FLAG[e.type], data.length, e), data, pad(data.length));
  }
  parts.push(new Uint8Array(1024));
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) out.set(p, o), (o += p.length);
  return out;
}
