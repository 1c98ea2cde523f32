/**
 * systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram per state change, sent to the
 * AF_UNIX socket named by $NOTIFY_SOCKET ("/run/systemd/notify", or "@name" for an abstract socket). Bun has
 * no unix datagram sockets (node:dgram is UDP only), so this calls libc's socket() and sendto() through
 * bun:ffi, as the TFTP data plane does. Linux only; without $NOTIFY_SOCKET (not under systemd, or a unit that
 * is not Type=notify) every call is a no-op.
 *
 *   const n = sdNotifier(process.env);  n.ready("HTTP :9873");  n.watchdog(healthy);  n.stopping();
 *
 * The watchdog is honest: it pings only while `healthy()` answers true (drover serve: the store answers a
 * query), so a server whose event loop or database is stuck is restarted by systemd after WatchdogSec.
 */
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(struct sockaddr_un): sa_family_t (2 bytes) + sun_path[108]. */
const SUN_PATH = 108;

export interface SdNotifier {
  /** True when $NOTIFY_SOCKET is set: there is a service manager listening. */
  readonly active: boolean;
  /** Sends raw assignments ("READY=1\nSTATUS=…"); returns false when there is no socket or sending failed. */
  notify(state: string): boolean;
  ready(status?: string): void;
  stopping(status?: string): void;
  status(text: string): void;
  /**
   * Starts pinging WATCHDOG=1 at half of $WATCHDOG_USEC (when systemd asked for it: WatchdogSec= in the unit,
   * and $WATCHDOG_PID unset or ours), skipping a ping whenever healthy() is false. Returns the interval in ms,
   * or 0 when no watchdog is wanted.
   */
  watchdog(healthy?: () => boolean): number;
  close(): void;
}

type Libc = {
  socket(domain: number, type: number, proto: number): number;
  sendto(fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, addrlen: number): number;
  close(fd: number): number;
};

/** struct sockaddr_un for a socket path ("@x" is the abstract name "\0x"), and the length to pass. */
export function sockaddrUn(path: string): { addr: Uint8Array; len: number } {
  const abstract = path.startsWith("@");
  const name = new TextEncoder().encode(abstract ? `\0${path.slice(1)}` : path);
  if (name.length >= SUN_PATH) throw new Error(`NOTIFY_SOCKET path is too long (${name.length} bytes)`);
  const addr = new Uint8Array(2 + SUN_PATH);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(name, 2);
  // A path socket's name ends at its NUL; an abstract name is exactly its bytes.
  return { addr, len: 2 + name.length + (abstract ? 0 : 1) };
}

export function sdNotifier(env: Record<string, string | undefined>, pid = process.pid): SdNotifier {
  const path = env.NOTIFY_SOCKET;
  let timer: ReturnType<typeof setInterval> | undefined;
  let fd = -1;
  let libc: Libc | undefined;
  const target = path && (path.startsWith("/") || path.startsWith("@")) ? sockaddrUn(path) : undefined;
  const notify = (state: string): boolean => {
    if (!target) return false;
    if (!libc) {
      const { dlopen, FFIType: T } = require("bun:ffi") as typeof import("bun:ffi");
      libc = dlopen("libc.so.6", {
        socket: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
        sendto: { args: [T.i32, T.ptr, T.u64, T.i32, T.ptr, T.u32], returns: T.i64 },
        close: { args: [T.i32], returns: T.i32 },
      }).symbols as unknown as Libc;
    }
    if (fd < 0) fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const buf = new TextEncoder().encode(state);
    return Number(libc.sendto(fd, buf, buf.length, MSG_NOSIGNAL, target.addr, target.len)) === buf.length;
  };
  const line = (s: string) => s.replace(/\n/g, " ");
  return {
    active: !!target,
    notify,
    ready: (status) => void notify(`READY=1\nMAINPID=${pid}${status ? `\nSTATUS=${line(status)}` : ""}`),
    stopping: (status) => void notify(`STOPPING=1${status ? `\nSTATUS=${line(status)}` : ""}`),
    status: (text) => void notify(`STATUS=${line(text)}`),
    watchdog: (healthy = () => true) => {
      const usec = Number(env.WATCHDOG_USEC);
      if (!target || !Number.isFinite(usec) || usec <= 0) return 0;
      if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return 0;
      const ms = Math.max(1, Math.floor(usec / 2000));
      clearInterval(timer);
      timer = setInterval(() => {
        let ok = false;
        try {
          ok = healthy();
        } catch {}
        if (ok) notify("WATCHDOG=1");
      }, ms);
      timer.unref?.();
      return ms;
    },
    close: () => {
      clearInterval(timer);
      timer = undefined;
      if (fd >= 0) libc?.close(fd);
      fd = -1;
    },
  };
}
