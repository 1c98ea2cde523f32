import type { NodeStatusRow } from "../../services/boot-status";
import type { CommandModule } from "../context";
import { emit, formatOf, table } from "../output";

export function ago(ms: number | undefined, now = Date.now()): string {
  if (!ms) return "--";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

const status: CommandModule = (parent, ctx) => {
  parent
    .command("status")
    .description("boot status of nodes: stage reached, address, last seen; kept across restarts")
    .argument("[patterns...]", "node names, hostlists or globs (default: all)")
    .option("-w, --watch", "refresh until interrupted")
    .option("-t, --time <seconds>", "refresh interval with --watch", "2")
    .option("-e, --events <n>", "also show the last N boot events of each node")
    .option("-j, --json", "JSON output")
    .option("-y, --yaml", "YAML output")
    .addHelpText(
      "after",
      `
STATE is booted (the node's init is up: the agent reported it; STAGE "agent up" once its first heartbeat
arrived), booting (STAGE says how far: dhcp, ipxe, kernel, image, system, runtime), overdue (a booted node
that stopped sending heartbeats), error (see DETAIL), or never seen.
Examples:
  drover node status              every node
  drover node status -w n[01-64]  watch a rack come up`,
    )
    .action(async (patterns: string[], opts) => {
      const svc = ctx.services().bootStatus;
      const format = formatOf(opts);
      const print = () => {
        const rows = svc.list(patterns);
        const events = opts.events ? Object.fromEntries(rows.map((r) => [r.node, svc.events(r.node, Number(opts.events))])) : undefined;
        if (format !== "table") return emit(ctx.io, format, events ? rows.map((r) => ({ ...r, events: events[r.node] })) : rows);
        const now = Date.now();
        ctx.io.out(
          table(
            ["NODE", "STATE", "STAGE", "ADDRESS", "LAST SEEN", "BOOT", "DETAIL"],
            rows.map((r: NodeStatusRow) => [
              r.node,
              r.state,
              r.agentUp ? "agent up" : (r.stage ?? "--"),
              r.address ?? "--",
              ago(r.lastSeen, now),
              r.bootSeconds !== undefined ? `${r.bootSeconds}s` : "--",
              r.state === "error" ? (r.lastError ?? r.detail ?? "") : (r.detail ?? ""),
            ]),
          ),
        );
        for (const [node, evs] of Object.entries(events ?? {})) {
          ctx.io.out(`\n${node}:\n`);
          for (const e of evs) ctx.io.out(`  ${new Date(e.at).toISOString()}  ${e.stage.padEnd(9)} ${e.address ?? ""} ${e.detail ?? ""}\n`);
        }
      };
      if (!opts.watch) return print();
      const interval = Math.max(0.5, Number(opts.time)) * 1000;
      for (;;) {
        if (ctx.io.isTTY) ctx.io.out("\x1b[H\x1b[2J");
        print();
        await Bun.sleep(interval);
      }
    });
};
export default status;
