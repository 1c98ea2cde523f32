/**
 * systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram per state change, sent to the
 * AF_UNIX socket named by $NOTIFY_SOCKET ("/run/systemd/notify", or "@name" for an abstract socket). Bun has
 * no unix datagram sockets (node:dgram is UDP only), so this calls libc's socket() and sendto() (runtime/libc.ts),
 * as the TFTP data plane does. Linux only; without $NOTIFY_SOCKET (not under systemd, or a unit that is not
 * Type=notify) every call is a no-op.
 *
 *   const n = sdNotifier(process.env);  n.ready("HTTP :9873");  n.watchdog(healthy);  n.stopping();
 *
 * The watchdog is honest: it pings only while `healthy()` answers true (drover serve: the store answers a
 * query), so a server whose event loop or database is stuck is restarted by systemd after WatchdogSec.
 */
import { AF_UNIX, type Libc, libc as openLibc, MSG_NOSIGNAL, SOCK_CLOEXEC, SOCK_DGRAM, sockaddrUn as unixAddress } from "./libc";

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

/** struct sockaddr_un for $NOTIFY_SOCKET ("@x" is the abstract name "\0x"), and the length to pass. */
export function sockaddrUn(path: string): { addr: Uint8Array; len: number } {
  return unixAddress(path, "NOTIFY_SOCKET path");
}

export function sdNotifier(env: Record<string, string | undefined>, pid = process.pid): SdNotifier {
  const path = env.NOTIFY_SOCKET;
  let timer: ReturnType<typeof setInterval> | undefined;
  let fd = -1;
  let libc: Libc | undefined;
  const target = path && (path.startsWith("/") || path.startsWith("@")) ? sockaddrUn(path) : undefined;
  const notify = (state: string): boolean => {
    if (!target) return false;
    libc ??= openLibc();
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
