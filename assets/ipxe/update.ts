/**
 * Keeps assets/ipxe/ holding the iPXE binaries drover embeds, and SOURCES.md saying where they came from.
 *
 *   bun assets/ipxe/update.ts --from DIR --origin TEXT [--set current|debian-2019]
 *       copy the binaries of one set from DIR (an unpacked Debian ipxe package's usr/lib/ipxe, or the bin*
 *       output folders of your own iPXE build: DIR is searched for each file name) and rewrite SOURCES.md
 *   bun assets/ipxe/update.ts --check
 *       verify every file against the sha256 in SOURCES.md (the unit tests do the same)
 *
 * The binaries are committed, so a build needs neither a package nor a network (air-gapped). build.ts only
 * checks that they are there. How the committed sets were obtained is in SOURCES.md.
 */
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { IPXE_SETS, type IpxeSet, type IpxeSetName } from "./sets";

const here = import.meta.dir;

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Finds `name` in DIR or below (the first match, breadth-first); symlinks are followed to their target. */
function find(dir: string, name: string): string | undefined {
  const queue = [dir];
  while (queue.length) {
    const d = queue.shift()!;
    const entries = readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) if (e.name === name && statSync(join(d, e.name)).isFile()) return realpathSync(join(d, e.name));
    for (const e of entries) if (e.isDirectory()) queue.push(join(d, e.name));
  }
  return undefined;
}

/** The rows SOURCES.md lists for a set, from the files present. */
function rows(set: IpxeSet, dir: string): string[] {
  return Object.keys(set.files).map((f) => {
    const p = join(dir, set.dir, f);
    return `| ${set.dir ? `${set.dir}/` : ""}${f} | ${readFileSync(p).length} | ${sha256(p)} |`;
  });
}

/** Where each set came from: kept in SOURCES.md between markers, replaced when the set is updated. */
function origins(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/<!-- origin (\S+) -->\n([\s\S]*?)\n<!-- end -->/g)) out[m[1]!] = m[2]!;
  return out;
}

export function writeSources(origin: Partial<Record<IpxeSetName, string>>, dir = here) {
  const old = existsSync(join(dir, "SOURCES.md")) ? origins(readFileSync(join(dir, "SOURCES.md"), "utf8")) : {};
  const sections = (Object.keys(IPXE_SETS) as IpxeSetName[]).map((name) => {
    const set = IPXE_SETS[name];
    return `## ${name}${name === "current" ? " (the default)" : ` (\`drover serve --ipxe-build ${name}\`)`}

<!-- origin ${name} -->
${origin[name] ?? old[name] ?? "(not recorded)"}
<!-- end -->

| file | bytes | sha256 |
|---|---|---|
${rows(set, dir).join("\n")}
`;
  });
  writeFileSync(
    join(dir, "SOURCES.md"),
    `# Where the embedded iPXE binaries come from

Written by \`bun assets/ipxe/update.ts --from DIR --origin TEXT [--set NAME]\` (the table) and by hand (the
origin text it is given); \`bun assets/ipxe/update.ts --check\` verifies the files against the tables.

${sections.join("\n")}`,
  );
}

/** Copies one set from `from` into assets/ipxe and rewrites SOURCES.md. Throws naming any missing file. */
export function updateFrom(from: string, origin: string, name: IpxeSetName = "current", dir = here): string[] {
  const set: IpxeSet = IPXE_SETS[name];
  const found = Object.entries(set.files).map(([served, packaged]) => [served, find(from, packaged) ?? find(from, served)] as const);
  const missing = found.filter(([, p]) => !p).map(([f]) => f);
  if (missing.length) throw new Error(`${from} has no ${missing.join(", ")} (searched below it for the file names)`);
  mkdirSync(join(dir, set.dir), { recursive: true });
  for (const [served, p] of found) copyFileSync(p!, join(dir, set.dir, served));
  writeSources({ [name]: origin }, dir);
  return found.map(([f]) => f);
}

/** Files whose sha256 differs from SOURCES.md, or that are missing. */
export function checkIpxeAssets(dir = here): string[] {
  const text = existsSync(join(dir, "SOURCES.md")) ? readFileSync(join(dir, "SOURCES.md"), "utf8") : "";
  const want = new Map([...text.matchAll(/^\| (\S+) \| (\d+) \| ([0-9a-f]{64}) \|$/gm)].map((m) => [m[1]!, m[3]!]));
  const bad: string[] = [];
  for (const set of Object.values(IPXE_SETS) as IpxeSet[])
    for (const f of Object.keys(set.files)) {
      const rel = set.dir ? `${set.dir}/${f}` : f;
      const p = join(dir, rel);
      if (!existsSync(p)) bad.push(`${rel}: missing`);
      else if (want.get(rel) !== sha256(p)) bad.push(`${rel}: sha256 is not the one in SOURCES.md`);
    }
  return bad;
}

/** build.ts: every embedded file must be present (they are committed); says how to restore them. */
export function ensureIpxeAssets(dir = here): void {
  const missing = (Object.values(IPXE_SETS) as IpxeSet[]).flatMap((s) => Object.keys(s.files).map((f) => join(s.dir, f))).filter((f) => !existsSync(join(dir, f)));
  if (missing.length) throw new Error(`assets/ipxe is missing ${missing.join(", ")}: restore them from git (git checkout -- assets/ipxe), or see assets/ipxe/SOURCES.md`);
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const opt = (n: string) => {
    const i = args.indexOf(n);
    return i >= 0 ? args[i + 1] : undefined;
  };
  if (args.includes("--check")) {
    const bad = checkIpxeAssets();
    console.log(bad.length ? bad.join("\n") : "assets/ipxe: every file matches SOURCES.md");
    process.exit(bad.length ? 1 : 0);
  }
  const from = opt("--from");
  const origin = opt("--origin");
  const set = (opt("--set") ?? "current") as IpxeSetName;
  if (!from || !origin || !(set in IPXE_SETS)) {
    console.error("usage: bun assets/ipxe/update.ts --from DIR --origin TEXT [--set current|debian-2019] | --check");
    process.exit(2);
  }
  console.log(`assets/ipxe: ${set}: copied ${updateFrom(from, origin, set).join(", ")}; SOURCES.md rewritten`);
}
