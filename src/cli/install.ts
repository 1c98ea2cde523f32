import { chmodSync, copyFileSync, existsSync, mkdirSync, realpathSync, renameSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { invalid } from "../domain/errors";
import type { CommandModule } from "./context";

export const UNIT_NAME = "drover.service";
export const DEFAULT_UNIT_DIR = "/etc/systemd/system";
export const DEFAULT_BIN = "/usr/local/bin/drover";

/** systemd quoting for one ExecStart= word: plain when safe, else double-quoted with \ and " escaped. */
const quote = (w: string) =>
  /^[A-Za-z0-9_@+=:,./-]+$/.test(w)
    ? w
    : `"${w
        .replace(/[\\"]/g, (c) => `\\${c}`)
        .replace(/\$/g, "$$$$")
        .replace(/%/g, "%%")}"`;

/**
 * The unit `drover install` writes. Type=notify: `drover serve` sends READY=1 once DHCP, TFTP and HTTP listen
 * (so `systemctl start` returns when nodes can boot), STOPPING=1 on SIGTERM, and WATCHDOG=1 every 15 s while
 * its store answers; a hung server is restarted after 30 s. No sandboxing that would break what drover does
 * as root: binding ports 67/69, SO_BINDTODEVICE, reading the head node's accounts for `image syncuser`.
 */
export function systemdUnit(o: { bin: string; dataDir: string; serveArgs: readonly string[] }): string {
  const stateDir = o.dataDir.startsWith("/var/lib/") ? o.dataDir.slice("/var/lib/".length) : undefined;
  return `# Written by 'drover install'; 'drover uninstall' removes it. Local changes: systemctl edit drover
[Unit]
Description=drover cluster provisioning (DHCP, TFTP, HTTP boot, web page)
Documentation=man:drover(1)
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
NotifyAccess=main
ExecStart=${[o.bin, "-d", o.dataDir, "serve", ...o.serveArgs].map(quote).join(" ")}
# systemctl reload drover: put settings saved by another process (drover settings import) into effect
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=2s
WatchdogSec=30s
TimeoutStartSec=120s
TimeoutStopSec=30s
${stateDir ? `StateDirectory=${stateDir}\nStateDirectoryMode=0700\n` : ""}UMask=0077
LimitNOFILE=65536
SyslogIdentifier=drover

[Install]
WantedBy=multi-user.target
`;
}

const install: CommandModule = (parent, ctx) => {
  parent
    .command("install")
    .description("install drover as a systemd service: the executable, a Type=notify unit and the data dir (mode 0700)")
    .argument("[serve-args...]", "options for 'drover serve' in the unit, after --, e.g. -- -i eth1 --discovery")
    .option("--unit-dir <dir>", "where the unit goes", DEFAULT_UNIT_DIR)
    .option("--bin <path>", "where the executable goes (copied from the one running)", DEFAULT_BIN)
    .option("--force", "replace an existing unit")
    .addHelpText(
      "after",
      `
The data dir is the global -d/--data-dir (default /var/lib/drover as root). Nothing is started: the command
prints the systemctl lines to run. The first start saves the web/API admin password to DATA-DIR/admin-password.
Examples:
  sudo drover install                          unit for 'drover serve' (DHCP off)
  sudo drover install -- -i eth1 --discovery   unit for 'drover serve -i eth1 --discovery'
  sudo drover uninstall                        stop, disable and remove it (the data dir is kept)`,
    )
    .action((serveArgs: string[], opts: { unitDir: string; bin: string; force?: boolean }) => {
      const dataDir = ctx.dataDir;
      const unitPath = join(opts.unitDir, UNIT_NAME);
      if (existsSync(unitPath) && !opts.force) throw invalid(`${unitPath} exists; give --force to replace it, or run 'drover uninstall' first`);
      if (serveArgs.some((a) => a === "-d" || a === "--data-dir" || a.startsWith("--data-dir=")))
        throw invalid("give the data dir as 'drover -d DIR install', not in the serve arguments");
      // The executable: this one (a compiled drover), copied unless it already is the target.
      const self = process.execPath;
      if (basename(self) === "bun" || basename(self) === "bun.exe") {
        if (!existsSync(opts.bin))
          throw invalid(
            `this is drover run from source (under ${self}); build it ('npm run build') and run dist/drover install, or put an executable at ${opts.bin}`,
          );
      } else if (!existsSync(opts.bin) || realpathSync(opts.bin) !== realpathSync(self)) {
        mkdirSync(dirname(opts.bin), { recursive: true });
        // Copy beside it, then rename: a running server's executable is replaced, never written into.
        copyFileSync(self, `${opts.bin}.new`);
        chmodSync(`${opts.bin}.new`, 0o755);
        renameSync(`${opts.bin}.new`, opts.bin);
        ctx.io.out(`installed ${opts.bin}\n`);
      }
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      // Only its owner reads the store, the password file and the API tokens' hashes.
      chmodSync(dataDir, 0o700);
      mkdirSync(opts.unitDir, { recursive: true });
      writeFileSync(`${unitPath}.new`, systemdUnit({ bin: opts.bin, dataDir, serveArgs }), { mode: 0o644 });
      renameSync(`${unitPath}.new`, unitPath);
      const mode = (statSync(dataDir).mode & 0o777).toString(8);
      ctx.io.out(
        `wrote ${unitPath}\ndata dir ${dataDir} (mode ${mode})\n\nStart it now and at every boot:\n  systemctl daemon-reload\n  systemctl enable --now drover\n` +
          `Then: journalctl -u drover -f (the log); the web page's admin password is in ${join(dataDir, "admin-password")} after the first start.\n`,
      );
    });
};

export default install;
