import { useEffect, useState } from "preact/hooks";
import { ApiError, ago, del, enc, get, patch, post, put } from "../api";
import { store, useStore } from "../store";
import { Err, html, human } from "./common";
import type { UnknownMac } from "../../src/services/ports";

// ---- discovery ----

type Unknown = UnknownMac;

export function DiscoveryPage() {
  useStore();
  const [data, setData] = useState<{ inbox: Unknown[]; discoverable: string[] } | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [msg, setMsg] = useState("");
  const load = () => get<typeof data>("/discovery").then(setData, setErr);
  useEffect(() => void load(), [store.unknownSeen]);
  const act = async (fn: () => Promise<unknown>, ok: string) => {
    try {
      await fn();
      setErr(null);
      setMsg(ok);
      load();
    } catch (x) {
      setErr(x);
    }
  };
  return html`<h2>Discovery inbox</h2>
    <p class="muted">Machines that asked to boot but match no node. Accept one as a new node, bind it to a node marked discoverable, or ignore it.</p>
    ${msg && html`<p class="ok" role="status">${msg}</p>`}<${Err} e=${err} />
    <div class="card scroll"><table aria-label="discovery inbox"><thead><tr><th>MAC</th><th>Address</th><th>Asked</th><th>First seen</th><th>Last seen</th><th>Accept as new node</th><th>Bind to</th><th></th></tr></thead><tbody>
      ${data?.inbox.length === 0 && html`<tr><td colspan="8" class="muted">Nothing waiting.</td></tr>`}
      ${data?.inbox.map(
        (u) => html`<tr data-mac=${u.mac} class=${u.ignored ? "muted" : ""}><td>${u.mac}${u.ignored ? " (ignored)" : ""}</td><td>${u.address ?? ""}</td><td>${u.count}×</td><td>${ago(u.firstSeen)}</td><td>${ago(u.lastSeen)}</td>
        <td><form class="row" aria-label=${`accept ${u.mac}`} onSubmit=${(e: Event) => { e.preventDefault(); const f = new FormData(e.target as HTMLFormElement); const name = String(f.get("name")); act(() => post(`/discovery/${enc(u.mac)}/accept`, { name, ...(f.get("profiles") ? { profiles: String(f.get("profiles")).split(/[\s,]+/) } : {}) }), `${u.mac} is now node ${name}`); }}>
          <input name="name" required placeholder="node name" aria-label="new node name" size="10" /><input name="profiles" placeholder="profiles" aria-label="profiles" size="8" /><button class="primary">Accept</button></form></td>
        <td>${data.discoverable.length ? html`<select aria-label="bind to discoverable node" onChange=${(e: Event) => { const v = (e.target as HTMLSelectElement).value; if (v) act(() => post(`/discovery/${enc(u.mac)}/accept`, { node: v }), `${u.mac} bound to ${v}`); }}><option value="">—</option>${data.discoverable.map((n) => html`<option>${n}</option>`)}</select>` : html`<span class="muted">none discoverable</span>`}</td>
        <td><button class="change" onClick=${() => act(() => post(`/discovery/${enc(u.mac)}/ignore`, { ignored: !u.ignored }), `${u.mac} ${u.ignored ? "no longer ignored" : "ignored"}`)}>${u.ignored ? "Unignore" : "Ignore"}</button> <button class="danger" onClick=${() => act(() => del(`/discovery/${enc(u.mac)}`), `${u.mac} removed`)}>Remove</button></td></tr>`,
      )}
    </tbody></table></div>`;
}

