import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix, relative } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { resolve } from "../../../src/domain/cascade";
import type { Conf } from "../../../src/domain/conf";
import { parseNodesConf } from "../../../src/domain/nodesconf";
import { nodeView, peerView, serverView } from "../../../src/overlay/data";
import { type WarewulfHost, type WarewulfSettings, defaultSettings, renderWarewulf } from "../../../src/overlay/warewulf";
import { type CommandResult, type GoCase, type RunContext, readGoCases, testenvFiles } from "./go-cases";
import { FIXTURE_NODES, SERVER } from "./world";

/**
 * Warewulf's own built-in overlays, rendered by drover. Nothing of Warewulf is committed here: the test
 * reads a Warewulf source tree given in DROVER_WAREWULF_SRC (a checkout, or a bare git directory), e.g.
 *
 *     git clone --bare https://github.com/warewulf/warewulf /tmp/warewulf.git
 *     DROVER_WAREWULF_SRC=/tmp/warewulf.git bun test test/unit/overlay/warewulf-upstream.test.ts
 *
 * 1. every `overlays/NAME/rootfs/**.ww` must render for each of drover's fixture nodes;
 * 2. every case of every `overlays/NAME/internal/*_test.go` is read from its Go source (go-cases.ts: the
 *    test environment's files, whether imported from `internal/` or written inline, the tables of cases, the
 *    assertions), its `wwctl overlay show` is answered by drover's engine as Warewulf's command prints it, and
 *    the test's own assertions are checked. A case that differs must be listed in JUSTIFIED with the reason
 *    (docs/overlays.md has the same list); any other difference, or a case that cannot be read, fails.
 *    The counts are printed (docs/overlays.md has them).
 */

const SRC = process.env.DROVER_WAREWULF_SRC;

function checkout(src: string): { dir: string; cleanup: () => void; commit: string } {
  if (existsSync(join(src, "overlays"))) {
    let commit = "unknown";
    try {
      commit = execFileSync("git", ["-C", src, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
    } catch {}
    return { dir: src, cleanup: () => {}, commit };
  }
  const dir = mkdtempSync(join(tmpdir(), "drover-ww-"));
  execFileSync("sh", ["-c", `git --git-dir="$1" archive HEAD overlays internal/pkg/testenv | tar -x -C "$2"`, "sh", src, dir]);
  const commit = execFileSync("git", ["--git-dir", src, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }), commit };
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (lstatSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** warewulf.conf texts read one over the other, as Go's YAML decoder does into one struct: maps merge, the rest is replaced. */
function mergedConf(texts: string[]): Record<string, any> | undefined {
  const merge = (a: any, b: any): any => {
    if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
      const out = { ...a };
      for (const [k, v] of Object.entries(b)) out[k] = merge(a[k], v);
      return out;
    }
    return b === null || b === undefined ? a : b;
  };
  let out: Record<string, any> | undefined;
  for (const t of texts) {
    const y = parseYaml(t);
    if (y && typeof y === "object") out = merge(out ?? {}, y);
  }
  return out;
}

/** warewulf.conf → the settings a template sees. */
function settingsOf(conf: Record<string, any> | undefined): WarewulfSettings {
  const base = defaultSettings(serverView(SERVER));
  if (!conf) return base;
  const y = conf;
  const [ip, bits] = String(y.ipaddr ?? base.ipaddr).split("/");
  const mask = y.netmask ?? (bits ? prefixMask(Number(bits)) : base.netmask);
  const w = y.warewulf ?? {};
  const d = y.dhcp ?? {};
  const t = y.tftp ?? {};
  const n = y.nfs ?? {};
  return {
    ...base,
    ipaddr: ip!,
    netmask: mask,
    network: y.network ?? (bits ? networkOf(ip!, mask) : base.network),
    ipaddr6: String(y.ipaddr6 ?? "").split("/")[0]!,
    prefixLen6: String(y.ipaddr6 ?? "").split("/")[1] ?? String(y.prefixlen6 ?? ""),
    warewulf: {
      ...base.warewulf,
      port: w.port ?? 9873,
      secure: w.secure ?? true,
      updateInterval: w["update interval"] ?? 60,
      autobuildOverlays: w["autobuild overlays"] ?? true,
      hostOverlay: w["host overlay"] ?? true,
      grubBoot: w.grubboot ?? false,
      tls: w.tls ?? false,
      tlsPort: w["tls port"] ?? 9874,
    },
    dhcp: {
      ...base.dhcp,
      enabled: d.enabled ?? true,
      rangeStart: d["range start"] ?? "",
      rangeEnd: d["range end"] ?? "",
      range6Start: d["range6 start"] ?? "",
      range6End: d["range6 end"] ?? "",
      template: d.template ?? "default",
      systemdName: d["systemd name"] ?? "dhcpd",
    },
    tftp: {
      ...base.tftp,
      enabled: t.enabled ?? true,
      tftpRoot: t.tftproot ?? base.tftp.tftpRoot,
      systemdName: t["systemd name"] ?? "tftp",
      ...(t.ipxe ? { ipxe: t.ipxe } : {}),
    },
    nfs: {
      ...base.nfs,
      enabled: n.enabled ?? true,
      systemdName: n["systemd name"] ?? "nfsd",
      exports: ((n["export paths"] ?? []) as Record<string, string>[]).map((e) => ({
        path: e.path ?? "/dev/null",
        exportOptions: e["export options"] ?? "rw,sync,no_subtree_check",
      })),
    },
    ...(y.ssh?.["key types"] ? { ssh: { keyTypes: y.ssh["key types"] } } : {}),
  };
}

function networkOf(ip: string, mask: string): string {
  const m = mask.split(".").map(Number);
  return ip
    .split(".")
    .map((o, k) => Number(o) & m[k]!)
    .join(".");
}

function prefixMask(bits: number): string {
  const v = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
}

/**
 * Upstream cases whose difference is drover's on purpose (docs/overlays.md, "Measured against Warewulf",
 * lists the same): `OVERLAY TEST-FILE CASE-NAME` pattern → why. A listed case that matches fails too, so
 * the list stays true.
 */
const JUSTIFIED: [RegExp, string][] = [
  [/^ssh\.host_keys /, "drover gives each node its own SSH host key; Warewulf copies one cluster-wide key from /etc/warewulf/keys"],
  [
    /^ignition ignition_test\.go ignition:ignition\.json$/,
    "IgnitionJson (Warewulf's Ignition storage config built from the node's disks and filesystems) renders empty in drover, which serves Ignition from its `ignition` resource",
  ],
  [/^mig .* \(info\)$/, "`wwctl overlay info` (a template's documented variables) is a Warewulf command drover does not have; no render"],
];

const justification = (c: GoCase) => JUSTIFIED.find(([re]) => re.test(`${c.file.split("/")[0]} ${c.file.split("/").pop()} ${c.name}`))?.[1];

/** Warewulf's overlay show command (internal/app/wwctl/overlay/show), answered by drover's engine. */
function runCommand(dir: string, ctx: RunContext): CommandResult {
  const log: string[] = [];
  // wwlog: a message not ending in a newline gets one.
  const say = (m: string) => log.push(m.endsWith("\n") ? m : `${m}\n`);
  const result = (error?: string): CommandResult => ({ log: log.join(""), stdout: "", stderr: "", ...(error !== undefined ? { error } : {}) });
  if (ctx.command === "info") return result("wwctl overlay info: drover has no such command");
  let node = "";
  let quiet = false;
  const pos: string[] = [];
  for (let i = 0; i < ctx.args.length; i++) {
    const a = ctx.args[i]!;
    if (a === "--render" || a === "-r") node = ctx.args[++i] ?? "";
    else if (a.startsWith("--render=")) node = a.slice(9);
    else if (a === "--quiet" || a === "-q") quiet = true;
    else if (/^--quiet=(true|false)$/.test(a)) quiet = a.endsWith("true");
    else if (a.startsWith("-")) return result(`unknown flag: ${a}`);
    else pos.push(a);
  }
  const [overlay, fileName] = pos;
  if (!overlay || !fileName) return result("overlay show needs OVERLAY FILE");
  const root = `var/lib/warewulf/overlays/${overlay}/rootfs/`;
  let key = root + fileName.replace(/^\/+/, "");
  if (!ctx.files.has(key)) {
    if (!key.endsWith(".ww") && ctx.files.has(`${key}.ww`)) key = `${key}.ww`;
    else return result(`${overlay}: ${key} not found`);
  }
  if (!node) {
    say(ctx.files.get(key)!);
    return result();
  }
  if (!key.endsWith(".ww")) return result(`${fileName} lacks the '.ww' suffix: drover renders only .ww files`);
  let nc: ReturnType<typeof parseNodesConf>;
  try {
    nc = lenientNodesConf(ctx.files.get("etc/warewulf/nodes.conf") ?? "");
  } catch (e) {
    return result((e as Error).message);
  }
  const resolved: Record<string, { conf: Conf; profiles: string[] }> = {};
  for (const [n, c] of Object.entries(nc.nodes)) resolved[n] = resolve(c, (p) => nc.profiles[p]);
  const all = Object.fromEntries(Object.entries(resolved).map(([n, r]) => [n, r.conf]));
  // An unknown node: Warewulf renders for the head node itself (its host name, as cluster name too).
  const me = resolved[node] ?? { conf: { profiles: [], cluster: ctx.hostname } as Conf, profiles: [] };
  const name = resolved[node] ? node : ctx.hostname;
  const settings = settingsOf(mergedConf(ctx.warewulfConf));
  // The test environment's paths, with its root as /.
  settings.paths = {
    ...settings.paths,
    Sysconfdir: "/etc",
    Bindir: "/bin",
    Datadir: "/usr/share",
    Localstatedir: "/var/local",
    Srvdir: "/srv",
    Firewallddir: "/usr/lib/firewalld/services",
    Systemddir: "/usr/lib/systemd/system",
    WWOverlaydir: "/var/lib/warewulf/overlays",
    WWChrootdir: "/var/lib/warewulf/chroots",
    WWProvisiondir: "/srv/warewulf",
    Cachedir: "/var/cache",
    WWFilesdir: "/var/local/warewulf/files",
    WWClientdir: "/warewulf",
  };
  const envFile = (p: string) => ctx.files.get(posix.normalize(p).replace(/^\/+/, ""));
  const host: WarewulfHost = {
    include: envFile,
    includeFrom: (image, p) => envFile(`var/lib/warewulf/chroots/${image}/rootfs/${p}`),
    readlink: () => undefined,
    hostKey: (type, part) => `${type} ${part} key of ${name} (drover)\n`,
    note: () => {},
  };
  const path = key.slice(root.length);
  let out: ReturnType<typeof renderWarewulf>;
  try {
    out = renderWarewulf({
      src: { overlay, path, text: ctx.files.get(key)!, mode: 0o644, uid: 0, gid: 0 },
      node: nodeView(name, me.conf, me.profiles),
      conf: me.conf,
      peers: Object.entries(all).map(([n, c]) => peerView(n, c)),
      settings,
      build: { host: ctx.hostname, time: new Date(0), overlay, source: `/${key}` },
      host,
    });
  } catch (e) {
    return result((e as Error).message);
  }
  if (out.aborted !== undefined) {
    if (!quiet) say(`backupFile: ${out.backupFile}`), say("writeFile: false");
    say(out.aborted);
    if (!quiet) say("Aborted");
    return result();
  }
  out.files.forEach((f, k) => {
    const shown = out.names[k] || fileName.replace(/\.ww$/, "");
    if (!quiet) {
      say(`backupFile: ${out.backupFile}`);
      say("writeFile: true");
      say(`Filename: ${shown}`);
      if (f.type === "symlink") say(`Symlink: ${f.target}`);
    }
    if (f.type === "file") say(f.data);
  });
  return result();
}

/**
 * nodes.conf as Warewulf reads it: a key it does not know is ignored (drover's import refuses it, naming
 * it). The unknown keys are dropped and the file read again.
 */
function lenientNodesConf(text: string): ReturnType<typeof parseNodesConf> {
  try {
    return parseNodesConf(text);
  } catch (e) {
    const problems = ((e as { details?: string[] }).details ?? []).map(
      (p) => /^nodes\.conf: (.*): unknown field '(.*)'$/.exec(p) ?? /^(.*): unknown field '(.*)'$/.exec(p),
    );
    if (problems.length === 0 || problems.some((m) => !m)) throw e;
    const doc = parseYaml(text) as Record<string, any>;
    for (const m of problems) {
      const path = m![1]!.split(".");
      let o: any = doc;
      for (const k of path) o = o?.[k];
      if (o && typeof o === "object") delete o[m![2]!];
    }
    return parseNodesConf(stringifyYaml(doc));
  }
}

function firstDifference(want: string, got: string): string {
  const a = got.split("\n");
  const b = want.split("\n");
  const i = a.findIndex((l, k) => l !== b[k]);
  const k = i < 0 ? a.length : i;
  return `line ${k + 1}: drover ${JSON.stringify(a[k])}, upstream ${JSON.stringify(b[k])}`;
}

describe.skipIf(!SRC)("Warewulf's built-in overlays (DROVER_WAREWULF_SRC)", () => {
  test("every .ww template renders; every upstream case matches or is justified", () => {
    const co = checkout(SRC!);
    try {
      const ov = join(co.dir, "overlays");
      const templates = walk(ov).filter((p) => /\/rootfs\/.*\.ww$/.test(p));
      const failed: string[] = [];
      for (const t of templates) {
        const overlay = relative(ov, t).split("/")[0]!;
        for (const [name, conf] of Object.entries(FIXTURE_NODES)) {
          try {
            renderFixture(co.dir, t, name, conf, overlay);
          } catch (e) {
            failed.push(`${relative(ov, t)} (${name}): ${(e as Error).message}`);
            break;
          }
        }
      }
      // Upstream cases.
      const init = testenvFiles(readFileSync(join(co.dir, "internal/pkg/testenv/testenv.go"), "utf8"));
      let found = 0;
      const cases: GoCase[] = [];
      const problems: string[] = [];
      for (const g of walk(ov)
        .filter((p) => /\/internal\/[^/]+_test\.go$/.test(p))
        .sort()) {
        const r = readGoCases(g, relative(ov, g), init, (ctx) => runCommand(co.dir, ctx));
        found += r.found;
        cases.push(...r.cases);
        problems.push(...r.problems);
      }
      const read = cases.filter((c) => !c.unreadable);
      const unread = cases.filter((c) => c.unreadable).map((c) => `${c.file} ${c.name}: ${c.unreadable}`);
      const matched: GoCase[] = [];
      const justified: string[] = [];
      const failing: string[] = [];
      for (const c of read) {
        const bad = c.checks.filter((k) => !k.ok);
        const why = justification(c);
        const label = `${c.file} ${JSON.stringify(c.name)}${c.skippedUpstream ? " (skipped upstream)" : ""}`;
        if (bad.length === 0) {
          matched.push(c);
          if (why) failing.push(`${label}: matches, but is listed as justified (${why}); drop it from JUSTIFIED`);
          continue;
        }
        const detail = bad
          .map((k) => (k.want !== undefined && k.got !== undefined ? `${k.what}: ${firstDifference(k.want, k.got)}` : `${k.what}: ${k.got ?? "failed"}`))
          .join("; ");
        // DROVER_WAREWULF_CASE=TEXT prints the whole output of the cases whose name holds TEXT.
        if (process.env.DROVER_WAREWULF_CASE && c.name.includes(process.env.DROVER_WAREWULF_CASE))
          for (const k of bad) console.log(`--- ${c.name}: ${k.what}\n--- upstream:\n${k.want}\n--- drover:\n${k.got}`);
        if (why) justified.push(`${label}: ${why}`);
        else failing.push(`${label} [${(c.args ?? []).join(" ")}]: ${detail}`);
      }
      const summary = `Warewulf ${co.commit.slice(0, 12)}: ${templates.length - failed.length} of ${templates.length} templates render; upstream cases: ${found} found, ${read.length} read, ${matched.length} match, ${justified.length} justified, ${failing.length + unread.length + Math.max(0, found - cases.length)} failing`;
      const list = (xs: string[]) => xs.join("\n    ") || "none";
      console.log(
        `${summary}\n  not rendering:\n    ${list(failed)}\n  justified:\n    ${list(justified)}\n  failing:\n    ${list(failing)}\n  not read:\n    ${list([...unread, ...problems])}`,
      );
      expect(failed).toEqual([]);
      expect(problems).toEqual([]);
      expect(unread).toEqual([]);
      expect(cases.length).toBe(found);
      expect(failing).toEqual([]);
    } finally {
      co.cleanup();
    }
  }, 120_000);
});

/** A template rendered for one of drover's fixture nodes (the "every template renders" half). */
function renderFixture(dir: string, file: string, name: string, conf: Conf, overlay: string) {
  const path = relative(join(dir, "overlays", overlay, "rootfs"), file);
  const host: WarewulfHost = {
    include: () => undefined,
    includeFrom: () => undefined,
    readlink: (p) => (p === "/etc/localtime" ? "/usr/share/zoneinfo/UTC" : undefined),
    hostKey: (type, part) => `${type} ${part} key\n`,
    note: () => {},
  };
  return renderWarewulf({
    src: { overlay, path, text: readFileSync(file, "utf8"), mode: 0o644, uid: 0, gid: 0 },
    node: nodeView(name, conf, []),
    conf,
    peers: Object.entries(FIXTURE_NODES).map(([n, c]) => peerView(n, c)),
    settings: settingsOf(undefined),
    build: { host: "head", time: new Date(0), overlay, source: path },
    host,
  });
}

test.skipIf(!!SRC)(
  "Warewulf's built-in overlays: skipped, DROVER_WAREWULF_SRC is not set (a Warewulf checkout or bare git dir, e.g. DROVER_WAREWULF_SRC=/tmp/warewulf.git bun test test/unit/overlay/warewulf-upstream.test.ts; see this file)",
  () => {},
);
