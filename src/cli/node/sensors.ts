import type { CommandModule } from "../context";
import { emit, table } from "../output";
import { failIfAny, fanoutOptions, powerService } from "../power/run";

/** `drover node sensors PATTERN`: temperatures, fans, voltages as the BMCs report them. */
const sensors: CommandModule = (parent, ctx) => {
  const cmd = parent
    .command("sensors")
    .description("show BMC sensor readings (IPMI sensor list, Redfish Thermal)")
    .argument("[patterns...]", "node names, hostlists or globs")
    .option("-a, --all", "every node")
    .option("-j, --json", "JSON output");
  for (const o of fanoutOptions()) cmd.addOption(o);
  cmd.action(async (patterns: string[], opts) => {
    const results = await powerService(ctx).sensors(patterns, {
      all: opts.all,
      fanout: opts.fanout,
      staggerMs: opts.stagger,
      timeoutMs: opts.timeout * 1000,
    });
    if (opts.json) emit(ctx.io, "json", results);
    else {
      const rows = results.flatMap((r) =>
        r.ok && r.readings.length
          ? r.readings.map((s) => [r.node, s.name, s.value, s.unit, s.status])
          : [[r.node, "--", "--", "--", r.ok ? r.message : `FAILED: ${r.message}`]],
      );
      ctx.io.out(table(["NODE", "SENSOR", "VALUE", "UNIT", "STATUS"], rows));
    }
    failIfAny(
      ctx,
      "node sensors",
      results.filter((r) => !r.ok),
      results.length,
    );
  });
};
export default sensors;
