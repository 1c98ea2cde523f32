import { expect, test } from "bun:test";
import { type Io, confirmed } from "../../../src/cli/output";

/** A terminal that answers `answer` and records the questions it was asked. */
function tty(answer: string | undefined, asked: string[], isTTY = true): Io {
  return { out() {}, err() {}, isTTY, env: {}, prompt: async (q) => (asked.push(q), answer) };
}

test("confirmed: y or yes (any case) is yes; anything else, or no answer, is no", async () => {
  for (const [answer, want] of [
    ["y", true],
    ["YES", true],
    ["Yes", true],
    ["n", false],
    ["", false],
    ["yess", false],
    [undefined, false],
  ] as const) {
    const asked: string[] = [];
    expect(await confirmed(tty(answer, asked), () => "Delete n1?")).toBe(want);
    expect(asked).toEqual(["Delete n1? [y/N] "]);
  }
});

test("confirmed: without a terminal, or without a prompt, nobody is asked and the answer is yes", async () => {
  let built = 0;
  const question = () => (built++, "Delete n1?");
  const asked: string[] = [];
  expect(await confirmed(tty("n", asked, false), question)).toBe(true);
  expect(await confirmed({ out() {}, err() {}, isTTY: true, env: {} }, question)).toBe(true);
  expect(asked).toEqual([]);
  expect(built).toBe(0);
});
