import type { Command } from "commander";
import type { CliContext } from "../context";
import { addConfigureOptions, stepOptions } from "./common";
import { configureHosts } from "./hosts";
import { configureNfs } from "./nfs";
import { configureSsh } from "./ssh";

/**
 * `drover configure --all` (wwctl configure --all): every head-node step drover does not already do inside
 * drover serve, in Warewulf's order: NFS exports, root's SSH key, /etc/hosts. DHCP and TFTP need none: drover
 * serve is both servers.
 */
export function setupConfigure(cmd: Command, ctx: CliContext): void {
  addConfigureOptions(cmd.option("-a, --all", "run every step: nfs, ssh, hosts"))
    .addHelpText(
      "after",
      `
Each step is idempotent: a second run says "no change". DHCP and TFTP need no step: drover serve is both
servers, with its own iPXE binaries (wwctl configure dhcp|tftp).
Examples:
  drover configure --all --dry-run   every diff, nothing written
  drover configure --all
  drover configure hosts`,
    )
    .action((_o, c: Command) => {
      const o = stepOptions(c);
      if (!c.opts().all) {
        c.outputHelp();
        return;
      }
      configureNfs(ctx, o);
      configureSsh(ctx, o);
      configureHosts(ctx, o);
      ctx.io.out("dhcp, tftp: nothing to configure (drover serve answers DHCP and TFTP itself)\n");
    });
}
