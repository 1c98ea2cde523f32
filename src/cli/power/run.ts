import { ExitWith, PARTIAL_FAILURE } from "../exit";
import { CommanderError, Option } from "commander";
import type { PowerAction } from "../../power/types";
import { DEFAULT_FANOUT, type PowerResult, PowerService } from "../../services/power";
import type { CliContext, CommandModule } from "../context";
import { emit, table } from "../output";
import { join } from "node:path";

/**
 * The shared shape of the six `power` verbs: select nodes, then either print the plan (`--show`) or run
 * the action through the PowerService and print one row per node. Each verb file only names its action.
 */
export function powerService(ctx: CliContext): PowerService {
  const s = ctx.services();
  return new PowerService(s.nodes, { templateDir: join(ctx.dataDir, "power") });
}

export function intArg(flag: string, min: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new CommanderError(2, "drover.badNumber", `${flag} takes a whole number ≥ ${min}, not '${v}'`);
    return n;
  };
}

/** Options every command that talks to many BMCs shares. */
export function fanoutOptions() {
  return [
    new Option("--fanout <n>", `at most this many BMC operations at once`).default(DEFAULT_FANOUT).argParser(intArg("--fanout", 1)),
    new Option("--stagger <ms>", "wait this many milliseconds between starting consecutive operations (spreads a boot storm)")
      .default(0)
      .argParser(intArg("--stagger", 0)),
    new Option("--timeout <seconds>", "give up on a BMC after this long").default(30).argParser(intArg("--timeout", 1)),
  ];
}

/** Ends the command with a non-zero exit after the results were printed, naming the failed nodes. */
export function failIfAny(ctx: CliContext, what: string, failed: readonly { node: string }[], total: number) {
  if (failed.length === 0) return;
  const names = failed.map((f) => f.node);
  const list = names.length > 20 ? `${names.slice(0, 20).join(", ")} and ${names.length - 20} more` : names.join(", ");
  const msg = `drover: ${what} failed on ${failed.length} of ${total} node${total === 1 ? "" : "s"}: ${list}`;
  ctx.io.err(`${msg}\n`);
  throw new ExitWith(PARTIAL_FAILURE);
}

const HELP: Record<PowerAction, string> = {
  on: "power nodes on",
  off: "power nodes off at once (like pulling the plug; 'soft' asks the OS to shut down)",
  cycle: "power nodes off and on again (--pxe: boot from the network this once)",
  reset: "hard-reset nodes (warm reboot without powering off)",
  soft: "ask nodes' operating systems to shut down (ACPI power button)",
  status: "show whether nodes are powered on",
};

export function powerVerb(action: PowerAction): CommandModule {
  return (parent, ctx) => {
    const cmd = parent
      .command(action)
      .description(HELP[action])
      .argument("[patterns...]", "node names, hostlists or globs: n[001-100], rack1-*")
      .option("-a, --all", "every node")
      .option("--show", "print the commands that would run (passwords masked) and run nothing")
      .option("-j, --json", "JSON output");
    for (const o of fanoutOptions()) cmd.addOption(o);
    if (action === "cycle") cmd.option("--pxe", "set a one-time boot override to PXE before cycling (Redfish natively, IPMI with chassis bootdev pxe)");
    cmd.addHelpText(
      "after",
      `
Examples:
  drover power ${action} n[001-100]
  drover power ${action} -a --fanout 20 --stagger 200    (20 BMCs at a time, a new one every 0.2 s)
  drover power ${action} n001 --show                      (the command only; nothing runs)`,
    );
    cmd.action(async (patterns: string[], opts) => {
      const svc = powerService(ctx);
      if (opts.show) {
        const plan = svc.plan(patterns, action, { all: opts.all, pxe: opts.pxe });
        if (opts.json) return emit(ctx.io, "json", plan);
        for (const p of plan) {
          ctx.io.out(p.error ? `# ${p.node}: cannot run: ${p.error}\n` : `# ${p.node} (${p.bmc})\n${p.commands.map((c) => `  ${c}`).join("\n")}\n`);
        }
        return;
      }
      const results = await svc.run(patterns, action, {
        all: opts.all,
        pxe: opts.pxe,
        fanout: opts.fanout,
        staggerMs: opts.stagger,
        timeoutMs: opts.timeout * 1000,
      });
      printResults(ctx, action, results, !!opts.json);
      failIfAny(
        ctx,
        `power ${action}`,
        results.filter((r) => !r.ok),
        results.length,
      );
    });
  };
}

export function printResults(ctx: CliContext, action: PowerAction, results: readonly PowerResult[], json: boolean) {
  if (json) return emit(ctx.io, "json", results);
  const rows = results.map((r) => [r.node, r.bmc, r.ok ? (action === "status" ? (r.state ?? "unknown") : "ok") : "FAILED", r.message]);
  ctx.io.out(table(["NODE", "BMC", action === "status" ? "POWER" : "RESULT", "MESSAGE"], rows));
}
