import { h } from "preact";
import htm from "htm";
import type { ApiError } from "../api";

export const html = htm.bind(h);

/** An error's lines, each once: the server often repeats the message as its first detail. */
export const linesOf = (e: unknown): string[] => [...new Set([(e as Error).message, ...((e as ApiError).details ?? [])])];

/** An error not about one field: its message and details, once each, above the form. */
export const Err = (p: { e: unknown }) => (p.e ? html`<div class="error" role="alert">${linesOf(p.e).map((d) => html`<div>${d}</div>`)}</div>` : null);

/** The first field whose pattern a server message matches: where to show it. */
export function fieldOf<F extends string>(msg: string, rules: readonly (readonly [F, RegExp])[]): F | undefined {
  return rules.find(([, re]) => re.test(msg))?.[0];
}
