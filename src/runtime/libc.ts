/**
 * The one binding to glibc (bun:ffi) for the Linux calls Bun has no API for: raw and unix datagram sockets,
 * recvmmsg/sendmmsg, socket options, extended attributes, device nodes, renameat2. Users: the TFTP data plane,
 * the IPv6 RA server, DHCP's SO_BINDTODEVICE, sd_notify, the image engine's native calls.
 *
 * Opened lazily, once per thread (a Worker has its own module instance, so its own handle). The struct
 * layouts and constants below are those of x86-64 and arm64 Linux (LP64: pointers and size_t are 8 bytes);
 * drover runs on nothing else. A typed array passed for a `ptr` argument is handed to C as its address.
 */

// ---- constants (Linux, x86-64 and arm64) ----
/** sys/socket.h: address families, socket types, levels and options, send/receive flags. */
export const AF_UNIX = 1,
  AF_INET = 2,
  AF_INET6 = 10;
export const SOCK_DGRAM = 2,
  SOCK_RAW = 3,
  SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1,
  SO_SNDBUF = 7,
  SO_RCVBUF = 8,
  SO_RCVTIMEO = 20,
  SO_BINDTODEVICE = 25;
export const MSG_DONTWAIT = 0x40,
  MSG_NOSIGNAL = 0x4000,
  MSG_WAITFORONE = 0x10000;
/** netinet/in.h: IPv6 protocol levels and options. */
export const IPPROTO_IPV6 = 41,
  IPPROTO_ICMPV6 = 58;
export const IPV6_UNICAST_HOPS = 16,
  IPV6_MULTICAST_IF = 17,
  IPV6_MULTICAST_HOPS = 18,
  IPV6_JOIN_GROUP = 20;
/** fcntl.h and renameat2(2). */
export const F_SETFL = 4,
  O_NONBLOCK = 0o4000,
  AT_FDCWD = -100,
  RENAME_EXCHANGE = 2;
/** errno.h: the values drover looks at. */
export const EPERM = 1,
  ENOENT = 2,
  EINTR = 4,
  EBADF = 9,
  EAGAIN = 11,
  EACCES = 13,
  EEXIST = 17,
  EINVAL = 22;
export const ENOSPC = 28,
  ERANGE = 34,
  ENODATA = 61,
  EOPNOTSUPP = 95,
  EDQUOT = 122;
/** Names for the errno values drover reports to users. */
export const ERRNO_NAMES: Readonly<Record<number, string>> = {
  [EPERM]: "EPERM",
  [ENOENT]: "ENOENT",
  [EACCES]: "EACCES",
  [EEXIST]: "EEXIST",
  [EINVAL]: "EINVAL",
  [ENOSPC]: "ENOSPC",
  [ENODATA]: "ENODATA",
  [EOPNOTSUPP]: "EOPNOTSUPP",
  [EDQUOT]: "EDQUOT",
};

// ---- struct layouts: byte offsets and sizes ----
/** struct sockaddr_in: family (u16, host order), port (u16, network order), IPv4 address, zero padding. */
export const SOCKADDR_IN = { size: 16, family: 0, port: 2, addr: 4 } as const;
/** struct sockaddr_in6: family, port (network order), flowinfo, address (16 bytes), scope id (the interface). */
export const SOCKADDR_IN6 = { size: 28, family: 0, port: 2, flowinfo: 4, addr: 8, scopeId: 24 } as const;
/** struct sockaddr_un: family, then sun_path[108]. */
export const SOCKADDR_UN = { size: 110, family: 0, path: 2, pathMax: 108 } as const;
/** struct iovec: iov_base (pointer), iov_len (size_t). */
export const IOVEC = { size: 16, base: 0, len: 8 } as const;
/**
 * struct mmsghdr: a struct msghdr (msg_name pointer, msg_namelen u32 (+4 padding), msg_iov pointer,
 * msg_iovlen size_t, msg_control pointer, msg_controllen size_t, msg_flags i32) and msg_len (u32), padded to 64.
 */
export const MMSGHDR = { size: 64, name: 0, namelen: 8, iov: 16, iovlen: 24, control: 32, controllen: 40, flags: 48, len: 56 } as const;
/** struct timeval: tv_sec, tv_usec (both 8 bytes). */
export const TIMEVAL = { size: 16, sec: 0, usec: 8 } as const;
/** struct ipv6_mreq: the group address (16 bytes), the interface index (u32). */
export const IPV6_MREQ = { size: 20, addr: 0, ifindex: 16 } as const;

// ---- the binding ----
/** i64 results come back as number or bigint: compare them, or pass them through Number(). */
type I64 = number | bigint;
type Ptr = NodeJS.TypedArray | number | null;

export interface Libc {
  socket(domain: number, type: number, proto: number): number;
  bind(fd: number, addr: Ptr, len: number): number;
  setsockopt(fd: number, level: number, opt: number, val: Ptr, len: number): number;
  getsockopt(fd: number, level: number, opt: number, val: Ptr, len: Ptr): number;
  getsockname(fd: number, addr: Ptr, len: Ptr): number;
  /** `vec` and the result count mmsghdr entries (MMSGHDR); the kernel writes each entry's msg_len. */
  recvmmsg(fd: number, vec: Ptr, vlen: number, flags: number, timeout: Ptr): number;
  sendmmsg(fd: number, vec: Ptr, vlen: number, flags: number): number;
  sendto(fd: number, buf: Ptr, len: number, flags: number, addr: Ptr, addrlen: number): I64;
  recvfrom(fd: number, buf: Ptr, len: number, flags: number, addr: Ptr, addrlen: Ptr): I64;
  recv(fd: number, buf: Ptr, len: number, flags: number): I64;
  fcntl(fd: number, cmd: number, arg: number): number;
  close(fd: number): number;
  if_nametoindex(name: Ptr): number;
  lsetxattr(path: Ptr, name: Ptr, value: Ptr, size: number, flags: number): number;
  lgetxattr(path: Ptr, name: Ptr, value: Ptr, size: number): I64;
  llistxattr(path: Ptr, list: Ptr, size: number): I64;
  lremovexattr(path: Ptr, name: Ptr): number;
  mknod(path: Ptr, mode: number, dev: bigint): number;
  renameat2(olddirfd: number, oldpath: Ptr, newdirfd: number, newpath: Ptr, flags: number): number;
  __errno_location(): number;
}

type Ffi = typeof import("bun:ffi");
let ffiModule: Ffi | undefined;
let lib: Libc | undefined;

/** bun:ffi itself (ptr, read …), loaded on first use. */
export function ffi(): Ffi {
  return (ffiModule ??= require("bun:ffi") as Ffi);
}

/** The libc symbols, opened on first use in this thread. */
export function libc(): Libc {
  if (lib) return lib;
  const { dlopen, FFIType: T } = ffi();
  lib = dlopen("libc.so.6", {
    socket: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
    bind: { args: [T.i32, T.ptr, T.u32], returns: T.i32 },
    setsockopt: { args: [T.i32, T.i32, T.i32, T.ptr, T.u32], returns: T.i32 },
    getsockopt: { args: [T.i32, T.i32, T.i32, T.ptr, T.ptr], returns: T.i32 },
    getsockname: { args: [T.i32, T.ptr, T.ptr], returns: T.i32 },
    recvmmsg: { args: [T.i32, T.ptr, T.u32, T.i32, T.ptr], returns: T.i32 },
    sendmmsg: { args: [T.i32, T.ptr, T.u32, T.i32], returns: T.i32 },
    sendto: { args: [T.i32, T.ptr, T.u64, T.i32, T.ptr, T.u32], returns: T.i64 },
    recvfrom: { args: [T.i32, T.ptr, T.u64, T.i32, T.ptr, T.ptr], returns: T.i64 },
    recv: { args: [T.i32, T.ptr, T.u64, T.i32], returns: T.i64 },
    fcntl: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
    close: { args: [T.i32], returns: T.i32 },
    if_nametoindex: { args: [T.ptr], returns: T.u32 },
    lsetxattr: { args: [T.ptr, T.ptr, T.ptr, T.u64, T.i32], returns: T.i32 },
    lgetxattr: { args: [T.ptr, T.ptr, T.ptr, T.u64], returns: T.i64 },
    llistxattr: { args: [T.ptr, T.ptr, T.u64], returns: T.i64 },
    lremovexattr: { args: [T.ptr, T.ptr], returns: T.i32 },
    mknod: { args: [T.ptr, T.u32, T.u64], returns: T.i32 },
    renameat2: { args: [T.i32, T.ptr, T.i32, T.ptr, T.u32], returns: T.i32 },
    __errno_location: { args: [], returns: T.ptr },
  }).symbols as unknown as Libc;
  return lib;
}

/** This thread's errno, as left by the last failing call. */
export function errno(): number {
  return ffi().read.i32(libc().__errno_location() as never, 0);
}

/** The errno's name when drover knows it ("ENOENT"), else "errno N". */
export function errnoName(e: number): string {
  return ERRNO_NAMES[e] ?? `errno ${e}`;
}

// ---- small encoders ----
/** A NUL-terminated UTF-8 copy of s, for a `const char *` argument. */
export function cstr(s: string): Uint8Array {
  return new TextEncoder().encode(`${s}\0`);
}

/** A C int (4 bytes, host order), for setsockopt. */
export function cInt(v: number): Uint8Array {
  return new Uint8Array(Int32Array.of(v).buffer);
}

/** Writes a pointer-sized value (below 2^53) little-endian at a byte offset of a Uint32Array's buffer. */
export function setU64(v: Uint32Array, byteOffset: number, value: number): void {
  v[byteOffset >> 2] = value % 0x100000000;
  v[(byteOffset >> 2) + 1] = Math.floor(value / 0x100000000);
}

/** struct sockaddr_in for a dotted IPv4 address and port; throws on anything else. */
export function sockaddrIn(address: string, port: number): Uint8Array {
  const a = new Uint8Array(SOCKADDR_IN.size);
  new DataView(a.buffer).setUint16(SOCKADDR_IN.family, AF_INET, true);
  a[SOCKADDR_IN.port] = port >> 8;
  a[SOCKADDR_IN.port + 1] = port & 0xff;
  const parts = address.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${address}`);
  a.set(parts, SOCKADDR_IN.addr);
  return a;
}

/** struct sockaddr_un for a socket path ("@x" is the abstract name "\0x"), and the length to pass. */
export function sockaddrUn(path: string, what = "socket path"): { addr: Uint8Array; len: number } {
  const abstract = path.startsWith("@");
  const name = new TextEncoder().encode(abstract ? `\0${path.slice(1)}` : path);
  if (name.length >= SOCKADDR_UN.pathMax) throw new Error(`${what} is too long (${name.length} bytes)`);
  const addr = new Uint8Array(SOCKADDR_UN.size);
  new DataView(addr.buffer).setUint16(SOCKADDR_UN.family, AF_UNIX, true);
  addr.set(name, SOCKADDR_UN.path);
  // A path socket's name ends at its NUL; an abstract name is exactly its bytes.
  return { addr, len: SOCKADDR_UN.path + name.length + (abstract ? 0 : 1) };
}
