import { backupTo } from "../app";
import type { CommandModule } from "./context";

const backup: CommandModule = (parent, ctx) => {
  parent
    .command("backup")
    .description("back up the node store (nodes, profiles, settings, accounts, tokens, leases) and the site's overlays, host keys and power templates to FILE")
    .argument("<file>", "the backup to write (a .tar.gz, mode 0600: it holds password hashes, BMC passwords and host keys)")
    .option("-j, --json", "print what was backed up as JSON")
    .addHelpText(
      "after",
      `
Safe while 'drover serve' runs: the store is copied in one read transaction (SQLite VACUUM INTO), so the copy
is one consistent state. Images are not included (re-import them); built overlay archives are rebuilt.
A copy of the store alone is also taken automatically before every schema migration, in DATA-DIR/backups/.
Examples:
  drover backup /srv/backups/drover-$(date +%F).tar.gz
  drover restore /srv/backups/drover-2025-01-31.tar.gz     (with drover serve stopped)`,
    )
    .action((file: string, opts: { json?: boolean }) => {
      const m = backupTo(ctx.services(), file);
      if (opts.json) ctx.io.out(`${JSON.stringify({ file, ...m }, null, 2)}\n`);
      else ctx.io.out(`backed up ${m.contents.join(", ")} (schema ${m.schema}) to ${file}\n`);
    });
};
export default backup;
