import { useEffect, useState } from "preact/hooks";
import { isHostname } from "../../src/domain/names";
import { useAction } from "../action";
import { ago, clock, del, enc, get, post } from "../api";
import { store, useStore } from "../store";
import { Err, fieldOf, html } from "./common";
import type { UnknownMac } from "../../src/services/ports";

// ---- discovery ----

type Unknown = UnknownMac;
interface Draft {
  name: string;
  profiles: string;
  ipaddr: string;
}
type Field = keyof Draft;
/** An IPv4 address, optionally with a prefix length: what the server's validation accepts. */
export const IPV4_CIDR = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(\/([0-9]|[12]\d|3[0-2]))?$/;

/** Which field of the row a server message is about (else the row as a whole). */
const fieldOfAccept = (msg: string): Field | undefined =>
  fieldOf(msg, [
    ["ipaddr", /ipaddr|IP address|netmask|address/i],
    ["profiles", /profile/i],
    ["name", /node name|already exist|node '[^']*' is not valid: name/i],
  ]);

export function DiscoveryPage() {
  useStore();
  const [data, setData] = useState<{ inbox: Unknown[]; discoverable: string[] } | null>(null);
  const { error: err, setError: setErr, message: msg, run } = useAction();
  // What was typed per MAC, kept across reloads of the inbox and failed accepts.
  const [drafts, setDrafts] = useState<Record<string, Draft>>({});
  const [rowErr, setRowErr] = useState<Record<string, { field?: Field; text: string }>>({});
  const load = () => get<typeof data>("/discovery").then(setData, setErr);
  useEffect(() => void load(), [store.unknownSeen]);
  const draftOf = (mac: string): Draft => drafts[mac] ?? { name: "", profiles: "", ipaddr: "" };
  const edit = (mac: string, f: Field, v: string) => {
    setDrafts((d) => ({ ...d, [mac]: { ...draftOf(mac), ...d[mac], [f]: v } }));
    if (rowErr[mac]?.field === f) setRowErr((r) => ({ ...r, [mac]: undefined as never }));
  };
  /** A row's action: its failure goes beside the row's field (or the row) when it is about a MAC, else above. */
  const act = (fn: () => Promise<unknown>, ok: string, mac?: string) =>
    run(
      async () => {
        await fn();
        if (mac) {
          setRowErr((r) => ({ ...r, [mac]: undefined as never }));
          setDrafts((d) => ({ ...d, [mac]: undefined as never }));
        }
        load();
      },
      ok,
      (x) => {
        if (!mac) return false;
        const f = fieldOfAccept((x as Error).message);
        setRowErr((r) => ({ ...r, [mac]: { text: (x as Error).message, ...(f ? { field: f } : {}) } }));
        return true;
      },
    );
  const accept = (u: Unknown) => (e: Event) => {
    e.preventDefault();
    const d = draftOf(u.mac);
    const name = d.name.trim();
    const ipaddr = d.ipaddr.trim();
    if (!isHostname(name))
      return setRowErr((r) => ({
        ...r,
        [u.mac]: {
          field: "name",
          text: name ? `'${name}' is not a node name: letters, digits and inner hyphens, e.g. n005` : "Give the new node a name, e.g. n005.",
        },
      }));
    if (ipaddr && !IPV4_CIDR.test(ipaddr))
      return setRowErr((r) => ({
        ...r,
        [u.mac]: {
          field: "ipaddr",
          text: `'${ipaddr}' is not an IPv4 address; give it like 10.0.0.15 or 10.0.0.15/24 (a netmask is needed unless a profile sets one).`,
        },
      }));
    const profiles = d.profiles.split(/[\s,]+/).filter(Boolean);
    act(
      () => post(`/discovery/${enc(u.mac)}/accept`, { name, ...(profiles.length ? { profiles } : {}), ...(ipaddr ? { ipaddr } : {}) }),
      `${u.mac} is now node ${name}${ipaddr ? ` (${ipaddr})` : ""}`,
      u.mac,
    );
  };
  const input = (u: Unknown, f: Field, label: string, attrs: Record<string, unknown>) => {
    const e = rowErr[u.mac];
    const bad = e?.field === f;
    const id = `acc-${u.mac.replaceAll(":", "")}-${f}`;
    return html`<label class=${bad ? "invalid" : ""}><span class="sr">${label}</span><input id=${id} name=${f} aria-label=${label} value=${draftOf(u.mac)[f]}
      onInput=${(ev: Event) => edit(u.mac, f, (ev.target as HTMLInputElement).value)} aria-invalid=${bad ? "true" : undefined}
      aria-describedby=${bad ? `${id}-err` : undefined} ...${attrs} />${bad ? html`<span class="field-error" id=${`${id}-err`} role="alert">${e.text}</span>` : ""}</label>`;
  };
  return html`<h2>Discovery inbox</h2>
    <p class="muted">${
      "Machines that asked to boot but match no node. Accept one as a new node (with the address it is to have), bind it to a node " +
      "marked discoverable, or ignore it. From a shell: "
    }<code>drover node discovered list</code>.</p>
    ${msg && html`<p class="ok" role="status">${msg}</p>`}<${Err} e=${err} />
    <div class="card scroll"><table aria-label="discovery inbox"><thead><tr><th>MAC</th><th>Asked from</th><th>Asked</th><th>First seen</th>
      <th>Last seen</th><th>Accept as new node</th><th>Bind to</th><th></th></tr></thead><tbody>
      ${data?.inbox.length === 0 && html`<tr><td colspan="8" class="muted">Nothing waiting.</td></tr>`}
      ${data?.inbox.map((u) => {
        const e = rowErr[u.mac];
        return html`<tr key=${u.mac} data-mac=${u.mac} class=${u.ignored ? "muted" : ""}><td class="mono">${u.mac}${u.ignored ? " (ignored)" : ""}</td>
          <td>${u.address ?? ""}</td><td>${u.count}×</td><td title=${clock(u.firstSeen, true)}>${ago(u.firstSeen)}</td><td title=${clock(u.lastSeen, true)}>${ago(u.lastSeen)}</td>
        <td><form class="row accept" aria-label=${`accept ${u.mac}`} onSubmit=${accept(u)} novalidate>
          ${input(u, "name", "new node name", { required: true, placeholder: "node name", size: 10 })}
          ${input(u, "ipaddr", "address", { placeholder: u.address ? `e.g. ${u.address}/24` : "10.0.0.15/24", size: 14, inputmode: "decimal" })}
          ${input(u, "profiles", "profiles", { placeholder: "profiles", size: 8 })}
          <button class="primary">Accept</button>${e && !e.field ? html`<span class="field-error" role="alert">${e.text}</span>` : ""}</form></td>
        <td>${
          data.discoverable.length
            ? html`<select aria-label="bind to discoverable node" onChange=${(ev: Event) => {
                const v = (ev.target as HTMLSelectElement).value;
                if (v) act(() => post(`/discovery/${enc(u.mac)}/accept`, { node: v }), `${u.mac} bound to ${v}`, u.mac);
              }}><option value="">—</option>${data.discoverable.map((n) => html`<option>${n}</option>`)}</select>`
            : html`<span class="muted">none discoverable</span>`
        }</td>
        <td><button class="change" onClick=${() =>
          act(
            () => post(`/discovery/${enc(u.mac)}/ignore`, { ignored: !u.ignored }),
            `${u.mac} ${u.ignored ? "no longer ignored" : "ignored"}`,
          )}>${u.ignored ? "Unignore" : "Ignore"}</button> <button class="danger" onClick=${() =>
          act(() => del(`/discovery/${enc(u.mac)}`), `${u.mac} removed`)}>Remove</button></td></tr>`;
      })}
    </tbody></table></div>`;
}
