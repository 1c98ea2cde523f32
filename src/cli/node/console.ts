import { CommanderError } from "commander";
import type { CommandModule } from "../context";
import { powerService } from "../power/run";

/**
 * `drover node console NAME`: IPMI Serial-over-LAN on this terminal (ipmitool sol activate). The
 * password reaches ipmitool through its environment, never its command line.
 */
const console_: CommandModule = (parent, ctx) => {
  parent
    .command("console")
    .description("open a node's serial console (IPMI Serial-over-LAN)")
    .argument("<name>", "one node")
    .option("--show", "print the command (password masked) and run nothing")
    .option("--deactivate-first", "close a Serial-over-LAN session someone left open before connecting")
    .addHelpText("after", "\nLeave the console with the escape character (ipmi.escapechar, default ~) followed by a dot: ~.")
    .action(async (name: string, opts) => {
      const svc = powerService(ctx);
      const c = svc.console(name);
      if (opts.show) return ctx.io.out(`${c.display}\n`);
      if (opts.deactivateFirst) {
        const d = Bun.spawn([...c.argv.slice(0, c.argv.indexOf("sol")), "sol", "deactivate"], {
          env: { ...process.env, ...c.env },
          stdio: ["ignore", "ignore", "ignore"],
        });
        await d.exited;
      }
      ctx.io.err(`[connecting to ${name}'s console; leave with ${c.escapechar}.]\n`);
      let proc: ReturnType<typeof Bun.spawn>;
      try {
        proc = Bun.spawn(c.argv, { env: { ...process.env, ...c.env }, stdio: ["inherit", "inherit", "inherit"] });
      } catch {
        ctx.io.err(`drover: ${c.argv[0]} is not installed or not on PATH; install it (apt-get install ipmitool / dnf install ipmitool)\n`);
        throw new CommanderError(1, "drover.console", "no ipmitool");
      }
      const code = await proc.exited;
      if (code !== 0) {
        ctx.io.err(
          `drover: the console session for ${name} ended with an error (ipmitool exit ${code}); if a session is already open elsewhere, retry with --deactivate-first\n`,
        );
        throw new CommanderError(1, "drover.console", `ipmitool exit ${code}`);
      }
    });
};
export default console_;
