import { AF_UNIX, libc as openLibc, MSG_DONTWAIT, SOCK_CLOEXEC, SOCK_DGRAM, sockaddrUn } from "../../src/runtime/libc";

/**
 * A stand-in for systemd's notify socket: an AF_UNIX datagram socket bound to `path` (bun:ffi, as Bun has no
 * unix datagram sockets), polled every 10 ms. Every datagram received is kept as one message.
 *   const n = listenNotifySocket(join(dir, "notify"));  env NOTIFY_SOCKET=n.path … await n.waitFor(/READY=1/);
 */
export interface NotifyListener {
  readonly path: string;
  readonly messages: string[];
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  close(): void;
}

export function listenNotifySocket(path: string): NotifyListener {
  const libc = openLibc();
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const { addr, len } = sockaddrUn(path);
  if (fd < 0 || libc.bind(fd, addr, len) !== 0) throw new Error(`cannot bind a unix datagram socket at ${path}`);
  const messages: string[] = [];
  const buf = new Uint8Array(4096);
  const poll = setInterval(() => {
    for (;;) {
      const n = Number(libc.recv(fd, buf, buf.length, MSG_DONTWAIT));
      if (n < 0) return;
      messages.push(new TextDecoder().decode(buf.subarray(0, n)));
    }
  }, 10);
  return {
    path,
    messages,
    async waitFor(re, timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const m = messages.find((x) => re.test(x));
        if (m) return m;
        if (Date.now() > end) throw new Error(`no ${re} on the notify socket within ${timeoutMs} ms; got ${JSON.stringify(messages)}`);
        await Bun.sleep(20);
      }
    },
    close() {
      clearInterval(poll);
      libc.close(fd);
    },
  };
}
