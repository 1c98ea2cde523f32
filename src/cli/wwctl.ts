import { basename } from "node:path";
import type { CliContext, CommandModule } from "./context";
import { ExitWith } from "./exit";

/**
 * `wwctl` compatibility: drover invoked as `wwctl` (a symlink) or as `drover wwctl …` accepts Warewulf 4.5–4.7
 * syntax as the guides write it. Each rule below names the Warewulf syntax it covers and what drover does
 * with it: run drover's own command (the argv is translated, nothing is reimplemented here), explain in one
 * line what drover does instead (exit 0: drover already does it itself), or refuse with the drover command
 * to use (exit 2). docs/wwctl.md lists the same table.
 */
export type WwctlOutcome =
  | { kind: "mapped"; rule: string; argv: string[] }
  | { kind: "explained"; rule: string; message: string }
  | { kind: "refused"; rule: string; message: string };

interface Rule {
  /** The Warewulf syntax it covers, as in docs/wwctl.md. */
  ww: string;
  /** What drover does, for the docs. */
  drover: string;
  /** Noun (and verb) it applies to; "*" for a noun's other verbs. */
  noun: string[];
  verb?: string[];
  /** Gets the arguments after the noun (the verb first), the noun and the verb. */
  apply: (tail: string[], noun: string, verb: string) => WwctlOutcome | string[];
}

const REFUSED = 2;

const isFlag = (a: string) => a.startsWith("-") && a !== "-";
/** Renames Warewulf's flags (`--container X`, `--container=X`, `-C X`) to drover's; other arguments pass. */
function renameFlags(args: string[], names: Record<string, string>): string[] {
  const out: string[] = [];
  for (const a of args) {
    const eq = a.indexOf("=");
    const [f, v] = a.startsWith("--") && eq > 0 ? [a.slice(0, eq), a.slice(eq)] : [a, ""];
    out.push(isFlag(f) && names[f] ? names[f] + v : a);
  }
  return out;
}
/** Node and profile field flags whose Warewulf spelling drover does not take as is. */
const FIELD_RENAMES: Record<string, string> = {
  "--container": "--image",
  "-C": "--image",
  "--kerneloverride": "--kernelversion",
  "--kernel": "--kernelversion",
  "-K": "--kernelversion",
};

/**
 * `image exec|shell [flags] NAME [--] [CMD…]` (Warewulf puts the flags before the name or after it, and the
 * `--` is optional): drover wants `image exec [flags] NAME -- CMD…`.
 */
function execArgs(verb: "exec" | "shell", rest: string[]): WwctlOutcome | string[] {
  const flags: string[] = [];
  let name: string | undefined;
  let i = 0;
  for (; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === "--") {
      i++;
      break;
    }
    if (!isFlag(a)) {
      if (name !== undefined) break;
      name = a;
      continue;
    }
    if (a === "-b" || a === "--bind") flags.push("--bind", rest[++i] ?? "");
    else if (a.startsWith("--bind=")) flags.push(a);
    else if (a === "--build=false" || a === "--no-build") flags.push("--no-build");
    else if (a === "--build" || a === "--build=true")
      continue; // drover rebuilds after changes by default
    else if (a === "-n" || a === "--node" || a.startsWith("--node="))
      return {
        kind: "refused",
        rule: `image ${verb}`,
        message: `--node (render a node's overlays into the image) has no drover equivalent: run 'drover image ${verb} NAME' and 'drover overlay show OVERLAY FILE --render NODE'`,
      };
    else if (verb === "shell" && !name) flags.push(a);
    else if (name !== undefined)
      break; // the command's own options, e.g. `exec IMG /bin/ls -l`
    else flags.push(a);
  }
  if (name === undefined) return ["image", verb, ...flags];
  const cmd = rest.slice(i);
  if (verb === "shell") return cmd.length ? ["image", "exec", ...flags, name, "--", ...cmd] : ["image", "shell", ...flags, name];
  return ["image", "exec", ...flags, name, "--", ...cmd];
}

const IMAGE_VERBS: Record<string, string> = {
  cp: "copy",
  copy: "copy",
  import: "import",
  pull: "import",
  build: "build",
  list: "list",
  ls: "list",
  show: "show",
  delete: "delete",
  rm: "delete",
  del: "delete",
  remove: "delete",
  rename: "rename",
  mv: "rename",
  syncuser: "syncuser",
  kernels: "kernels",
};

export const WWCTL_RULES: Rule[] = [
  {
    ww: "container|image|vnfs exec [--bind SRC[:DST[:ro]]] [--build=false] NAME [--] CMD…",
    drover: "image exec [--bind …] [--no-build] NAME -- CMD…",
    noun: ["container", "image", "vnfs"],
    verb: ["exec"],
    apply: (tail) => execArgs("exec", tail.slice(1)),
  },
  {
    ww: "container|image|vnfs shell [--bind …] NAME",
    drover: "image shell [--bind …] NAME",
    noun: ["container", "image", "vnfs"],
    verb: ["shell"],
    apply: (tail) => execArgs("shell", tail.slice(1)),
  },
  {
    ww: "container|image set NAME --bootable true",
    drover: "nothing to set: every built image is bootable (image import builds it; image build rebuilds it)",
    noun: ["container", "image", "vnfs"],
    verb: ["set"],
    apply: (tail) => {
      const rest = tail.slice(1);
      const name = rest.find((a) => !isFlag(a) && !/^(true|false|yes|no)$/i.test(a)) ?? "NAME";
      if (rest.some((a) => a === "--bootable" || a.startsWith("--bootable=")))
        return {
          kind: "explained",
          rule: "image set --bootable",
          message: `every built drover image is bootable; nothing to set ('drover image build ${name}' rebuilds it, 'drover image show ${name}' shows it)`,
        };
      return {
        kind: "refused",
        rule: "image set",
        message: `drover images have no settable attributes; change one with 'drover image exec ${name} -- CMD' or 'drover image shell ${name}'`,
      };
    },
  },
  {
    ww: "container|image|vnfs import|pull SOURCE NAME [--build] [--force] [--platform] [--username] [--password] [--nohttps]",
    drover: "image import SOURCE NAME [...] (builds by default; --build is implied)",
    noun: ["container", "image", "vnfs"],
    verb: ["import", "pull"],
    apply: (tail) => ["image", "import", ...tail.slice(1).filter((a) => a !== "--build" && a !== "-b" && a !== "--build=true")],
  },
  {
    ww: "container|image|vnfs cp|copy|build|list|ls|show|delete|rm|rename|syncuser|kernels …",
    drover: "image copy|build|list|show|delete|rename|syncuser|kernels …",
    noun: ["container", "image", "vnfs"],
    verb: Object.keys(IMAGE_VERBS).filter((v) => v !== "import" && v !== "pull"),
    apply: (tail, _n, verb) => ["image", IMAGE_VERBS[verb]!, ...tail.slice(1)],
  },
  {
    ww: "import oci|docker SOURCE NAME (guides' shorthand for container import)",
    drover: "image import SOURCE NAME",
    noun: ["import"],
    apply: (rest) => ["image", "import", ...(rest[0] === "oci" || rest[0] === "docker" ? rest.slice(1) : rest)],
  },
  {
    ww: "node|profile add|set|unset … [--container|-C IMAGE] [--kerneloverride|-K VERSION] …",
    drover: "node|profile add|set|unset … --image IMAGE --kernelversion VERSION …",
    noun: ["node", "profile"],
    verb: ["add", "new", "create", "set", "unset"],
    apply: (tail, noun, verb) => [noun, verb, ...renameFlags(tail.slice(1), FIELD_RENAMES)],
  },
  {
    ww: "overlay sync [NODES…] (older guides)",
    drover: "overlay build [NODES…]",
    noun: ["overlay"],
    verb: ["sync"],
    apply: (tail) => ["overlay", "build", ...tail.slice(1)],
  },
  {
    ww: "overlay edit system|runtime NODES (guides' shorthand: a node's overlay)",
    drover: "refused: overlay edit NAME FILE edits one overlay's file",
    noun: ["overlay"],
    verb: ["edit"],
    apply: (tail) => {
      const rest = tail.slice(1);
      const pos = rest.filter((a) => !isFlag(a));
      if (pos.length === 2 && /^(system|runtime)$/.test(pos[0]!) && /\[|,/.test(pos[1]!) && !pos[1]!.includes("/"))
        return {
          kind: "refused",
          rule: "overlay edit system|runtime NODES",
          message:
            `drover edits a file of an overlay, not a node's overlay: see which overlays ${pos[1]} use with 'drover node list -l ${pos[1]}', ` +
            `then 'drover overlay edit OVERLAY FILE' (e.g. drover overlay edit hosts /etc/hosts.eta)`,
        };
      return ["overlay", "edit", ...rest];
    },
  },
  {
    ww: "reboot NODES",
    drover: "power cycle NODES",
    noun: ["reboot"],
    apply: (rest) => ["power", "cycle", ...rest],
  },
  {
    ww: "power on|off|cycle|reset|soft|status NODES",
    drover: "power on|off|cycle|reset|soft|status NODES",
    noun: ["power"],
    apply: (tail, _n, verb) => ["power", verb === "shutdown" ? "soft" : verb === "reboot" ? "cycle" : verb, ...tail.slice(1)],
  },
  {
    ww: "configure --set=container:IMAGE (guides' shorthand: the default image)",
    drover: "profile set default --image IMAGE",
    noun: ["configure"],
    verb: ["--set"],
    apply: (tail) => {
      const v = tail[0]!.startsWith("--set=") ? tail[0]!.slice(6) : (tail[1] ?? "");
      const m = /^(container|image):(.+)$/.exec(v);
      if (!m)
        return {
          kind: "refused",
          rule: "configure --set",
          message: `'--set=${v}' is not understood; the default image is set with 'drover profile set default --image IMAGE'`,
        };
      return ["profile", "set", "-y", "default", "--image", m[2]!];
    },
  },
  {
    ww: "configure [--all] | nfs | hostfile | ssh | dhcp | tftp | tls",
    drover: "configure --all|nfs|hosts|ssh; dhcp, tftp explained (drover serve is both servers); tls refused",
    noun: ["configure"],
    apply: (tail) => {
      const what = tail.filter((a) => a !== "-a" && a !== "--all" && !isFlag(a));
      const all = what.length === 0 || tail.some((a) => a === "-a" || a === "--all");
      const rule = `configure ${all ? "--all" : what.join(" ")}`;
      const steps: Record<string, string> = { nfs: "nfs", hostfile: "hosts", hosts: "hosts", ssh: "ssh" };
      const notes: Record<string, string> = {
        dhcp:
          "drover serve is the DHCP server (drover serve -i IF, --dhcp authoritative|proxy|off, or the Settings page; 'drover settings import " +
          "/etc/warewulf/warewulf.conf' takes warewulf.conf's range)",
        tftp: "drover serve is the TFTP server and carries its own iPXE binaries",
      };
      const refuse: Record<string, string> = {
        tls: "drover has no TLS step (wwctl configure tls makes warewulfd's key pair); put a TLS proxy in front of drover serve's web page",
        warewulfd: "drover serve runs in the foreground or as a service: 'drover install', then systemctl enable --now drover",
      };
      if (all) return ["configure", "--all"];
      const unknown = what.filter((w) => !notes[w] && !refuse[w] && !steps[w]);
      if (unknown.length)
        return {
          kind: "refused",
          rule,
          message:
            `'configure ${unknown.join(" ")}' has no drover equivalent: drover configure --all|nfs|hosts|ssh writes the head node's files, ` +
            `drover serve runs DHCP, TFTP and HTTP itself`,
        };
      const refused = what.filter((w) => refuse[w]);
      if (refused.length) return { kind: "refused", rule, message: refused.map((w) => refuse[w]).join("; ") };
      const mapped = what.filter((w) => steps[w]);
      if (mapped.length) return ["configure", steps[mapped[0]!]!, ...tail.filter((a) => a === "--dry-run")];
      return { kind: "explained", rule, message: what.map((w) => notes[w]).join("; ") };
    },
  },
  {
    ww: "ssh generate | ssh copy --node NODES | ssh NODES CMD",
    drover: "generate: configure ssh; copy: explained (the ssh.authorized_keys overlay); NODES CMD: refused with what to run",
    noun: ["ssh"],
    apply: (_tail, _n, verb) => {
      if (verb === "copy")
        return {
          kind: "explained",
          rule: "ssh copy",
          message:
            "drover copies root's public keys (/root/.ssh/authorized_keys, id_*.pub) to every node through the ssh.authorized_keys runtime overlay; " +
            "nodes pick them up on their next poll ('drover overlay build' to rebuild now)",
        };
      if (verb === "generate") return ["configure", "ssh"];
      return { kind: "refused", rule: "ssh NODES CMD", message: `drover has no parallel ssh: use pdsh -w ${verb || "NODES"} CMD, or ssh NODE CMD` };
    },
  },
  {
    ww: "server start|stop|restart|status|reload",
    drover: "refused: drover serve (or drover install, then systemctl)",
    noun: ["server"],
    apply: () => ({
      kind: "refused",
      rule: "server",
      message: "run the boot servers with 'drover serve' in the foreground, or as a service: 'drover install' then systemctl start|stop|status drover",
    }),
  },
  {
    ww: "upgrade nodes|config --input-path FILE",
    drover: "refused: node import FILE",
    noun: ["upgrade"],
    apply: () => ({
      kind: "refused",
      rule: "upgrade",
      message:
        "drover reads Warewulf's files as they are: 'drover node import /etc/warewulf/nodes.conf --overlays /var/lib/warewulf/overlays' and 'drover " +
        "settings import /etc/warewulf/warewulf.conf'",
    }),
  },
  {
    ww: "node|profile|image|overlay|power|version|help … (other verbs, same syntax)",
    drover: "the drover command of the same name",
    noun: ["node", "profile", "overlay", "version", "help"],
    apply: (tail, noun) => [noun, ...tail],
  },
];

/** Warewulf's global flags (debug, verbosity, config file): drover has no equivalent and ignores them. */
const WW_GLOBALS = new Set(["-d", "--debug", "-v", "--verbose", "--emptyconf"]);

/** The Warewulf argv (after `wwctl`) → what drover does. */
export function translateWwctl(args: readonly string[]): WwctlOutcome {
  const a = [...args];
  while (a.length && (WW_GLOBALS.has(a[0]!) || a[0] === "-c" || a[0] === "--warewulfconf" || a[0]!.startsWith("--warewulfconf="))) {
    if (a[0] === "-c" || a[0] === "--warewulfconf") a.shift();
    a.shift();
  }
  if (a.length === 0 || a[0] === "-h" || a[0] === "--help") return { kind: "mapped", rule: "wwctl", argv: ["--help"] };
  const [noun, ...tail] = a as [string, ...string[]];
  // `configure --set=…` is keyed on its flag; other nouns on their verb.
  const verb = noun === "configure" && tail[0]?.startsWith("--set") ? "--set" : (tail[0] ?? "");
  const image = ["container", "image", "vnfs"].includes(noun);
  if (!verb && (image || ["node", "profile", "overlay", "power"].includes(noun)))
    return { kind: "mapped", rule: noun, argv: [image ? "image" : noun, "--help"] };
  const rule = WWCTL_RULES.find((r) => r.noun.includes(noun) && (!r.verb || r.verb.includes(verb)));
  if (!rule) {
    if (image) return { kind: "mapped", rule: "image", argv: ["image", ...tail] };
    return {
      kind: "refused",
      rule: "unknown",
      message: `'wwctl ${noun}' has no drover equivalent; drover's commands: drover --help (docs/wwctl.md lists what wwctl syntax drover takes)`,
    };
  }
  const r = rule.apply(tail, noun, verb);
  return Array.isArray(r) ? { kind: "mapped", rule: rule.ww, argv: r } : r;
}

/** drover's process was started as `wwctl` (a symlink named wwctl): argv0 for the executable, argv[1] for a script. */
export function invokedAsWwctl(argv0: string | undefined, script: string | undefined): boolean {
  const name = (p: string | undefined) => (p ? basename(p).replace(/\.(ts|js)$/, "") : "");
  return name(argv0) === "wwctl" || name(script) === "wwctl";
}

const shellWord = (s: string) => (/^[\w@%+=:,./\[\]-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`);
export const shellLine = (argv: readonly string[]) => argv.map(shellWord).join(" ");

/** Runs a Warewulf command line: the translated drover command, or the explanation. Returns the exit code. */
export async function runWwctl(args: readonly string[], ctx: CliContext): Promise<number> {
  const t = translateWwctl(args);
  if (t.kind === "explained") {
    ctx.io.out(`wwctl ${shellLine(args)}: ${t.message}\n`);
    return 0;
  }
  if (t.kind === "refused") {
    ctx.io.err(`wwctl ${shellLine(args)}: ${t.message}\n`);
    return REFUSED;
  }
  if (shellLine(t.argv) !== shellLine(args)) ctx.io.err(`wwctl: running 'drover ${shellLine(t.argv)}'\n`);
  const { runCli } = await import("./program");
  // Locally the data dir is passed on; for a remote client the head node's open services are.
  if (ctx.remote) return runCli(t.argv, ctx.io, { services: ctx.services() });
  return runCli(["-d", ctx.dataDir, ...t.argv], ctx.io);
}

const wwctl: CommandModule = (parent, ctx) => {
  parent
    .command("wwctl")
    .description("run a Warewulf wwctl command line as drover does it (also: drover symlinked as wwctl); see docs/wwctl.md")
    .argument("[args...]", "the wwctl command line, e.g. container exec rocky -- dnf -y install vim")
    .allowUnknownOption()
    .helpOption(false)
    .passThroughOptions()
    .action(async (args: string[]) => {
      const code = await runWwctl(args, ctx);
      if (code !== 0) throw new ExitWith(code);
    });
};
export default wwctl;
