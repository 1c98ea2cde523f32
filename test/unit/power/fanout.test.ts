import { expect, test } from "bun:test";
import { runFanout } from "../../../src/power/fanout";

/** A task whose completion the test controls, so concurrency is counted, not timed. */
function gatedTasks(n: number) {
  let inFlight = 0;
  let max = 0;
  const started: number[] = [];
  const release: (() => void)[] = [];
  const task = (i: number) =>
    new Promise<number>((resolve, reject) => {
      started.push(i);
      inFlight++;
      max = Math.max(max, inFlight);
      release[i] = () => {
        inFlight--;
        if (i === 3) reject(new Error("BMC 3 is broken"));
        else resolve(i * 10);
      };
    });
  return { task, started, release, stats: () => ({ inFlight, max }) };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

test("never more than fanout tasks at once; a new one starts only when one ends; a failure stops nothing", async () => {
  const g = gatedTasks(20);
  const items = Array.from({ length: 20 }, (_, i) => i);
  const done = runFanout(items, (i) => g.task(i), { fanout: 4, staggerMs: 0 });
  await tick();
  expect(g.started).toEqual([0, 1, 2, 3]);
  // Finish tasks one by one, oldest first: each completion lets exactly one more start.
  for (let finished = 0; finished < 20; finished++) {
    g.release[finished]!();
    await tick();
    await tick();
    expect(g.started.length).toBe(Math.min(20, 4 + finished + 1));
    expect(g.stats().inFlight).toBeLessThanOrEqual(4);
  }
  const res = await done;
  expect(g.stats().max).toBe(4);
  expect(g.started).toEqual(items);
  expect(res.filter((r) => !r.ok).length).toBe(1);
  expect(res[3]).toEqual({ ok: false, error: new Error("BMC 3 is broken") });
  expect(res[5]).toEqual({ ok: true, value: 50 });
});

test("stagger: one sleep of the stagger between consecutive starts, in order", async () => {
  const events: string[] = [];
  const sleep = async (ms: number) => void events.push(`sleep ${ms}`);
  await runFanout([0, 1, 2, 3], async (i) => void events.push(`start ${i}`), { fanout: 50, staggerMs: 250, sleep });
  expect(events).toEqual(["start 0", "sleep 250", "start 1", "sleep 250", "start 2", "sleep 250", "start 3"]);
});

test("no stagger means no sleeping", async () => {
  let slept = 0;
  await runFanout([1, 2, 3], async () => 0, { fanout: 2, staggerMs: 0, sleep: async () => void slept++ });
  expect(slept).toBe(0);
});

test("a cancelled run does not start the rest", async () => {
  const ac = new AbortController();
  const started: number[] = [];
  const res = await runFanout(
    [0, 1, 2, 3],
    async (i) => {
      started.push(i);
      if (i === 1) ac.abort();
      return i;
    },
    { fanout: 1, staggerMs: 0, signal: ac.signal },
  );
  expect(started).toEqual([0, 1]);
  expect(res.map((r) => r.ok)).toEqual([true, true, false, false]);
});
