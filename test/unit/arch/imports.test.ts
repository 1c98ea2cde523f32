import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The dependency rules of docs/architecture.md, checked on the import specifiers of every source file.
 * A rule names a module folder and what it must not import (other folders under src/, or packages).
 */
const src = join(import.meta.dir, "../../../src");
const RULES: { from: string; forbid: string[]; why: string }[] = [
  { from: "domain", forbid: ["*src", "drizzle-orm", "bun:sqlite", "hono"], why: "the domain imports nothing from drover outside itself" },
  { from: "protocols", forbid: ["store", "services", "http", "cli", "drizzle-orm", "bun:sqlite"], why: "protocols see only boot ports and domain types" },
  {
    from: "services",
    forbid: ["store", "http", "cli", "protocols", "drizzle-orm", "bun:sqlite"],
    why: "services depend on ports, not on storage or transports",
  },
  { from: "http", forbid: ["store", "cli", "drizzle-orm", "bun:sqlite"], why: "HTTP calls services, never the database" },
  { from: "boot", forbid: ["store", "http", "cli", "protocols", "drizzle-orm", "bun:sqlite"], why: "boot decisions work over services and ports" },
  { from: "power", forbid: ["store", "services", "http", "cli", "drizzle-orm", "bun:sqlite"], why: "power drivers depend on domain types only" },
  { from: "image", forbid: ["store", "http", "cli", "drizzle-orm", "bun:sqlite"], why: "the image engine does not know the database" },
  {
    from: "overlay",
    forbid: ["store", "services", "http", "cli", "drizzle-orm", "bun:sqlite"],
    why: "the overlay engine (archive cache, host keys, site editing included) knows neither the database nor the services",
  },
  { from: "cli", forbid: ["store", "drizzle-orm", "bun:sqlite"], why: "commands call services (app.ts wires the store)" },
];

const files = [...new Bun.Glob("**/*.ts").scanSync(src)].filter((f) => !f.endsWith(".d.ts"));
const importsOf = (file: string) => {
  const text = readFileSync(join(src, file), "utf8");
  const specs = new Set<string>();
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']/g)) specs.add(m[1]!);
  for (const m of text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)) specs.add(m[1]!);
  return [...specs];
};
/** The top folder under src/ a specifier points to, or the package name. */
const target = (file: string, spec: string) => {
  if (!spec.startsWith(".")) return spec;
  const abs = resolve(dirname(join(src, file)), spec);
  const rel = relative(src, abs);
  return rel.startsWith("..") ? "*outside" : rel.split("/")[0]!.replace(/\.ts$/, "");
};

for (const rule of RULES) {
  test(`${rule.from}/ imports none of ${rule.forbid.join(", ")} (${rule.why})`, () => {
    const bad: string[] = [];
    for (const f of files.filter((x) => x.startsWith(`${rule.from}/`))) {
      for (const spec of importsOf(f)) {
        const t = target(f, spec);
        const isSrc = spec.startsWith(".") && t !== rule.from;
        if (rule.forbid.includes(t) || (rule.forbid.includes("*src") && isSrc)) bad.push(`${f} → ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });
}
