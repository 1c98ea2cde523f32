import HOSTS_ETA from "./builtin/hosts/etc/hosts.eta" with { type: "text" };
import type { PeerView, ServerView } from "./data";

/**
 * Native renderings of built-in templates whose output grows with the number of nodes. The hosts file
 * lists every node, so every node's change re-renders it; through eta's strict data (a Proxy read per
 * field) that is ~30-60 ms for 10,000 nodes, most of a change's cost. This prints the same text from
 * lines kept per node, so a change makes only that node's lines again.
 *
 * A native rendering is used only for a template whose text is exactly the one it was written for (the
 * built-in, or a site copy left unchanged); any edit falls back to eta. test/unit/overlay/native.test.ts
 * renders both over varied nodes and requires the same bytes, and fails when the built-in changes
 * without this file.
 */

export interface NativeRender {
  /** The template data the eta rendering would read (the build's sharing decision depends on it). */
  touched: readonly string[];
  /** The text, or undefined where eta must render it (it would report an error). */
  render(data: { server: ServerView; allNodes: readonly PeerView[] }): string | undefined;
}

/** Each node's lines of the hosts file, made once per peer view (a changed node gets a new view). */
const hostLines = new WeakMap<PeerView, string>();

function linesOf(n: PeerView): string {
  let s = hostLines.get(n);
  if (s !== undefined) return s;
  s = "";
  for (const d of n.netdevList) {
    const names = d.primary ? `${n.name} ${n.name}-${d.name}` : `${n.name}-${d.name}`;
    if (d.ipaddr) s += `${d.ipaddr}  ${names}\n`;
    if (d.ipaddr6) s += `${d.ipaddr6}  ${names}\n`;
  }
  hostLines.set(n, s);
  return s;
}

/** The template's text before its first tag: the comment and the localhost lines. */
const HOSTS_HEAD = HOSTS_ETA.slice(0, HOSTS_ETA.indexOf("<%"));

const hosts: NativeRender = {
  touched: ["server", "allNodes"],
  render({ server, allNodes }) {
    if (server.address == null || server.hostname == null) return undefined;
    const parts = [HOSTS_HEAD, `${server.address}  ${server.hostname} warewulf\n`];
    for (const n of allNodes) parts.push(linesOf(n));
    return parts.join("");
  },
};

const BY_TEXT = new Map<string, NativeRender>([[HOSTS_ETA, hosts]]);

/** The native rendering of a template with exactly this text, if there is one. */
export function nativeFor(text: string): NativeRender | undefined {
  return BY_TEXT.get(text);
}
