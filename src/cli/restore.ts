import { restoreFrom } from "../app";
import { acquireServerLock } from "../runtime/lock";
import type { CommandModule } from "./context";

const restore: CommandModule = (parent, ctx) => {
  parent
    .command("restore")
    .description(
      "replace the node store and site files with a backup from 'drover backup' (or a store copy from DATA-DIR/backups/); drover serve must be stopped",
    )
    .argument("<file>", "a .tar.gz from 'drover backup', or a .db taken before a migration")
    .addHelpText(
      "after",
      `
Nothing is deleted: the store and site files it replaces are moved to DATA-DIR/replaced-TIME/. A backup from
an older drover is migrated forward; one from a newer drover is refused. Stop the server first
(systemctl stop drover); restore refuses while one runs on the data dir.
Example:
  systemctl stop drover && drover restore /srv/backups/drover-2025-01-31.tar.gz && systemctl start drover`,
    )
    .action((file: string) => {
      const lock = acquireServerLock(ctx.dataDir);
      try {
        const r = restoreFrom(ctx.dataDir, file);
        const from = r.manifest ? ` (taken ${r.manifest.createdAt} by drover ${r.manifest.version}: ${r.manifest.contents.join(", ")})` : " (the store only)";
        ctx.io.out(`restored ${file}${from} into ${ctx.dataDir}\n${r.replacedDir ? `what it replaced is in ${r.replacedDir}\n` : ""}`);
      } finally {
        lock.release();
      }
    });
};
export default restore;
