#!/usr/bin/env bun
import { createInterface } from "node:readline/promises";
import { runCli } from "./cli/program";
import { invokedAsWwctl } from "./cli/wwctl";

// The only place that exits the process.
// A reader that went away (`drover man | head`) ends the output quietly, as with any Unix tool: EPIPE on
// stdout or stderr exits with the status so far, not with a stack trace.
const isEpipe = (e: unknown) => (e as { code?: string } | null)?.code === "EPIPE";
for (const s of [process.stdout, process.stderr]) s.on("error", (e) => (isEpipe(e) ? process.exit(process.exitCode ?? 0) : undefined));
process.on("uncaughtException", (e) => {
  if (isEpipe(e)) process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
  // As runCli reports what it catches: exit 1, the stack only when asked (README, exit codes).
  process.stderr.write(`drover: internal error: ${e instanceof Error ? e.message : String(e)}\n${process.env.DROVER_DEBUG && e instanceof Error ? `${e.stack}\n` : "(set DROVER_DEBUG=1 for a stack trace)\n"}`);
  process.exit(1);
});
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
