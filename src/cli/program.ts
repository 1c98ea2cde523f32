import { Command, CommanderError } from "commander";
import type { Services } from "../app";
import { DroverError, invalid } from "../domain/errors";
import { VERSION } from "../version";
import { CliContext, type CommandModule } from "./context";
import type { Io } from "./output";
import { remoteTarget, runRemote } from "./remote";

import imageBuild from "./image/build";
import imageCopy from "./image/copy";
import imageDelete from "./image/delete";
import imageExec from "./image/exec";
import { ExitWith } from "./exit";
import imageImport from "./image/import";
import imageKernels from "./image/kernels";
import imageList from "./image/list";
import imageRename from "./image/rename";
import imageShell from "./image/shell";
import imageShow from "./image/show";
import imageSyncuser from "./image/syncuser";
import nodeAdd from "./node/add";
import nodeConsole from "./node/console";
import nodeDelete from "./node/delete";
import nodeDiscovered from "./node/discovered";
import nodeEdit from "./node/edit";
import nodeExport from "./node/export";
import nodeImport from "./node/import";
import nodeList from "./node/list";
import nodeSensors from "./node/sensors";
import nodeSet from "./node/set";
import nodeStatus from "./node/status";
import nodeUnset from "./node/unset";
import overlayBuild from "./overlay/build";
import overlayChmod from "./overlay/chmod";
import overlayChown from "./overlay/chown";
import overlayCreate from "./overlay/create";
import overlayDelete from "./overlay/delete";
import overlayEdit from "./overlay/edit";
import overlayImport from "./overlay/import";
import overlayInfo from "./overlay/info";
import overlayLint from "./overlay/lint";
import overlayList from "./overlay/list";
import overlayMkdir from "./overlay/mkdir";
import overlayShow from "./overlay/show";
import powerCycle from "./power/cycle";
import powerOff from "./power/off";
import powerOn from "./power/on";
import powerReset from "./power/reset";
import powerSoft from "./power/soft";
import powerStatus from "./power/status";
import profileAdd from "./profile/add";
import profileDelete from "./profile/delete";
import profileEdit from "./profile/edit";
import profileList from "./profile/list";
import profileSet from "./profile/set";
import profileUnset from "./profile/unset";
import backup from "./backup";
import { setupConfigure } from "./configure/all";
import configureHosts from "./configure/hosts";
import configureNfs from "./configure/nfs";
import configureSsh from "./configure/ssh";
import settingsImport from "./settings/import";
import completion from "./completion";
import help from "./help";
import man from "./man";
import install from "./install";
import restore from "./restore";
import serve from "./serve";
import uninstall from "./uninstall";
import userPasswd from "./user/passwd";
import userToken from "./user/token";
import userUnlock from "./user/unlock";
import userRole from "./user/role";
import userList from "./user/list";
import version from "./version";
import wwctl from "./wwctl";

/** The command table: noun → its verbs. Adding a command means adding its file here (and its test). */
export const COMMANDS: Record<string, { help: string; aliases?: string[]; verbs?: CommandModule[]; self?: CommandModule; setup?: CommandModule }> = {
  node: {
    help: "add, change, list and remove nodes",
    verbs: [nodeAdd, nodeSet, nodeUnset, nodeList, nodeDelete, nodeEdit, nodeExport, nodeImport, nodeStatus, nodeConsole, nodeSensors, nodeDiscovered],
  },
  profile: { help: "add, change, list and remove profiles", verbs: [profileAdd, profileSet, profileUnset, profileList, profileDelete, profileEdit] },
  power: {
    help: "power nodes on, off, cycle, reset, soft-off, or show their power state (IPMI, Redfish)",
    verbs: [powerOn, powerOff, powerCycle, powerReset, powerSoft, powerStatus],
  },
  image: {
    help: "import, change, build and list node images (aliases: container, vnfs)",
    aliases: ["container", "vnfs"],
    verbs: [imageImport, imageBuild, imageExec, imageShell, imageList, imageShow, imageKernels, imageCopy, imageRename, imageDelete, imageSyncuser],
  },
  overlay: {
    help: "list, edit and build the per-node overlays (templates rendered for each node)",
    verbs: [
      overlayList,
      overlayShow,
      overlayCreate,
      overlayDelete,
      overlayEdit,
      overlayImport,
      overlayMkdir,
      overlayChmod,
      overlayChown,
      overlayInfo,
      overlayBuild,
      overlayLint,
    ],
  },
  user: { help: "web page and API accounts: set passwords, create and revoke API tokens", verbs: [userPasswd, userRole, userList, userUnlock, userToken] },
  settings: { help: "drover serve's saved settings: import a Warewulf warewulf.conf", verbs: [settingsImport] },
  configure: {
    help: "write the head node's NFS exports, /etc/hosts block and root's SSH key (wwctl configure)",
    verbs: [configureNfs, configureSsh, configureHosts],
    setup: setupConfigure,
  },
  serve: { help: "run the boot servers (DHCP, TFTP, HTTP) and the web page", self: serve },
  install: { help: "install drover as a systemd service (unit, executable, data dir)", self: install },
  uninstall: { help: "remove the systemd service (the data dir is kept)", self: uninstall },
  backup: { help: "back up the store and the site's files, while serving", self: backup },
  restore: { help: "restore a backup (with the server stopped)", self: restore },
  completion: { help: "shell completions (bash, zsh, fish)", self: completion },
  man: { help: "the manual page", self: man },
  help: { help: "a command's help: drover help node add", self: help },
  version: { help: "print drover's version", self: version },
  wwctl: { help: "run a Warewulf wwctl command line (drover symlinked as wwctl does the same): docs/wwctl.md", self: wwctl },
};

/** Exit codes: 0 ok, 1 internal failure, 2 bad input, 3 not found, 4 conflict, 5 in use, 6 some nodes failed, 7 lint findings. */
const EXIT: Record<DroverError["kind"], number> = { invalid: 2, "not-found": 3, conflict: 4, "in-use": 5 };

/**
 * Commands a remote client (`drover --server`) may not run, with what to do instead. The head node refuses
 * them (exit 2) before their action runs: they need its terminal, run programs on it, or manage its accounts.
 * (`image import` of a local archive and `node export -o` refuse themselves: only some of their forms are local.)
 */
export const LOCAL_ONLY: Record<string, string> = {
  serve: "it runs the boot servers on the machine it is started on; start it on the head node",
  install: "it installs a service on the head node: ssh to it and run 'drover install' there",
  uninstall: "it removes a service from the head node: ssh to it and run 'drover uninstall' there",
  configure: "it writes the head node's files and runs exportfs and ssh-keygen there: ssh to it and run 'drover configure' there",
  "configure nfs": "it writes the head node's exports and runs exportfs there: ssh to it and run 'drover configure nfs' there",
  "configure hosts": "it writes the head node's /etc/hosts: ssh to it and run 'drover configure hosts' there",
  "configure ssh": "it makes root's key on the head node with ssh-keygen: ssh to it and run 'drover configure ssh' there",
  backup: "it writes a file on the head node: ssh to it and run 'drover backup FILE' there",
  restore: "it replaces the head node's data dir: ssh to it and run 'drover restore FILE' there",
  "user passwd": "accounts are managed on the head node: ssh to it and run 'drover user passwd' there",
  "user role": "accounts are managed on the head node: ssh to it and run 'drover user role' there",
  "user unlock": "accounts are managed on the head node: ssh to it and run 'drover user unlock' there",
  "image exec": "it runs programs on the head node: ssh to it and run 'drover image exec' there",
  "image shell": "it runs a shell on the head node: ssh to it and run 'drover image shell' there",
  "node console": "interactive Serial-over-LAN needs the head node's terminal: ssh to the head node and run 'drover node console' there",
};

/** The command's path without aliases: "image exec" for `drover container exec`. */
const pathOf = (cmd: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
};

export function buildProgram(ctx: CliContext, root: Command): Command {
  root
    .name("drover")
    .description("Stateless cluster provisioning: boot diskless nodes from one head node.")
    .version(VERSION, "-V, --version", "print the version")
    .option("-d, --data-dir <dir>", "where drover keeps its state (env DROVER_DATA_DIR; default /var/lib/drover as root, else ./.drover)")
    .option("--server <url>", "run the command on the head node whose 'drover serve' is at this URL, e.g. http://head:9873 (env DROVER_SERVER)")
    .option("--token <token>", "API token for --server (env DROVER_TOKEN; visible in ps, prefer --token-file)")
    .option("--token-file <file>", "read the API token for --server from this file")
    .showHelpAfterError("(run with --help for usage)")
    // Global options go before the command (drover -d DIR node list); this lets `image exec NAME CMD -x`
    // pass the command's own options through untouched.
    .enablePositionalOptions()
    .configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) })
    .exitOverride();
  for (const [noun, spec] of Object.entries(COMMANDS)) {
    if (spec.self) {
      spec.self(root, ctx);
      continue;
    }
    const cmd = root.command(noun).description(spec.help).enablePositionalOptions();
    for (const a of spec.aliases ?? []) cmd.alias(a);
    cmd.configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) }).exitOverride();
    for (const v of spec.verbs ?? []) v(cmd, ctx);
    spec.setup?.(cmd, ctx);
  }
  root.addHelpText(
    "after",
    `
Examples:
  drover node add n[001-004] --ipaddr 10.0.0.11/24 --hwaddr 52:54:00:00:00:01   (addresses increment per node)
  drover node list -a n001        every field, with the profile it came from
  drover serve                    run the boot servers and the web page on :9873
  drover --server http://head:9873 --token-file ~/.drover-token node list
                                  run a command on the head node from elsewhere (remote use); same
                                  output and exit codes; the token comes from 'drover user token create NAME'

Run 'drover COMMAND --help' for a command's options.`,
  );
  // The head node refuses what a remote client may not run, before the command's action starts.
  root.hook("preAction", (_root, action) => {
    if (!ctx.remote) return;
    const g = root.opts<{ dataDir?: string; server?: string; token?: string; tokenFile?: string }>();
    if (g.dataDir !== undefined || g.server !== undefined || g.token !== undefined || g.tokenFile !== undefined)
      throw invalid("-d/--data-dir, --server, --token and --token-file cannot be given to a command run through --server");
    const path = pathOf(action);
    const why = LOCAL_ONLY[path];
    if (why) throw invalid(`'drover ${path}' cannot run through --server: ${why}`);
  });
  return root;
}

/**
 * Runs the CLI and returns the exit code. The only caller that exits the process is main.ts.
 * With `services` it runs against those open services (and leaves them open): how `drover serve` runs a
 * command for a remote client, whose terminal is `io` (io.remote).
 */
export async function runCli(argv: readonly string[], io: Io, opts: { services?: Services } = {}): Promise<number> {
  const root = new Command();
  const ctx = new CliContext(
    io,
    () => root,
    opts.services,
    (svc) => (a, remoteIo) => runCli(a, { ...remoteIo, remote: true }, { services: svc }),
  );
  buildProgram(ctx, root);
  // `drover --server URL … COMMAND`: the root's options are parsed, the command is not run here but sent.
  // A head node running a command for a client never connects onwards (preAction refuses the options).
  root.hook("preSubcommand", async () => {
    if (ctx.remote) return;
    const target = remoteTarget(root.opts(), io.env);
    if (target) throw new ExitWith(await runRemote(target, remoteArgv(argv), io));
  });
  // Commander's exitOverride applies per command; set it on every subcommand so errors come back here.
  const walk = (c: Command) => {
    c.exitOverride();
    c.configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
    c.commands.forEach(walk);
  };
  walk(root);
  try {
    await root.parseAsync(argv as string[], { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
      if (e.code === "commander.executeSubCommandAsync") return 0;
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof ExitWith) return e.code;
    if (e instanceof DroverError) {
      io.err(`drover: ${e.message}\n`);
      return EXIT[e.kind];
    }
    const err = e as Error;
    io.err(`drover: internal error: ${err.message}\n${io.env.DROVER_DEBUG ? `${err.stack}\n` : "(set DROVER_DEBUG=1 for a stack trace)\n"}`);
    return 1;
  } finally {
    ctx.close();
  }
}

/** The command and its arguments without the global options before it (those are this side's). */
export function remoteArgv(argv: readonly string[]): string[] {
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith("-") && argv[i] !== "--") {
    i += /^(-d|--data-dir|--server|--token|--token-file)$/.test(argv[i]!) ? 2 : 1;
  }
  return argv.slice(i);
}
