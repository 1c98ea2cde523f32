import { invalid, notFound } from "../../domain/errors";
import { isMac, normalizeMac } from "../../domain/net";
import type { DiscoveryInbox } from "../../services/inbox";
import type { UnknownMac } from "../../services/ports";
import type { CommandModule } from "../context";
import { emit, formatOf, table } from "../output";
import { ago } from "./status";

const words = (s: string | undefined) => (s ?? "").split(/[\s,]+/).filter(Boolean);

/** Every MAC must be in the inbox before any is changed: all or nothing. */
function allListed(inbox: DiscoveryInbox, macs: readonly string[]): void {
  const listed = new Set(inbox.list().map((u) => u.mac));
  for (const m of macs) {
    if (!isMac(m)) throw invalid(`'${m}' is not a MAC address (like 52:54:00:12:34:56); nothing was changed`);
    if (!listed.has(normalizeMac(m)))
      throw notFound(`${normalizeMac(m)} is not in the discovery inbox ('drover node discovered list' shows it); nothing was changed`);
  }
}

/**
 * `drover node discovered list|accept|ignore|unignore|delete`: the discovery inbox (machines that asked to
 * boot but match no node), as the web page's Discovery page and the API's /discovery routes show it. Each
 * verb calls the same `DiscoveryInbox` use case as the API.
 */
const discovered: CommandModule = (parent, ctx) => {
  const cmd = parent
    .command("discovered")
    .description("the discovery inbox: unknown MACs that asked to boot; accept one as a node, ignore it, or remove it")
    .addHelpText(
      "after",
      `
Examples:
  drover node discovered list                                   what is waiting (--json for scripts)
  drover node discovered accept 52:54:00:12:34:56 --name n005 --ipaddr 10.0.0.15/24
  drover node discovered accept 52:54:00:12:34:56 --bind spare1  give the MAC to a node marked --discoverable
  drover node discovered ignore 52:54:00:12:34:56                keep it listed as ignored (unignore undoes it)
  drover node discovered delete 52:54:00:12:34:56                forget it (it comes back if it asks again)`,
    );
  cmd
    .command("list")
    .alias("ls")
    .description("list the unknown MACs that asked to boot: address asked from, how often, first and last seen, ignored or waiting")
    .option("--waiting", "leave out the ignored ones")
    .option("-j, --json", "JSON output")
    .option("-y, --yaml", "YAML output")
    .action((opts: { waiting?: boolean; json?: boolean; yaml?: boolean }) => {
      const rows = ctx.services().inbox.list(!opts.waiting);
      const format = formatOf(opts);
      if (format !== "table") return emit(ctx.io, format, rows);
      if (!rows.length) return ctx.io.out(`The discovery inbox is empty${opts.waiting ? " (ignored MACs left out)" : ""}.\n`);
      const now = Date.now();
      ctx.io.out(
        table(
          ["MAC", "STATE", "ADDRESS", "ASKED", "FIRST SEEN", "LAST SEEN", "DETAIL"],
          rows.map((u: UnknownMac) => [
            u.mac,
            u.ignored ? "ignored" : "waiting",
            u.address ?? "--",
            `${u.count}×`,
            ago(u.firstSeen, now),
            ago(u.lastSeen, now),
            u.detail ?? "",
          ]),
        ),
      );
    });
  cmd
    .command("accept")
    .description("accept a MAC from the inbox as a new node (--name), or bind it to a node marked discoverable (--bind)")
    .argument("<mac>", "the MAC as listed (any of 52:54:00:12:34:56, 52-54-00-12-34-56)")
    .option("-n, --name <name>", "the new node's name")
    .option("-P, --profile <names>", "the new node's profiles, comma-separated (default: default)")
    .option("-I, --ipaddr <address>", "the new node's address, optionally with a prefix: 10.0.0.15 or 10.0.0.15/24")
    .option("-M, --netmask <mask>", "the new node's netmask")
    .option("-N, --netname <name>", "the network device to put the MAC on", "default")
    .option("--bind <node>", "bind the MAC to this node (marked --discoverable) instead of adding one")
    .action((mac: string, opts: { name?: string; profile?: string; ipaddr?: string; netmask?: string; netname: string; bind?: string }) => {
      const inbox = ctx.services().inbox;
      if (opts.bind) {
        if (opts.name || opts.profile || opts.ipaddr || opts.netmask)
          throw invalid("--bind gives the MAC to an existing node: --name, --profile, --ipaddr and --netmask are for a new node");
        const node = inbox.bind(mac, opts.bind);
        return ctx.io.out(`${mac} is bound to node ${node}\n`);
      }
      if (!opts.name) throw invalid("give the new node's name (--name n005), or --bind NODE for a node marked discoverable");
      const profiles = words(opts.profile);
      const node = inbox.acceptAsNew(mac, opts.name, {
        ...(profiles.length ? { profiles } : {}),
        ...(opts.ipaddr ? { ipaddr: opts.ipaddr } : {}),
        ...(opts.netmask ? { netmask: opts.netmask } : {}),
        device: opts.netname,
      });
      ctx.io.out(`${mac} is now node ${node}${opts.ipaddr ? ` (${opts.ipaddr})` : ""}\n`);
    });
  /** ignore, unignore, delete: every MAC must be listed, then each is changed. */
  const onListed = (name: string, description: string, change: (inbox: DiscoveryInbox, mac: string) => void, done: (macs: string) => string) =>
    cmd
      .command(name)
      .description(description)
      .argument("<macs...>", "MACs as listed")
      .action((macs: string[]) => {
        const inbox = ctx.services().inbox;
        allListed(inbox, macs);
        for (const m of macs) change(inbox, m);
        ctx.io.out(`${done(macs.join(", "))}\n`);
      });
  onListed(
    "ignore",
    "mark MACs in the inbox as ignored: still listed, no longer waiting (the page stops flagging them)",
    (inbox, m) => inbox.ignore(m, true),
    (macs) => `ignored ${macs}`,
  );
  onListed(
    "unignore",
    "stop ignoring MACs in the inbox: they are waiting again",
    (inbox, m) => inbox.ignore(m, false),
    (macs) => `${macs} waiting again`,
  );
  onListed(
    "delete",
    "remove MACs from the inbox (a MAC that asks to boot again comes back)",
    (inbox, m) => inbox.forget(m),
    (macs) => `removed ${macs} from the discovery inbox`,
  ).aliases(["rm", "remove"]);
};
export default discovered;
