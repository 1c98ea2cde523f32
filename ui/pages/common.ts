import { h } from "preact";
import htm from "htm";
import type { ApiError } from "../api";

export const html = htm.bind(h);

export const human = (n?: number) => {
  if (n === undefined) return "";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) (n /= 1024), i++;
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
};

/** An error not about one field: its message and details, once, above the form. */
export const Err = (p: { e: unknown }) => (p.e ? html`<div class="error" role="alert"><div>${(p.e as Error).message}</div>${((p.e as ApiError).details ?? []).map((d) => html`<div>${d}</div>`)}</div>` : null);
