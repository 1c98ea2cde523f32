#!/usr/bin/env bun
import { createInterface } from "node:readline/promises";
import { runCli } from "./cli/program";
import { invokedAsWwctl } from "./cli/wwctl";

// The only place that exits the process.
// A reader that went away (`drover man | head`) ends the output quietly, as with any Unix tool: EPIPE on
// stdout or stderr exits with the status so far, not with a stack trace.
for (const s of [process.stdout, process.stderr])
  s.on("error", (e: { code?: string }) => (e.code === "EPIPE" ? process.exit(process.exitCode ?? 0) : undefined));
// Started as `wwctl` (a symlink): the arguments are a Warewulf command line.
const args = process.argv.slice(2);
const code = await runCli(invokedAsWwctl(process.argv0, process.argv[1]) ? ["wwctl", ...args] : args, {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  isTTY: !!process.stdin.isTTY && !!process.stdout.isTTY,
  env: process.env,
  prompt: async (q) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      return await rl.question(q);
    } finally {
      rl.close();
    }
  },
});
process.exitCode = code;
