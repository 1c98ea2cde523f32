import { expect, test } from "bun:test";
import { Command } from "commander";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CliContext } from "../../../src/cli/context";
import { buildProgram } from "../../../src/cli/program";

/**
 * Every command must have a test and a --help that teaches. This walks the real command tree, so a new
 * command without a test that runs it fails here.
 */
const root = new Command();
buildProgram(new CliContext({ out: () => {}, err: () => {}, isTTY: false, env: {} }, () => root), root);

const leaves: string[][] = [];
const walk = (c: Command, path: string[]) => {
  if (c.commands.length === 0) leaves.push(path);
  for (const s of c.commands) walk(s, [...path, s.name()]);
};
walk(root, []);

const testDir = join(import.meta.dir, "../..");
const testText = [...new Bun.Glob("**/*.test.ts").scanSync(testDir)].map((f) => readFileSync(join(testDir, f), "utf8")).join("\n");

for (const path of leaves) {
  test(`'drover ${path.join(" ")}' has a test and help`, () => {
    const quoted = path.map((p) => `"${p}"`).join(", ");
    expect({ command: path.join(" "), tested: testText.includes(quoted) }).toEqual({ command: path.join(" "), tested: true });
    let cmd = root;
    for (const p of path) cmd = cmd.commands.find((c) => c.name() === p)!;
    expect(cmd.description().length).toBeGreaterThan(10);
  });
}

test("the listing commands all offer --json", () => {
  for (const path of leaves.filter((p) => p.at(-1) === "list")) {
    let cmd = root;
    for (const p of path) cmd = cmd.commands.find((c) => c.name() === p)!;
    expect({ path: path.join(" "), json: cmd.options.some((o) => o.long === "--json") }).toEqual({ path: path.join(" "), json: true });
  }
});
