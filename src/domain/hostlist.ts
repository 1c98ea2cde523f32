import { invalid } from "./errors";

/**
 * Hostlists as Warewulf, Slurm and pdsh write them: `n[01-10,12],m1`.
 * Zero padding of a range's start is kept (`n[001-003]` → n001 n002 n003).
 * Several bracket groups in one name multiply out (`r[1-2]n[1-2]`).
 */
export const MAX_EXPANSION = 100_000;

const tooMany = (spec: string, n: number) =>
  invalid(
    `hostlist '${spec.slice(0, 200)}' expands to ${n > 1e15 ? "more than 10^15" : n.toLocaleString("en")} names; at most ` +
      `${MAX_EXPANSION.toLocaleString("en")} at once (split it, e.g. by rack)`,
  );

/**
 * How many names a hostlist expands to, counted without expanding it (ranges multiply), so that
 * `a[1-1000]b[1-1000]c[1-1000]` is refused before a billion strings are made.
 */
export function countHostlist(spec: string): number {
  let n = 0;
  for (const part of splitTopLevel(spec.trim())) if (part !== "") n += countOne(part, spec);
  return n;
}

export function expandHostlist(spec: string): string[] {
  const n = countHostlist(spec);
  if (n > MAX_EXPANSION) throw tooMany(spec, n);
  const out: string[] = [];
  for (const part of splitTopLevel(spec.trim())) if (part !== "") for (const name of expandOne(part, spec)) out.push(name);
  return out;
}

/** Expands several arguments and removes duplicates, keeping first-seen order; at most MAX_EXPANSION in all. */
export function expandHostlists(specs: readonly string[]): string[] {
  const total = specs.reduce((n, s) => n + countHostlist(s), 0);
  if (total > MAX_EXPANSION) throw tooMany(specs.join(" "), total);
  const seen = new Set<string>();
  for (const s of specs) for (const n of expandHostlist(s)) seen.add(n);
  return [...seen];
}

function countOne(part: string, whole: string): number {
  let n = 1;
  let at = 0;
  for (;;) {
    const open = part.indexOf("[", at);
    if (open < 0) return n;
    const close = part.indexOf("]", open);
    let values = 0;
    for (const item of part.slice(open + 1, close).split(",")) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(item.trim());
      if (!m) throw invalid(`hostlist '${whole}': '${item}' is not a number or a range like 01-10`);
      const start = Number(m[1]);
      const end = m[2] === undefined ? start : Number(m[2]);
      if (end < start) throw invalid(`hostlist '${whole}': range ${item} runs backwards`);
      values += end - start + 1;
    }
    n *= values;
    at = close + 1;
  }
}

export function isHostlistPattern(s: string): boolean {
  return /[[\]]/.test(s);
}

function splitTopLevel(spec: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of spec) {
    if (ch === "[") depth++;
    if (ch === "]") depth--;
    if (depth < 0) throw invalid(`hostlist '${spec}': ']' without '['`);
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (depth !== 0) throw invalid(`hostlist '${spec}': '[' without ']'`);
  parts.push(cur);
  return parts;
}

function expandOne(part: string, whole: string): string[] {
  const open = part.indexOf("[");
  if (open < 0) return [part];
  const close = part.indexOf("]", open);
  const prefix = part.slice(0, open);
  const body = part.slice(open + 1, close);
  const rest = expandOne(part.slice(close + 1), whole);
  const values: string[] = [];
  for (const item of body.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(item.trim());
    if (!m) throw invalid(`hostlist '${whole}': '${item}' is not a number or a range like 01-10`);
    const [, a, b] = m as unknown as [string, string, string | undefined];
    const start = Number(a);
    const end = b === undefined ? start : Number(b);
    if (end < start) throw invalid(`hostlist '${whole}': range ${item} runs backwards`);
    if (end - start > MAX_EXPANSION) throw invalid(`hostlist '${whole}': range ${item} is too large`);
    const width = a.length;
    for (let i = start; i <= end; i++) values.push(String(i).padStart(width, "0"));
  }
  const out: string[] = [];
  for (const v of values) for (const r of rest) out.push(prefix + v + r);
  return out;
}

/**
 * Matches node names against patterns given on the command line: hostlists, exact names,
 * or shell globs (`n*`, `n0?`). An empty pattern list matches everything.
 */
export function matchNames(all: readonly string[], patterns: readonly string[]): string[] {
  if (patterns.length === 0) return [...all];
  const exact = new Set<string>();
  const globs: RegExp[] = [];
  for (const p of patterns) {
    for (const part of splitTopLevel(p)) {
      if (/[*?]/.test(part)) globs.push(globToRegExp(part));
      else for (const n of expandOne(part, p)) exact.add(n);
    }
  }
  return all.filter((n) => exact.has(n) || globs.some((g) => g.test(n)));
}

function globToRegExp(glob: string): RegExp {
  const esc = glob
    .replace(/[.+^${}()|\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${esc}$`);
}

/** Compresses names back to a hostlist for display: n01,n02,n03,n05 → n[01-03,05]. */
export function compressHostlist(names: readonly string[]): string {
  const groups = new Map<string, { width: number; nums: number[] }[]>();
  const plain: string[] = [];
  const order: string[] = [];
  for (const name of names) {
    const m = /^(.*?)(\d+)$/.exec(name);
    if (!m) {
      plain.push(name);
      continue;
    }
    const [, prefix, digits] = m as unknown as [string, string, string];
    const key = `${prefix}\u0000${digits.length}`;
    if (!groups.has(key)) {
      groups.set(key, [{ width: digits.length, nums: [] }]);
      order.push(key);
    }
    groups.get(key)![0]!.nums.push(Number(digits));
  }
  const out: string[] = [];
  for (const key of order) {
    const [prefix] = key.split("\u0000") as [string];
    const { width, nums } = groups.get(key)![0]!;
    nums.sort((a, b) => a - b);
    const ranges: string[] = [];
    let i = 0;
    while (i < nums.length) {
      let j = i;
      while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
      const a = String(nums[i]).padStart(width, "0");
      const b = String(nums[j]).padStart(width, "0");
      ranges.push(i === j ? a : `${a}-${b}`);
      i = j + 1;
    }
    out.push(nums.length === 1 ? `${prefix}${ranges[0]}` : `${prefix}[${ranges.join(",")}]`);
  }
  return [...out, ...plain].join(",");
}
