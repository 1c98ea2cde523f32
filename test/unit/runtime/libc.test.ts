// runtime/libc.ts: the layouts are checked against the kernel itself, over loopback sockets this test opens.
import { afterEach, expect, test } from "bun:test";
import {
  AF_INET,
  AF_UNIX,
  EBADF,
  errno,
  ffi,
  IOVEC,
  libc,
  MMSGHDR,
  MSG_DONTWAIT,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCKADDR_IN,
  SOCKADDR_UN,
  setU64,
  sockaddrIn,
  sockaddrUn,
} from "../../../src/runtime/libc";

const open: number[] = [];
afterEach(() => {
  for (const fd of open.splice(0)) libc().close(fd);
});

function udpSocket(): { fd: number; port: number } {
  const c = libc();
  const fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  expect(fd).toBeGreaterThanOrEqual(0);
  open.push(fd);
  expect(c.bind(fd, sockaddrIn("127.0.0.1", 0), SOCKADDR_IN.size)).toBe(0);
  const name = new Uint8Array(SOCKADDR_IN.size);
  expect(c.getsockname(fd, name, Uint32Array.of(SOCKADDR_IN.size))).toBe(0);
  expect([...name.subarray(SOCKADDR_IN.addr, SOCKADDR_IN.addr + 4)]).toEqual([127, 0, 0, 1]);
  return { fd, port: (name[SOCKADDR_IN.port]! << 8) | name[SOCKADDR_IN.port + 1]! };
}

test("sockaddrIn: family in host order, port in network order, then the address; bad addresses throw", () => {
  const a = sockaddrIn("10.1.2.3", 0x1234);
  expect(a.length).toBe(16);
  expect(new DataView(a.buffer).getUint16(SOCKADDR_IN.family, true)).toBe(AF_INET);
  expect([...a.subarray(2, 8)]).toEqual([0x12, 0x34, 10, 1, 2, 3]);
  expect(() => sockaddrIn("10.1.2", 1)).toThrow("not an IPv4 address: 10.1.2");
  expect(() => sockaddrIn("10.1.2.256", 1)).toThrow("not an IPv4 address");
});

test("sockaddrUn: a path ends at its NUL, an abstract name (@x) is exactly its bytes, too long is refused with the caller's label", () => {
  const p = sockaddrUn("/run/x");
  expect(new DataView(p.addr.buffer).getUint16(SOCKADDR_UN.family, true)).toBe(AF_UNIX);
  expect(p.len).toBe(2 + 6 + 1);
  const a = sockaddrUn("@x");
  expect([...a.addr.subarray(2, 4)]).toEqual([0, 120]);
  expect(a.len).toBe(2 + 2);
  expect(() => sockaddrUn(`/${"a".repeat(200)}`, "NOTIFY_SOCKET path")).toThrow("NOTIFY_SOCKET path is too long (201 bytes)");
});

test("sendmmsg and recvmmsg with the MMSGHDR and IOVEC layouts move two datagrams between loopback sockets", () => {
  const c = libc();
  const { ptr } = ffi();
  const a = udpSocket();
  const b = udpSocket();
  const payloads = [new TextEncoder().encode("first"), new TextEncoder().encode("second!")];
  // Send both from a to b in one call.
  const names = new Uint8Array(2 * SOCKADDR_IN.size);
  const iov = new Uint32Array((2 * IOVEC.size) / 4);
  const hdr = new Uint32Array((2 * MMSGHDR.size) / 4);
  for (let i = 0; i < 2; i++) {
    names.set(sockaddrIn("127.0.0.1", b.port), i * SOCKADDR_IN.size);
    setU64(iov, i * IOVEC.size + IOVEC.base, ptr(payloads[i]!));
    setU64(iov, i * IOVEC.size + IOVEC.len, payloads[i]!.length);
    setU64(hdr, i * MMSGHDR.size + MMSGHDR.name, ptr(names) + i * SOCKADDR_IN.size);
    hdr[(i * MMSGHDR.size + MMSGHDR.namelen) / 4] = SOCKADDR_IN.size;
    setU64(hdr, i * MMSGHDR.size + MMSGHDR.iov, ptr(iov) + i * IOVEC.size);
    setU64(hdr, i * MMSGHDR.size + MMSGHDR.iovlen, 1);
  }
  expect(c.sendmmsg(a.fd, ptr(hdr), 2, 0)).toBe(2);
  // Receive both on b: the kernel writes each msg_len and the sender's address.
  const slots = new Uint8Array(2 * 64);
  const rnames = new Uint8Array(2 * SOCKADDR_IN.size);
  const riov = new Uint32Array((2 * IOVEC.size) / 4);
  const rhdr = new Uint32Array((2 * MMSGHDR.size) / 4);
  for (let i = 0; i < 2; i++) {
    setU64(riov, i * IOVEC.size + IOVEC.base, ptr(slots) + i * 64);
    setU64(riov, i * IOVEC.size + IOVEC.len, 64);
    setU64(rhdr, i * MMSGHDR.size + MMSGHDR.name, ptr(rnames) + i * SOCKADDR_IN.size);
    rhdr[(i * MMSGHDR.size + MMSGHDR.namelen) / 4] = SOCKADDR_IN.size;
    setU64(rhdr, i * MMSGHDR.size + MMSGHDR.iov, ptr(riov) + i * IOVEC.size);
    setU64(rhdr, i * MMSGHDR.size + MMSGHDR.iovlen, 1);
  }
  let got = 0;
  for (let tries = 0; got < 2 && tries < 100; tries++) {
    const n = c.recvmmsg(b.fd, ptr(rhdr) + got * MMSGHDR.size, 2 - got, MSG_DONTWAIT, null);
    if (n > 0) got += n;
    else Bun.sleepSync(5);
  }
  expect(got).toBe(2);
  for (let i = 0; i < 2; i++) {
    const len = rhdr[(i * MMSGHDR.size + MMSGHDR.len) / 4]!;
    expect(new TextDecoder().decode(slots.subarray(i * 64, i * 64 + len))).toBe(i === 0 ? "first" : "second!");
    const from = rnames.subarray(i * SOCKADDR_IN.size, (i + 1) * SOCKADDR_IN.size);
    expect((from[SOCKADDR_IN.port]! << 8) | from[SOCKADDR_IN.port + 1]!).toBe(a.port);
  }
});

test("errno reads this thread's errno after a failing call", () => {
  expect(libc().close(-1)).toBe(-1);
  expect(errno()).toBe(EBADF);
});
