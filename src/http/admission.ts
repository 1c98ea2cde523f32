/**
 * Admission control for the big boot downloads (image archives, stage-1 initramfs and its pieces): at most
 * `limit` nodes download one at once. In a boot storm a thousand nodes asking for a 64 MiB image at the same
 * moment would otherwise share the link a thousand ways and all crawl to the end together; with a limit,
 * `limit` of them run at full speed and finish, and the others wait their turn.
 *
 * A request over the limit first waits up to `queueMs` for a slot (first come, first served), so a slot that
 * frees is taken at once; after that it is told to come back: HTTP 503 with `Retry-After: S`. iPXE honours
 * that: on a 503 with a Retry-After in seconds it discards the answer and sends the same request again after S
 * seconds, for as long as it gets them (iPXE src/net/tcp/httpcore.c, http_rx_retry_after); busybox wget in
 * stage 1 fails the piece, which stage 1 fetches again. S is the time the slots need to drain the nodes
 * already sent away (`waiting / limit` × the mean time a slot is held, at least 1 s, at most `maxRetryS`),
 * spread by ±50 % so the returning nodes do not all arrive in the same second.
 *
 * When is a download over? The file goes out by sendfile (the kernel copies it; nothing in the process hears
 * when the last byte left, and streaming it through JS instead costs twice the CPU and loses Content-Length,
 * which iPXE uses to size its buffer). So a slot belongs to a node, and is given back when that node sends
 * its next boot request (iPXE fetches one file at a time, stage 1 one piece at a time: the next request means
 * the last one is done or abandoned), or when the download, at `floorBytesPerS`, would surely be over
 * (`hold(bytes)`), or after `maxHoldMs` at the latest.
 */
export interface AdmissionOptions {
  /** Nodes downloading at once; 0 = no limit (every request streams at once). */
  limit: number;
  /** How long a request may wait for a slot before it gets a 503 (ms). */
  queueMs?: number;
  /** The longest Retry-After handed out (s). */
  maxRetryS?: number;
  /** The slowest download speed a live node is expected to keep (bytes/s): hold(bytes) lasts bytes / this. */
  floorBytesPerS?: number;
  /** A slot is held at least this long unless its node asks for something else (ms). */
  minHoldMs?: number;
  /** And at most this long (ms). */
  maxHoldMs?: number;
  /** For tests: the clock (ms) and the jitter source in [0, 1). */
  now?: () => number;
  random?: () => number;
}

export interface Slot {
  admitted: true;
  /** Gives the slot back now (twice is once). */
  release(): void;
  /** The download is `bytes` long: the slot is given back once it would be over at the floor speed. */
  hold(bytes: number): void;
}
export type Admission = Slot | { admitted: false; retryAfterS: number; active: number; limit: number };

export interface AdmissionStats {
  limit: number;
  active: number;
  /** Requests waiting for a slot right now. */
  queued: number;
  /** Nodes sent away with a Retry-After that have not been admitted since. */
  waiting: number;
  admitted: number;
  deferred: number;
}

/** How long a node sent away is remembered as waiting (it will be back well before this). */
const WAITING_TTL_MS = 10 * 60_000;

export class StreamAdmission {
  readonly limit: number;
  private readonly queueMs: number;
  private readonly maxRetryS: number;
  private readonly floor: number;
  private readonly minHoldMs: number;
  private readonly maxHoldMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private active = 0;
  private readonly queue: { key: string; grant: (ok: boolean) => void }[] = [];
  /** Node → its slot's release. */
  private readonly holders = new Map<string, () => void>();
  /** Node → when it was last sent away. */
  private readonly waiting = new Map<string, number>();
  /** Mean time a slot was held (ms), exponentially weighted; 0 until one is given back. */
  private meanMs = 0;
  private admitted = 0;
  private deferred = 0;

  constructor(o: AdmissionOptions) {
    if (!Number.isInteger(o.limit) || o.limit < 0) throw new Error(`admission limit ${o.limit}: a whole number, 0 for none`);
    this.limit = o.limit;
    this.queueMs = o.queueMs ?? 2000;
    this.maxRetryS = o.maxRetryS ?? 30;
    this.floor = o.floorBytesPerS ?? 1 << 20;
    this.minHoldMs = o.minHoldMs ?? 10_000;
    this.maxHoldMs = o.maxHoldMs ?? 10 * 60_000;
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
  }

  /**
   * The node `key` (its MAC) sent a boot request: the download it held a slot for is over (iPXE and stage 1
   * fetch one thing at a time), so the slot goes back. Every boot route calls this first.
   */
  touch(key: string): void {
    this.holders.get(key)?.();
  }

  /** A slot for `key`, now, after a short wait, or a Retry-After. */
  async admit(key: string): Promise<Admission> {
    this.touch(key);
    if (this.limit === 0 || this.active < this.limit) {
      this.active++;
      return this.slot(key);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const entry = {
        key,
        grant: (yes: boolean) => {
          clearTimeout(timer);
          resolve(yes);
        },
      };
      const timer = setTimeout(() => {
        const i = this.queue.indexOf(entry);
        if (i >= 0) this.queue.splice(i, 1);
        resolve(false);
      }, this.queueMs);
      this.queue.push(entry);
    });
    // A slot handed over by a release was counted there already.
    return ok ? this.slot(key) : this.sendAway(key);
  }

  stats(): AdmissionStats {
    this.expireWaiting();
    return { limit: this.limit, active: this.active, queued: this.queue.length, waiting: this.waiting.size, admitted: this.admitted, deferred: this.deferred };
  }

  private slot(key: string): Slot {
    this.admitted++;
    this.waiting.delete(key);
    const started = this.now();
    let released = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (ms: number) => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(release, Math.min(ms, this.maxHoldMs));
      (timer as { unref?: () => void }).unref?.();
    };
    const release = () => {
      if (released) return;
      released = true;
      if (timer) clearTimeout(timer);
      if (this.holders.get(key) === release) this.holders.delete(key);
      const ms = this.now() - started;
      this.meanMs = this.meanMs === 0 ? ms : this.meanMs * 0.8 + ms * 0.2;
      const next = this.queue.shift();
      // The slot goes straight to the first request waiting for one (active stays the same).
      if (next) next.grant(true);
      else this.active--;
    };
    this.holders.set(key, release);
    arm(this.maxHoldMs);
    return { admitted: true, release, hold: (bytes) => !released && arm(Math.max(this.minHoldMs, (bytes / this.floor) * 1000)) };
  }

  private sendAway(key: string): Admission {
    this.deferred++;
    this.expireWaiting();
    // Delete first: the map stays in the order nodes were sent away (expireWaiting stops at the first young one).
    this.waiting.delete(key);
    this.waiting.set(key, this.now());
    // The nodes already sent away drain `limit` at a time, each holding a slot about the mean time.
    const meanS = (this.meanMs || 5000) / 1000;
    const drainS = (this.waiting.size / Math.max(1, this.limit)) * meanS;
    const retryAfterS = Math.max(1, Math.min(this.maxRetryS, Math.round(drainS * (0.5 + this.random()))));
    return { admitted: false, retryAfterS, active: this.active, limit: this.limit };
  }

  private expireWaiting() {
    const cutoff = this.now() - WAITING_TTL_MS;
    for (const [k, at] of this.waiting) {
      if (at >= cutoff) break;
      this.waiting.delete(k);
    }
  }
}
