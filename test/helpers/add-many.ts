// Used by the concurrency test: adds COUNT nodes one command at a time (each its own transaction), as a
// separate process would. Usage: bun test/helpers/add-many.ts DATADIR PREFIX COUNT SUBNET
import { runCli } from "../../src/cli/program";

const [dataDir, prefix, count, subnet] = process.argv.slice(2) as [string, string, string, string];
// DROVER_DEBUG: a failure prints its stack (one "database is locked" in a CI run could not be reproduced).
const io = { out: () => {}, err: (s: string) => process.stderr.write(s), isTTY: false, env: { DROVER_DEBUG: "1" } };
let failed = 0;
for (let i = 0; i < Number(count); i++) {
  const name = `${prefix}${String(i).padStart(3, "0")}`;
  const ip = `${subnet}.${Math.floor(i / 250)}.${(i % 250) + 1}/16`;
  const mac = `52:54:${subnet.split(".")[1]!.padStart(2, "0").slice(-2)}:00:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`;
  const code = await runCli(["--data-dir", dataDir, "node", "add", name, "--ipaddr", ip, "--hwaddr", mac], io);
  if (code !== 0) failed++;
}
process.exit(failed ? 1 : 0);
