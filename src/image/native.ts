/**
 * The few Linux calls Node's fs lacks and an image needs: extended attributes (file capabilities such as
 * `security.capability` on ping), device nodes, and atomic directory exchange (renameat2 RENAME_EXCHANGE,
 * so `image import --force` swaps the old and new rootfs in one step). glibc through runtime/libc.ts.
 */
import { AT_FDCWD, cstr, ENODATA, EOPNOTSUPP, ERANGE, errno as lastErrno, errnoName, libc, RENAME_EXCHANGE } from "../runtime/libc";

function fail(call: string, path: string): never {
  const errno = lastErrno();
  const code = errnoName(errno);
  const e = new Error(`${call} ${path}: ${code}`) as NodeJS.ErrnoException;
  e.code = code;
  e.errno = errno;
  throw e;
}

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
      const errno = lastErrno();
      if (errno === ERANGE) continue;
      if (errno === EOPNOTSUPP || errno === ENODATA) return [];
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
      const errno = lastErrno();
      if (errno === ERANGE) continue;
      if (errno === ENODATA || errno === EOPNOTSUPP) return undefined;
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

/** Atomically swaps two existing paths (both must exist). */
export function exchange(a: string, b: string): void {
  if (libc().renameat2(AT_FDCWD, cstr(a), AT_FDCWD, cstr(b), RENAME_EXCHANGE) !== 0) fail("renameat2", a);
}
