import { dlopen, FFIType, type Pointer, toArrayBuffer } from "bun:ffi";

/**
 * The few Linux calls Node's fs lacks and an image needs: extended attributes (file capabilities such as
 * `security.capability` on ping), device nodes, and atomic directory exchange (renameat2 RENAME_EXCHANGE,
 * so `image import --force` swaps the old and new rootfs in one step). Loaded lazily from glibc.
 */
const T = FFIType;
let lib: ReturnType<typeof open> | undefined;
function open() {
  return dlopen("libc.so.6", {
    lsetxattr: { args: [T.ptr, T.ptr, T.ptr, T.u64, T.i32], returns: T.i32 },
    lgetxattr: { args: [T.ptr, T.ptr, T.ptr, T.u64], returns: T.i64 },
    llistxattr: { args: [T.ptr, T.ptr, T.u64], returns: T.i64 },
    lremovexattr: { args: [T.ptr, T.ptr], returns: T.i32 },
    mknod: { args: [T.ptr, T.u32, T.u64], returns: T.i32 },
    renameat2: { args: [T.i32, T.ptr, T.i32, T.ptr, T.u32], returns: T.i32 },
    __errno_location: { args: [], returns: T.ptr },
  });
}
const libc = () => (lib ??= open()).symbols;

/** A NUL-terminated copy of s; a typed array passed for a `ptr` argument is handed to C as its address. */
const cstr = (s: string) => Buffer.from(`${s}\0`, "utf8");

const ERRNO: Record<number, string> = { 1: "EPERM", 2: "ENOENT", 13: "EACCES", 17: "EEXIST", 22: "EINVAL", 28: "ENOSPC", 61: "ENODATA", 95: "EOPNOTSUPP", 122: "EDQUOT" };
function fail(call: string, path: string): never {
  const p = libc().__errno_location() as Pointer;
  const errno = new Int32Array(toBuf(p, 4))[0] ?? 0;
  const code = ERRNO[errno] ?? `errno ${errno}`;
  const e = new Error(`${call} ${path}: ${code}`) as NodeJS.ErrnoException;
  e.code = code;
  e.errno = errno;
  throw e;
}
const toBuf = (p: Pointer, n: number) => toArrayBuffer(p, 0, n);

export function setXattr(path: string, name: string, value: Uint8Array): void {
  const v = value.length ? value : new Uint8Array(1);
  if (libc().lsetxattr(cstr(path), cstr(name), v, value.length, 0) !== 0) fail("setxattr", path);
}

export function removeXattr(path: string, name: string): void {
  if (libc().lremovexattr(cstr(path), cstr(name)) !== 0) fail("removexattr", path);
}

export function listXattrs(path: string): string[] {
  const s = libc();
  const p = cstr(path);
  for (let size = 1024; size <= 1 << 20; size *= 4) {
    const buf = new Uint8Array(size);
    const n = Number(s.llistxattr(p, buf, size));
    if (n < 0) {
      const errno = new Int32Array(toBuf(s.__errno_location() as Pointer, 4))[0];
      if (errno === 34 /* ERANGE */) continue;
      if (errno === 95 || errno === 61) return [];
      fail("listxattr", path);
    }
    return Buffer.from(buf.subarray(0, n)).toString("utf8").split("\0").filter(Boolean);
  }
  return [];
}

export function getXattr(path: string, name: string): Uint8Array | undefined {
  const s = libc();
  for (let size = 256; size <= 1 << 20; size *= 4) {
    const buf = new Uint8Array(size);
    const n = Number(s.lgetxattr(cstr(path), cstr(name), buf, size));
    if (n < 0) {
      const errno = new Int32Array(toBuf(s.__errno_location() as Pointer, 4))[0];
      if (errno === 34) continue;
      if (errno === 61 || errno === 95) return undefined;
      fail("getxattr", path);
    }
    return buf.slice(0, n);
  }
  return undefined;
}

/** All xattrs of a path (not following symlinks), name → value. */
export function readXattrs(path: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const n of listXattrs(path)) {
    const v = getXattr(path, n);
    if (v) out.set(n, v);
  }
  return out;
}

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

/** Linux's dev_t encoding (glibc makedev). */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  if (libc().mknod(cstr(path), mode, makedev(major, minor)) !== 0) fail("mknod", path);
}

const AT_FDCWD = -100;
const RENAME_EXCHANGE = 2;
/** Atomically swaps two existing paths (both must exist). */
export function exchange(a: string, b: string): void {
  if (libc().renameat2(AT_FDCWD, cstr(a), AT_FDCWD, cstr(b), RENAME_EXCHANGE) !== 0) fail("renameat2", a);
}

