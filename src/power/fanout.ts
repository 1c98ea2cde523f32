/**
 * Runs one task per item with two limits that keep a big power operation from flooding the network:
 *
 *  - `fanout`: at most this many tasks in flight at once;
 *  - `staggerMs`: at least this long between the starts of consecutive tasks, in list order.
 *
 * Cycling 1,000 nodes at once makes 1,000 PXE ROMs ask DHCP and TFTP for the same files in the same
 * second; a stagger spreads the boot storm out. Starts happen strictly in order; a task that fails does
 * not stop the others. `sleep` is injectable so tests check the spacing without a wall clock.
 */
export interface FanoutOptions {
  fanout: number;
  staggerMs: number;
  sleep?: (ms: number) => Promise<void>;
  signal?: AbortSignal;
}

export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

export async function runFanout<T, R>(items: readonly T[], task: (item: T, index: number) => Promise<R>, opts: FanoutOptions): Promise<Settled<R>[]> {
  const limit = Math.max(1, Math.floor(opts.fanout));
  const sleep = opts.sleep ?? ((ms: number) => Bun.sleep(ms));
  const results: Settled<R>[] = new Array(items.length);
  let inFlight = 0;
  let wake: (() => void) | undefined;
  const running: Promise<void>[] = [];

  for (let i = 0; i < items.length; i++) {
    if (opts.signal?.aborted) {
      for (let j = i; j < items.length; j++) results[j] = { ok: false, error: new Error("cancelled before it started") };
      break;
    }
    while (inFlight >= limit) await new Promise<void>((r) => (wake = r));
    if (i > 0 && opts.staggerMs > 0) await sleep(opts.staggerMs);
    inFlight++;
    const idx = i;
    running.push(
      (async () => {
        try {
          results[idx] = { ok: true, value: await task(items[idx]!, idx) };
        } catch (error) {
          results[idx] = { ok: false, error };
        } finally {
          inFlight--;
          const w = wake;
          wake = undefined;
          w?.();
        }
      })(),
    );
  }
  await Promise.all(running);
  return results;
}
