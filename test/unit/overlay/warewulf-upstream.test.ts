import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parse as parseYaml } from "yaml";
import { resolve } from "../../../src/domain/cascade";
import type { Conf } from "../../../src/domain/conf";
import { parseNodesConf } from "../../../src/domain/nodesconf";
import { nodeView, peerView, serverView } from "../../../src/overlay/data";
import { type WarewulfHost, type WarewulfSettings, defaultSettings, renderWarewulf } from "../../../src/overlay/warewulf";
import { FIXTURE_NODES, SERVER } from "./world";

/**
 * Warewulf's own built-in overlays, rendered by drover. Nothing of Warewulf is committed here: the test
 * reads a Warewulf source tree given in DROVER_WAREWULF_SRC (a checkout, or a bare git directory), e.g.
 *
 *     git clone --bare https://github.com/warewulf/warewulf /tmp/warewulf.git
 *     DROVER_WAREWULF_SRC=/tmp/warewulf.git bun test test/unit/overlay/warewulf-upstream.test.ts
 *
 * 1. every `overlays/NAME/rootfs/**.ww` must render for each of drover's fixture nodes;
 * 2. each case of `overlays/NAME/internal/*_test.go` that can be read mechanically (`args: []string{"--render",
 *    NODE, OVERLAY, FILE}` with `log: CONST`, the inputs in `internal/nodes.conf` and `internal/warewulf.conf`)
 *    is rendered and compared with its expected output. The counts are printed (docs/overlays.md has them).
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
  execFileSync("sh", ["-c", `git --git-dir="$1" archive HEAD overlays | tar -x -C "$2"`, "sh", src, dir]);
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

/** warewulf.conf → the settings a template sees. */
function settingsOf(text: string | undefined): WarewulfSettings {
  const base = defaultSettings(serverView(SERVER));
  if (!text) return base;
  const y = (parseYaml(text) ?? {}) as Record<string, any>;
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
    network: y.network ?? base.network,
    ipaddr6: String(y.ipaddr6 ?? "").split("/")[0]!,
    prefixLen6: String(y.ipaddr6 ?? "").split("/")[1] ?? String(y.prefixlen6 ?? ""),
    warewulf: { ...base.warewulf, port: w.port ?? 9873, secure: w.secure ?? true, updateInterval: w["update interval"] ?? 60, autobuildOverlays: w["autobuild overlays"] ?? true, hostOverlay: w["host overlay"] ?? true, grubBoot: w.grubboot ?? false, tls: w.tls ?? false, tlsPort: w["tls port"] ?? 9874 },
    dhcp: { ...base.dhcp, enabled: d.enabled ?? true, rangeStart: d["range start"] ?? "", rangeEnd: d["range end"] ?? "", range6Start: d["range6 start"] ?? "", range6End: d["range6 end"] ?? "", template: d.template ?? "default", systemdName: d["systemd name"] ?? "dhcpd" },
    tftp: { ...base.tftp, enabled: t.enabled ?? true, tftpRoot: t.tftproot ?? base.tftp.tftpRoot, systemdName: t["systemd name"] ?? "tftp", ...(t.ipxe ? { ipxe: t.ipxe } : {}) },
    nfs: { ...base.nfs, enabled: n.enabled ?? true, systemdName: n["systemd name"] ?? "nfsd", exports: ((n["export paths"] ?? []) as Record<string, string>[]).map((e) => ({ path: e.path ?? "/dev/null", exportOptions: e["export options"] ?? "rw,sync,no_subtree_check" })) },
    ...(y.ssh?.["key types"] ? { ssh: { keyTypes: y.ssh["key types"] } } : {}),
  };
}

function prefixMask(bits: number): string {
  const v = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
}

const notes: string[] = [];
/** Head-node files of the current case (Include). */
let headFiles: Record<string, string> = {};
let buildHost = "head";
const host: WarewulfHost = {
  include: (p) => headFiles[p],
  includeFrom: () => undefined,
  readlink: (p) => (p === "/etc/localtime" ? "/usr/share/zoneinfo/UTC" : undefined),
  hostKey: (type, part) => `${type} ${part} key\n`,
  note: (m) => notes.push(m),
};

function render(dir: string, file: string, name: string, conf: Conf, all: Record<string, Conf>, profiles: string[], settings: WarewulfSettings, overlay: string) {
  const path = relative(join(dir, "overlays", overlay, "rootfs"), file);
  const peers = Object.entries(all).map(([n, c]) => peerView(n, c));
  return renderWarewulf({
    src: { overlay, path, text: readFileSync(file, "utf8"), mode: 0o644, uid: 0, gid: 0 },
    node: nodeView(name, conf, profiles),
    conf,
    peers,
    settings,
    build: { host: buildHost, time: new Date(0), overlay, source: path },
    host,
  });
}

describe.skipIf(!SRC)("Warewulf's built-in overlays (DROVER_WAREWULF_SRC)", () => {
  test("every .ww template renders; the upstream cases that can be read are compared", () => {
    const co = checkout(SRC!);
    try {
      const ov = join(co.dir, "overlays");
      const templates = walk(ov).filter((p) => /\/rootfs\/.*\.ww$/.test(p));
      const failed: string[] = [];
      for (const t of templates) {
        const overlay = relative(ov, t).split("/")[0]!;
        for (const [name, conf] of Object.entries(FIXTURE_NODES)) {
          try {
            render(co.dir, t, name, conf, FIXTURE_NODES, [], settingsOf(undefined), overlay);
          } catch (e) {
            failed.push(`${relative(ov, t)} (${name}): ${(e as Error).message}`);
            break;
          }
        }
      }
      // Upstream cases.
      let cases = 0;
      let matched = 0;
      const differ: string[] = [];
      for (const g of walk(ov).filter((p) => /\/internal\/[^/]+_test\.go$/.test(p))) {
        const idir = join(g, "..");
        const overlay = relative(ov, g).split("/")[0]!;
        const go = readFileSync(g, "utf8");
        if (!existsSync(join(idir, "nodes.conf")) || !/ImportFile\("etc\/warewulf\/nodes\.conf", "nodes\.conf"\)/.test(go)) continue;
        const consts = new Map([...go.matchAll(/const (\w+) string = `([^`]*)`/g)].map((m) => [m[1]!, m[2]!]));
        const nc = parseNodesConf(readFileSync(join(idir, "nodes.conf"), "utf8"));
        const wwconf = existsSync(join(idir, "warewulf.conf")) && /ImportFile\("etc\/warewulf\/warewulf\.conf", "warewulf\.conf"\)/.test(go) ? readFileSync(join(idir, "warewulf.conf"), "utf8") : undefined;
        const settings = settingsOf(wwconf);
        headFiles = wwconf ? { "/etc/warewulf/warewulf.conf": wwconf } : {};
        // Warewulf's test environment shows the build host as %HOSTNAME%.
        buildHost = "%HOSTNAME%";
        const resolved: Record<string, { conf: Conf; profiles: string[] }> = {};
        for (const [n, c] of Object.entries(nc.nodes)) resolved[n] = resolve(c, (p) => nc.profiles[p]);
        const all = Object.fromEntries(Object.entries(resolved).map(([n, r]) => [n, r.conf]));
        for (const m of go.matchAll(/args:\s*\[\]string\{"--render",\s*"([^"]+)",\s*"([^"]+)",\s*"([^"]+)"\},\s*\n\s*log:\s*(\w+),/g)) {
          const [, node, ovName, file, logName] = m;
          const want = consts.get(logName!);
          const r = resolved[node!];
          if (want === undefined || !r || ovName !== overlay) continue;
          cases++;
          let got: string;
          try {
            const out = render(co.dir, join(ov, overlay, "rootfs", file!), node!, r.conf, all, r.profiles, settings, overlay);
            // As `wwctl overlay show --render` prints it: a named file by the name given to file(), a symlink
            // as `Symlink: TARGET`, output ended by a newline (wwlog adds one).
            const dir = file!.includes("/") ? file!.slice(0, file!.lastIndexOf("/") + 1) : "";
            const shown = (p: string) => (out.files.length > 1 && p.startsWith(dir) ? p.slice(dir.length) : p);
            const nl = (x: string) => (x.endsWith("\n") ? x : `${x}\n`);
            got = out.files.length === 0 ? "backupFile: true\nwriteFile: false\n" : out.files.map((f) => `backupFile: true\nwriteFile: true\nFilename: ${shown(f.path)}\n${f.type === "file" ? nl(f.data) : `Symlink: ${f.target}\n`}`).join("");
          } catch (e) {
            got = `ERROR ${(e as Error).message}`;
          }
          if (got === want) matched++;
          else {
            const a = got.split("\n");
            const b = want.split("\n");
            const i = a.findIndex((l, k) => l !== b[k]);
            const k = i < 0 ? a.length : i;
            differ.push(`${overlay} ${file} --render ${node}: line ${k + 1}: got ${JSON.stringify(a[k])}, upstream ${JSON.stringify(b[k])}`);
          }
        }
      }
      const report = `Warewulf ${co.commit.slice(0, 12)}: ${templates.length - failed.length} of ${templates.length} templates render; ${matched} of ${cases} upstream cases match`;
      console.log(`${report}\n  not rendering:\n    ${failed.join("\n    ") || "none"}\n  differing cases:\n    ${differ.join("\n    ") || "none"}`);
      expect(failed).toEqual([]);
    } finally {
      co.cleanup();
    }
  }, 120_000);
});

test.skipIf(!!SRC)("Warewulf's built-in overlays: skipped, DROVER_WAREWULF_SRC is not set (a Warewulf checkout or bare git dir; see this file)", () => {});
