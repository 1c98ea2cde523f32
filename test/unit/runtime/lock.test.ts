import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { acquireServerLock, processStartTime } from "../../../src/runtime/lock";
import { tempDir } from "../../helpers/cli";

const t = tempDir("drover-lock-");
afterAll(() => t.cleanup());

test("a held lock refuses a second holder with the PID; release frees it", () => {
  const a = acquireServerLock(t.dir);
  expect(readFileSync(a.path, "utf8")).toBe(`${process.pid} ${processStartTime(process.pid)}\n`);
  expect(() => acquireServerLock(t.dir)).toThrow(`another drover serve (PID ${process.pid}) is running on data dir ${t.dir}`);
  a.release();
  expect(existsSync(a.path)).toBe(false);
  acquireServerLock(t.dir).release();
});

test("a lock left by a dead process, or by a PID now reused by another process, is taken over", () => {
  const path = join(t.dir, "serve.lock");
  const dead = Bun.spawnSync(["true"]).pid;
  writeFileSync(path, `${dead} 1\n`);
  acquireServerLock(t.dir).release();
  // Our own PID but another start time: the holder died and its PID was reused.
  writeFileSync(path, `${process.pid} 1\n`);
  const l = acquireServerLock(t.dir);
  expect(readFileSync(path, "utf8")).toStartWith(`${process.pid} ${processStartTime(process.pid)}`);
  l.release();
});
