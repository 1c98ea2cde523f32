import { expect } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const goldenRoot = join(import.meta.dir, "../golden");

/**
 * Compares text with a committed golden file under test/golden/. UPDATE_GOLDEN=1 rewrites the file instead;
 * a missing golden file fails (so a new golden file is always a deliberate, reviewed addition).
 */
export function expectGolden(relPath: string, actual: string) {
  const path = join(goldenRoot, relPath);
  if (process.env.UPDATE_GOLDEN === "1") {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  if (!existsSync(path)) throw new Error(`golden file ${relPath} is missing; run with UPDATE_GOLDEN=1 to create it, then review it`);
  expect(actual).toBe(readFileSync(path, "utf8"));
}
