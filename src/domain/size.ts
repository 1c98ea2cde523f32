/**
 * A byte count for people, in binary units: `512 B`, `1.5 KiB`, `3.2 GiB` (one decimal above bytes). Nothing
 * (`undefined`) is the empty text, so a page can show `human(x) || "unknown"`. The CLI and the web page both
 * use this one.
 */
export function human(n: number | undefined): string {
  if (n === undefined) return "";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) (n /= 1024), i++;
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}
