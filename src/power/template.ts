import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SECRET_MASK } from "../domain/conf";
import { POWER_TEMPLATE_NAME } from "../domain/names";
import { type BmcTarget, PowerError } from "./types";

/**
 * ipmitool command templates, as in Warewulf an admin can change how drover calls ipmitool without
 * touching drover: put a file in `<data dir>/power/` and name it in a node's or profile's `ipmi.template`.
 *
 * A template is lines of `key: words`. `base` is the program and its connection options; every other key
 * is what follows `base` for one operation (on, off, cycle, reset, soft, status, pxe, console, sensors).
 * A file may define only some keys; the rest come from the built-in default.
 *
 * In words, `{{name}}` is replaced by a node's value: node, ipaddr, port, username, interface,
 * escapechar, and `tag.KEY` for the node's `ipmi.tags`. Each word becomes one argument (no shell, so a
 * value with spaces stays one argument). `[ … ]` around words drops them when a variable inside is empty,
 * e.g. `[-p {{port}}]`. An unknown variable is an error, not an empty string.
 *
 * The password is deliberately not a variable: on a command line it would be visible to every user
 * through `ps`. drover sets IPMI_PASSWORD in ipmitool's environment and templates pass `-E`.
 */
export const TEMPLATE_KEYS = ["base", "on", "off", "cycle", "reset", "soft", "status", "pxe", "console", "sensors"] as const;
export type TemplateKey = (typeof TEMPLATE_KEYS)[number];
export type IpmiTemplate = Record<TemplateKey, string>;

export const DEFAULT_TEMPLATE_NAME = "ipmitool";

export const DEFAULT_IPMITOOL_TEMPLATE = `# drover's default ipmitool template. Copy it to <data dir>/power/NAME.tmpl, change it, and
# select it with: drover node set PATTERN --ipmitemplate NAME   (or on a profile).
# The password reaches ipmitool through IPMI_PASSWORD (-E), never on the command line.
base:    ipmitool -I {{interface}} -H {{ipaddr}} [-p {{port}}] [-U {{username}}] -E
on:      chassis power on
off:     chassis power off
cycle:   chassis power cycle
reset:   chassis power reset
soft:    chassis power soft
status:  chassis power status
pxe:     chassis bootdev pxe
console: [-e {{escapechar}}] sol activate
sensors: sensor list
`;

/** Templates built into drover, by name. */
export const BUILTIN_TEMPLATES: Record<string, string> = {
  [DEFAULT_TEMPLATE_NAME]: DEFAULT_IPMITOOL_TEMPLATE,
};

export function parseTemplate(text: string, origin: string): Partial<IpmiTemplate> {
  const out: Partial<IpmiTemplate> = {};
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^([a-z]+)\s*:\s*(.*)$/.exec(line);
    if (!m || !(TEMPLATE_KEYS as readonly string[]).includes(m[1]!)) {
      throw new PowerError("config", `${origin} line ${i + 1}: expected 'KEY: words' with KEY one of ${TEMPLATE_KEYS.join(", ")}`);
    }
    out[m[1] as TemplateKey] = m[2]!;
  });
  return out;
}

/**
 * Finds template NAME: `<dir>/NAME.tmpl`, then `<dir>/NAME`, then the built-in one. A file named like a
 * built-in (power/ipmitool.tmpl) replaces it for every node, which is how an admin changes the default.
 */
export function loadTemplate(name: string | undefined, dir: string | undefined): IpmiTemplate {
  const n = name && name !== "" ? name : DEFAULT_TEMPLATE_NAME;
  if (!POWER_TEMPLATE_NAME.test(n) || n.includes("..")) {
    throw new PowerError("config", `ipmi template name '${n}' is not a plain file name; use a name of a file in the data dir's power/ folder`);
  }
  const base = parseTemplate(DEFAULT_IPMITOOL_TEMPLATE, "built-in template");
  const candidates = dir ? [join(dir, `${n}.tmpl`), join(dir, n)] : [];
  for (const path of candidates) {
    if (existsSync(path)) return { ...base, ...parseTemplate(readFileSync(path, "utf8"), path) } as IpmiTemplate;
  }
  const builtin = BUILTIN_TEMPLATES[n];
  if (builtin) return { ...base, ...parseTemplate(builtin, `built-in template ${n}`) } as IpmiTemplate;
  throw new PowerError(
    "config",
    `ipmi template '${n}' not found: looked for ${candidates.join(", ") || "(no template folder)"} and the built-in templates ` +
      `(${Object.keys(BUILTIN_TEMPLATES).join(", ")}); create the file or fix --ipmitemplate`,
  );
}

/** The variables a template may use, from a target. Missing values are "" (and drop their `[ … ]` group). */
export function templateVars(t: BmcTarget): Record<string, string> {
  const v: Record<string, string> = {
    node: t.node,
    ipaddr: t.address,
    port: t.port !== undefined ? String(t.port) : "",
    username: t.username ?? "",
    interface: t.interface || "lanplus",
    escapechar: t.escapechar || "~",
  };
  for (const [k, x] of Object.entries(t.tags)) v[`tag.${k}`] = x;
  return v;
}

/** Splits a template line into words and `[ … ]` groups. Brackets must stand as their own words' edges. */
function tokenize(line: string, origin: string): { words: string[]; optional: boolean }[] {
  const out: { words: string[]; optional: boolean }[] = [];
  let group: string[] | undefined;
  for (let w of line.split(/\s+/).filter(Boolean)) {
    let closes = false;
    if (w.startsWith("[") && !w.startsWith("[[")) {
      if (group) throw new PowerError("config", `${origin}: nested '[' in '${line}'`);
      group = [];
      w = w.slice(1);
    }
    if (w.endsWith("]") && group) {
      closes = true;
      w = w.slice(0, -1);
    }
    if (group) {
      if (w !== "") group.push(w);
      if (closes) {
        out.push({ words: group, optional: true });
        group = undefined;
      }
    } else out.push({ words: [w], optional: false });
  }
  if (group) throw new PowerError("config", `${origin}: '[' without ']' in '${line}'`);
  return out;
}

/** Renders one template line into argv words. */
export function renderLine(line: string, vars: Record<string, string>, origin: string): string[] {
  const argv: string[] = [];
  for (const tok of tokenize(line, origin)) {
    let empty = false;
    const words = tok.words.map((w) =>
      w.replace(/\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g, (_, name: string) => {
        if (name === "password") {
          throw new PowerError(
            "config",
            `${origin}: {{password}} is not allowed: a password on a command line is visible to every user in 'ps'; pass -E and drover gives ipmitool ` +
              `the password in IPMI_PASSWORD`,
          );
        }
        if (!(name in vars)) {
          if (name.startsWith("tag.")) {
            empty = true;
            return "";
          }
          throw new PowerError(
            "config",
            `${origin}: unknown variable {{${name}}}; known: ${Object.keys(vars)
              .filter((k) => !k.startsWith("tag."))
              .join(", ")}, tag.KEY`,
          );
        }
        if (vars[name] === "") empty = true;
        return vars[name]!;
      }),
    );
    if (tok.optional && empty) continue;
    if (!tok.optional && empty && words.every((w) => w === "")) {
      throw new PowerError("config", `${origin}: '${tok.words.join(" ")}' has no value for this node; set the field or wrap it in [ ] to make it optional`);
    }
    argv.push(...words);
  }
  return argv;
}

/** The argv for one template key: base + the key's words. */
export function renderCommand(tpl: IpmiTemplate, key: TemplateKey, target: BmcTarget, templateName: string): string[] {
  const vars = templateVars(target);
  const origin = `ipmi template '${templateName}'`;
  const argv = [...renderLine(tpl.base, vars, `${origin} (base)`), ...renderLine(tpl[key], vars, `${origin} (${key})`)];
  if (argv.length === 0) throw new PowerError("config", `${origin}: empty command for ${key}`);
  return argv;
}

/** An argv as one printable line, quoting words with spaces, and the password masked wherever it appears. */
export function displayArgv(argv: readonly string[], env: Record<string, string>, password?: string): string {
  const q = (w: string) => (/^[A-Za-z0-9_@%+=:,./~-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);
  const envPart = Object.keys(env).map((k) => `${k}=${SECRET_MASK}`);
  return maskSecret([...envPart, ...argv.map(q)].join(" "), password);
}

/** Replaces every occurrence of the secret in a text with the mask. Used on every message leaving power/. */
export function maskSecret(text: string, secret?: string): string {
  if (!secret) return text;
  return text.split(secret).join(SECRET_MASK);
}
