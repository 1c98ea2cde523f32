#!/usr/bin/env bun
import { createInterface } from "node:readline/promises";
import { runCli } from "./cli/program";

// The only place that exits the process.
const code = await runCli(process.argv.slice(2), {
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
