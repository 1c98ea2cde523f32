import type { Command } from "commander";
import { hostname } from "node:os";
import type { Services } from "../../app";
import { HEADNODE_SETTINGS_KEY, type HeadNodeSettings } from "../../config/warewulf-conf";
import { hostInterfaces } from "../../config/serve";
import type { StoredSettings } from "../../config/settings";
import { type FileChange, HeadRoot, headRoot } from "../../runtime/head-files";
import type { CliContext } from "../context";

/** Options every `drover configure` step takes. */
export interface ConfigureOptions {
  dryRun?: boolean;
  root?: string;
}

export function addConfigureOptions(cmd: Command): Command {
  return cmd
    .option("--dry-run", "print what would change (a unified diff) and change nothing")
    .option("--root <dir>", "write under DIR instead of / (a chroot, a staging tree, tests; env DROVER_ROOT)");
}

/** The options of the step, with those given before it (`drover configure --dry-run nfs`). */
export function stepOptions(cmd: Command): ConfigureOptions {
  const own = cmd.opts<ConfigureOptions>();
  const parent = cmd.parent?.opts<ConfigureOptions>() ?? {};
  return { dryRun: own.dryRun ?? parent.dryRun, root: own.root ?? parent.root };
}

export function rootOf(ctx: CliContext, o: ConfigureOptions): HeadRoot {
  return headRoot(o.root, ctx.io.env);
}

/** What `drover settings import` saved for the head node (export paths, key types), if anything. */
export function headNodeSettings(svc: Services): HeadNodeSettings {
  return svc.settingsStore.get<HeadNodeSettings>(HEADNODE_SETTINGS_KEY) ?? {};
}

/**
 * Whether a mount source's host names this head node: one of its addresses, its host name, the address
 * drover serves DHCP from, the ipaddr of an imported warewulf.conf, or `warewulf` (Warewulf's alias for
 * its server in the nodes' /etc/hosts and in `wwctl upgrade`'s fstab entries).
 */
export function isThisHost(svc: Services, hn: HeadNodeSettings): (host: string) => boolean {
  const names = new Set<string>(["warewulf", "localhost", "127.0.0.1"]);
  const h = hostname();
  names.add(h);
  names.add(h.split(".")[0]!);
  for (const i of hostInterfaces()) names.add(i.address);
  for (const a of hn.addresses ?? []) names.add(a);
  const serve = svc.settingsStore.get<StoredSettings>("serve")?.values;
  if (serve?.serverIp) names.add(serve.serverIp);
  return (host) => names.has(host);
}

/** Prints a planned file change: the diff in a dry run, else what was done. */
export function report(ctx: CliContext, c: FileChange, dryRun: boolean | undefined, wrote: boolean, what: string): void {
  if (!c.diff) {
    ctx.io.out(`${c.path}: no change (${what})\n`);
    return;
  }
  if (dryRun) {
    ctx.io.out(c.diff);
    ctx.io.out(`${c.path}: would be ${c.before === undefined ? "created" : "changed"} (${what}); dry run: nothing written\n`);
    return;
  }
  ctx.io.out(`${c.path}: ${wrote ? (c.before === undefined ? "created" : "updated") : "unchanged"} (${what})\n`);
}
