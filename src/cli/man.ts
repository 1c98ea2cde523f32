import { VERSION } from "../version";
import { type CommandInfo, commandTree } from "./completion";
import type { CommandModule } from "./context";

/** roff-escapes text: backslashes, and a leading dot or quote that roff would read as a request. */
const esc = (s: string) => s.replace(/\\/g, "\\e").replace(/-/g, "\\-").replace(/^[.']/gm, "\\&$&");

/** drover(1), from the command table: every command with its usage, description and options. */
export function manPage(tree: CommandInfo[], date = new Date()): string {
  const [root, ...cmds] = tree;
  const out = [
    `.TH DROVER 1 "${date.toISOString().slice(0, 10)}" "drover ${VERSION}" "User Commands"`,
    ".SH NAME",
    "drover \\- stateless cluster provisioning: DHCP, TFTP and HTTP boot, node store, images, overlays, power",
    ".SH SYNOPSIS",
    ".B drover",
    "[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]",
    ".SH DESCRIPTION",
    esc(root!.description),
    ".SH GLOBAL OPTIONS",
  ];
  for (const o of root!.options) out.push(".TP", `.B ${esc(o.flags)}`, esc(o.description));
  out.push(".SH COMMANDS");
  for (const c of cmds) {
    const name = c.path.join(" ");
    out.push(
      `.SS "drover ${esc(name)}${c.usage ? ` ${esc(c.usage)}` : ""}"`,
      esc(c.description) + (c.aliases.length ? ` (alias: ${esc(c.aliases.join(", "))})` : ""),
    );
    for (const o of c.options) out.push(".TP", `.B ${esc(o.flags)}`, esc(o.description));
  }
  out.push(
    ".SH ENVIRONMENT",
    ".TP\n.B DROVER_DATA_DIR\nthe data dir when \\-d is not given",
    ".TP\n.B DROVER_SERVER\\fR, \\fBDROVER_TOKEN\nthe head node and API token for remote use",
    ".TP\n.B NOTIFY_SOCKET\\fR, \\fBWATCHDOG_USEC\nset by systemd: drover serve reports readiness and pings the watchdog",
    ".SH EXIT STATUS",
    "0 success, 1 internal error, 2 bad input, 3 not found, 4 conflict, 5 in use, 6 an operation failed on some nodes (listed), 7 lint found problems (listed).",
    ".SH FILES",
    ".TP\n.I /var/lib/drover\nthe data dir as root (./.drover otherwise): drover.db, overlays/, images/, admin\\-password, serve.lock, backups/",
    ".TP\n.I /etc/systemd/system/drover.service\nwritten by drover install",
    ".SH SEE ALSO",
    "Run \\fBdrover help COMMAND\\fR for a command's examples.",
  );
  return `${out.join("\n")}\n`;
}

const man: CommandModule = (parent, ctx) => {
  parent
    .command("man")
    .description("print drover's manual page (roff), generated from the command table")
    .addHelpText("after", "\nExamples:\n  drover man | man -l -\n  drover man > /usr/local/share/man/man1/drover.1")
    .action(() => ctx.io.out(manPage(commandTree(parent))));
};
export default man;
