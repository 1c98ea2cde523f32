/**
 * A unified diff of two small texts (the files `drover configure` writes: an exports file, a hosts block),
 * in the format of `diff -u` with three lines of context. Line-based LCS: quadratic, meant for files of a few
 * thousand lines at most. Returns "" when the texts are equal.
 */
export function unifiedDiff(before: string, after: string, fromName: string, toName: string, context = 3): string {
  if (before === after) return "";
  const a = splitLines(before);
  const b = splitLines(after);
  // Strip the common head and tail first: most edits touch a few lines of a long file.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const am = a.slice(head, a.length - tail);
  const bm = b.slice(head, b.length - tail);
  // LCS table over the middle.
  const n = am.length;
  const m = bm.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) lcs[i]![j] = am[i] === bm[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  type Op = { t: " " | "-" | "+"; line: string };
  const ops: Op[] = a.slice(0, head).map((line) => ({ t: " ", line }));
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && am[i] === bm[j]) {
      ops.push({ t: " ", line: am[i++]! });
      j++;
    } else if (i < n && (j === m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push({ t: "-", line: am[i++]! });
    else ops.push({ t: "+", line: bm[j++]! });
  }
  for (const line of a.slice(a.length - tail)) ops.push({ t: " ", line });

  // Group changes into hunks with `context` lines around them.
  const out = [`--- ${fromName}`, `+++ ${toName}`];
  let k = 0;
  const aLine = new Uint32Array(ops.length + 1);
  const bLine = new Uint32Array(ops.length + 1);
  for (let x = 0, ai = 0, bi = 0; x < ops.length; x++) {
    aLine[x] = ai;
    bLine[x] = bi;
    if (ops[x]!.t !== "+") ai++;
    if (ops[x]!.t !== "-") bi++;
  }
  while (k < ops.length) {
    while (k < ops.length && ops[k]!.t === " ") k++;
    if (k >= ops.length) break;
    const start = Math.max(0, k - context);
    let end = k;
    // Extend while the next change is within 2*context unchanged lines.
    for (;;) {
      while (end < ops.length && ops[end]!.t !== " ") end++;
      let next = end;
      while (next < ops.length && ops[next]!.t === " ") next++;
      if (next < ops.length && next - end <= 2 * context) end = next;
      else break;
    }
    const stop = Math.min(ops.length, end + context);
    const hunk = ops.slice(start, stop);
    const aCount = hunk.filter((o) => o.t !== "+").length;
    const bCount = hunk.filter((o) => o.t !== "-").length;
    const aStart = aCount ? aLine[start]! + 1 : aLine[start]!;
    const bStart = bCount ? bLine[start]! + 1 : bLine[start]!;
    out.push(`@@ -${aStart}${aCount === 1 ? "" : `,${aCount}`} +${bStart}${bCount === 1 ? "" : `,${bCount}`} @@`);
    for (const o of hunk) out.push(`${o.t}${o.line}`);
    k = stop;
  }
  const endsA = before === "" || before.endsWith("\n");
  const endsB = after === "" || after.endsWith("\n");
  if (!endsA || !endsB) out.push("\\ No newline at end of file");
  return `${out.join("\n")}\n`;
}

function splitLines(s: string): string[] {
  if (s === "") return [];
  const l = s.split("\n");
  if (l.at(-1) === "") l.pop();
  return l;
}
