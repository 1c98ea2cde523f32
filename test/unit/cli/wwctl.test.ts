import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../../src/cli/program";
import { invokedAsWwctl, shellLine, translateWwctl, type WwctlOutcome } from "../../../src/cli/wwctl";

/**
 * Issue 16 item 4: every `wwctl` command line of the seed documents runs through drover's wwctl entry, in
 * document order, against a scratch data dir; each line's outcome (mapped → drover command, explained,
 * refused) must be the one docs/wwctl.md lists, and none may crash or be an unknown command.
 */
const repo = join(import.meta.dir, "../../..");
const seedsDir = [join(repo, "../shared/seeds"), "/work/shared/seeds"].find((d) => existsSync(d));
const docRows = parseDocTable(readFileSync(join(repo, "docs/wwctl.md"), "utf8"));

/** Splits a shell command line into words (quotes, backslash escapes and continuations). */
function shellSplit(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let has = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "'") {
      const j = s.indexOf("'", i + 1);
      cur += s.slice(i + 1, j);
      i = j;
      has = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; s[j] !== '"'; j++) cur += s[j] === "\\" && /["\\$`]/.test(s[j + 1]!) ? s[++j] : s[j];
      i = j;
      has = true;
    } else if (c === "\\") {
      if (s[i + 1] !== "\n") cur += s[i + 1];
      i++;
      has ||= s[i] !== "\n";
    } else if (/\s/.test(c)) {
      if (has) out.push(cur);
      cur = "";
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

const unbalanced = (s: string) => (s.replace(/\\'/g, "").match(/'/g)?.length ?? 0) % 2 === 1;

interface SeedLine {
  doc: string;
  line: number;
  /** The first line as written in the document (the key of docs/wwctl.md's table). */
  text: string;
  args: string[];
}

/**
 * The `wwctl` command lines of a document: code lines starting `wwctl` (or `$ wwctl`), with their
 * continuation lines, and inline code spans `` `wwctl …` ``. Prose that only names a command (the talk is a
 * transcript) is taken from SPOKEN below.
 */
function extract(doc: string, body: string): SeedLine[] {
  const lines = body.split("\n");
  const out: SeedLine[] = [];
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i]!.trim().replace(/^\$\s+/, "");
    if (/^wwctl(\s|$)/.test(t)) {
      let cmd = t;
      const first = i;
      while ((cmd.endsWith("\\") || unbalanced(cmd)) && i + 1 < lines.length) cmd += `\n${lines[++i]}`;
      out.push({ doc, line: first + 1, text: t, args: shellSplit(cmd).slice(1) });
      continue;
    }
    for (const m of lines[i]!.matchAll(/`(wwctl [^`]+)`/g)) out.push({ doc, line: i + 1, text: m[1]!, args: shellSplit(m[1]!).slice(1) });
  }
  return out;
}

/** Commands the talk and the lab write-up name in prose: the phrase as it stands in the document, and the command it speaks of. */
const SPOKEN: Record<string, { phrase: string; cmd: string }[]> = {
  "talk-warewulf-author-2022.txt": [
    { phrase: "You can do wwctl node list -a.", cmd: "wwctl node list -a" },
    { phrase: "we're going to run a wwctl, configure all", cmd: "wwctl configure --all" },
    { phrase: "I just did wwctl container import.", cmd: "wwctl container import docker://docker.io/rockylinux/rockylinux:8 rocky-8" },
    { phrase: "Wwctl profile set.", cmd: "wwctl profile set -y default --container rocky-8" },
    { phrase: "you can do wwctl node add", cmd: "wwctl node add n0000 --netdev eth0 --ipaddr 10.0.2.1 --netmask 255.255.252.0 --discoverable" },
    { phrase: "If I just type in wwctl", cmd: "wwctl" },
    { phrase: "If I do a wwctl overlay you will see all of the sub commands", cmd: "wwctl overlay" },
    { phrase: "Lets to a list to see what exists", cmd: "wwctl overlay list" },
    { phrase: "Wwctl container and we're going to do a list", cmd: "wwctl container list" },
    { phrase: "Do container shell rocky-8", cmd: "wwctl container shell rocky-8" },
    { phrase: "wwctl node list-a", cmd: "wwctl node list -a" },
    { phrase: "overlay list generic - long", cmd: "wwctl overlay list generic -a -l" },
  ],
  "lab-writeup-el10-diskless.txt": [
    { phrase: "wwctl container build, then wwctl overlay build", cmd: "wwctl container build rockylinux-10" },
    { phrase: "wwctl container build, then wwctl overlay build", cmd: "wwctl overlay build" },
  ],
};

/** docs/wwctl.md's "The seeds, line by line" table: `wwctl …` | outcome | drover command or reason. */
function parseDocTable(md: string): Map<string, { kind: string; drover: string }> {
  const rows = new Map<string, { kind: string; drover: string }>();
  const section = md.split(/^## /m).find((s) => s.startsWith("The seeds, line by line")) ?? "";
  for (const l of section.split("\n")) {
    const m = /^\| `(wwctl[^`]*)` \| (mapped|explained|refused) \| (.*) \|$/.exec(l);
    if (m) rows.set(m[1]!, { kind: m[2]!, drover: m[3]!.replace(/^`|`$/g, "") });
  }
  return rows;
}

/** Lines whose effect needs a real registry, network, BMC, terminal or namespaces: the mapping is checked, not run. */
const notRun = (o: WwctlOutcome) => o.kind === "mapped" && /^(image (exec|shell)|power)/.test(o.argv.join(" "));
/** A stand-in for a registry: a small directory tree imported in place of docker://… */
function standIn(dir: string): string {
  const root = join(dir, "rootfs");
  if (!existsSync(root)) {
    mkdirSync(join(root, "etc"), { recursive: true });
    mkdirSync(join(root, "bin"));
    writeFileSync(join(root, "etc/os-release"), 'ID="rocky"\n');
    writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    writeFileSync(join(root, "bin/sh"), "");
  }
  return root;
}

const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

test("drover started as wwctl (a symlink) takes a Warewulf command line", () => {
  expect(invokedAsWwctl("/usr/local/bin/wwctl", "/$bunfs/root/drover")).toBe(true);
  expect(invokedAsWwctl("drover", "/work/main/src/main.ts")).toBe(false);
  expect(invokedAsWwctl("bun", "/tmp/wwctl.ts")).toBe(true);
});

test("translations the seeds do not cover", () => {
  const t = (l: string) => translateWwctl(shellSplit(l));
  expect(t("-d container exec --build=false -b /a:/b img /bin/ls -l")).toMatchObject({
    kind: "mapped",
    argv: ["image", "exec", "--no-build", "--bind", "/a:/b", "img", "--", "/bin/ls", "-l"],
  });
  expect(t("power reboot n1")).toMatchObject({ kind: "mapped", argv: ["power", "cycle", "n1"] });
  expect(t("profile set default -C rocky -K 6.1")).toMatchObject({
    kind: "mapped",
    argv: ["profile", "set", "default", "--image", "rocky", "--kernelversion", "6.1"],
  });
  expect(t("configure dhcp").kind).toBe("explained");
  expect(t("configure nfs")).toMatchObject({ kind: "mapped", argv: ["configure", "nfs"] });
  expect(t("configure hostfile")).toMatchObject({ kind: "mapped", argv: ["configure", "hosts"] });
  expect(t("configure ssh")).toMatchObject({ kind: "mapped", argv: ["configure", "ssh"] });
  expect(t("configure -a")).toMatchObject({ kind: "mapped", argv: ["configure", "--all"] });
  expect(t("configure tls").kind).toBe("refused");
  expect(t("upgrade nodes").kind).toBe("refused");
  expect(t("container exec -n n1 img ls").kind).toBe("refused");
});

describe.skipIf(!seedsDir)(`the seeds run verbatim${seedsDir ? "" : " (skipped: no ../shared/seeds beside the repo and no /work/shared/seeds)"}`, () => {
  const docs = seedsDir
    ? readdirSync(seedsDir)
        .filter((f) => f !== "README.md")
        .sort()
    : [];
  const report: string[] = [];
  afterAll(() => {
    if (report.length) console.log(report.join("\n"));
  });

  test("there are five documents", () => expect(docs.length).toBe(5));

  for (const doc of docs) {
    test(`${doc}: every wwctl line maps, explains or refuses as docs/wwctl.md says`, async () => {
      const body = readFileSync(join(seedsDir!, doc), "utf8");
      const lines = extract(doc, body);
      for (const s of SPOKEN[doc] ?? []) {
        expect({ doc, phrase: s.phrase, inDocument: body.includes(s.phrase) }).toEqual({ doc, phrase: s.phrase, inDocument: true });
        lines.push({ doc, line: body.slice(0, body.indexOf(s.phrase)).split("\n").length, text: s.cmd, args: shellSplit(s.cmd).slice(1) });
      }
      lines.sort((a, b) => a.line - b.line);
      const dir = mkdtempSync(join(tmpdir(), "drover-wwctl-"));
      scratch.push(dir);
      const counts = { mapped: 0, explained: 0, refused: 0 };
      for (const s of lines) {
        const o = translateWwctl(s.args);
        counts[o.kind]++;
        const row = docRows.get(s.text);
        const got = o.kind === "mapped" ? shellLine(o.argv) : o.message;
        // The documented outcome: the same kind; the same drover command (a row ending in … is a prefix).
        expect({ line: s.text, documented: row ? row.kind : "(no row in docs/wwctl.md)" }).toEqual({ line: s.text, documented: o.kind });
        if (o.kind === "mapped") {
          const want = `drover ${got}`;
          const ok = row!.drover.endsWith("…") ? want.startsWith(row!.drover.slice(0, -1)) : want === row!.drover;
          expect({ line: s.text, drover: ok ? row!.drover : want }).toEqual({ line: s.text, drover: row!.drover });
        }
        if (o.kind !== "mapped") expect(o.message).not.toMatch(/no drover equivalent/); // "unknown command"
        let outcome: string;
        if (o.kind !== "mapped") outcome = `${o.kind}: ${o.message}`;
        else if (notRun(o)) outcome = `mapped → drover ${got.slice(0, 80)} (not run: needs a terminal, namespaces or a BMC)`;
        else {
          // A registry reference is imported from a local directory tree instead.
          const args = s.args.map((a) => (a.startsWith("docker://") ? standIn(dir) : a));
          let out = "";
          let err = "";
          const io = {
            out: (x: string) => void (out += x),
            err: (x: string) => void (err += x),
            isTTY: false,
            env: { EDITOR: "true", HOME: dir, DROVER_ROOT: join(dir, "root"), PATH: process.env.PATH ?? "" },
            prompt: async () => "y",
          };
          const code = await runCli(["-d", join(dir, "data"), "wwctl", ...args], io);
          expect({ line: s.text, internalError: /internal error/.test(err), unknown: /unknown command|error: unknown/.test(err) }).toEqual({
            line: s.text,
            internalError: false,
            unknown: false,
          });
          expect({ line: s.text, code: code === 1 ? "internal error" : "ok" }).toEqual({ line: s.text, code: "ok" });
          const said = err.split("\n").filter((l) => l && !l.startsWith("wwctl: running") && !l.startsWith("warning:"))[0] ?? "";
          outcome = `mapped → drover ${got.slice(0, 80)}: exit ${code}${code ? ` (${said.slice(0, 110)})` : ""}`;
          void out;
        }
        report.push(`${doc}:${s.line}  wwctl ${s.args.join(" ").slice(0, 70).replaceAll("\n", " ")}\n    ${outcome}`);
      }
      report.push(`${doc}: ${lines.length} lines — ${counts.mapped} mapped, ${counts.explained} explained, ${counts.refused} refused`);
    });
  }
});
