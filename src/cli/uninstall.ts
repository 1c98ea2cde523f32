import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { notFound } from "../domain/errors";
import type { CommandModule } from "./context";
import { DEFAULT_BIN, DEFAULT_UNIT_DIR, UNIT_NAME } from "./install";

const uninstall: CommandModule = (parent, ctx) => {
  parent
    .command("uninstall")
    .description("remove the systemd service 'drover install' set up (stopped and disabled first); the data dir is kept")
    .option("--unit-dir <dir>", "where the unit is", DEFAULT_UNIT_DIR)
    .option("--bin <path>", "the installed executable, removed too", DEFAULT_BIN)
    .option("--keep-bin", "leave the executable in place")
    .action((opts: { unitDir: string; bin: string; keepBin?: boolean }) => {
      const unitPath = join(opts.unitDir, UNIT_NAME);
      if (!existsSync(unitPath)) throw notFound(`${unitPath} does not exist: nothing to uninstall (another --unit-dir?)`);
      // Under a running systemd (PID 1) stop and disable it first; elsewhere there is nothing running to stop.
      const systemd = existsSync("/run/systemd/system") && opts.unitDir === DEFAULT_UNIT_DIR;
      const systemctl = (...args: string[]) => {
        const r = Bun.spawnSync(["systemctl", ...args], { stderr: "pipe" });
        if (r.exitCode !== 0) ctx.io.err(`drover: warning: systemctl ${args.join(" ")}: ${r.stderr.toString().trim()}\n`);
      };
      if (systemd) systemctl("disable", "--now", UNIT_NAME);
      rmSync(unitPath, { force: true });
      ctx.io.out(`removed ${unitPath}\n`);
      if (systemd) systemctl("daemon-reload");
      else ctx.io.out("systemd is not running here: nothing was stopped (run 'systemctl daemon-reload' where it is)\n");
      if (!opts.keepBin && existsSync(opts.bin)) {
        rmSync(opts.bin, { force: true });
        ctx.io.out(`removed ${opts.bin}\n`);
      }
      ctx.io.out(`kept the data dir ${ctx.dataDir} (nodes, images, overlays, accounts); back it up with 'drover backup FILE' before removing it\n`);
    });
};

export default uninstall;
