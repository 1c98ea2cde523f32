import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { ApiError, type BootEvent, type StatusRow, ago, enc, get, patch } from "./api";
import { stateBadge } from "./nodes";
import { store, useStore } from "./store";

const html = htm.bind(h);

interface Provenance {
  field: string;
  source: string;
  value: unknown;
  contributors: string[];
  secret?: boolean;
}

interface NodeDetail {
  name: string;
  own: Record<string, any>;
  conf: Record<string, any>;
  profiles: string[];
  provenance: Provenance[];
  problems: string[];
  status: StatusRow;
}

/** Fields editable in place: label, conf path, and whether the value is a list. */
const EDITABLE: { label: string; path: (dev: string) => string[]; list?: boolean }[] = [
  { label: "Comment", path: () => ["comment"] },
  { label: "Profiles", path: () => ["profiles"], list: true },
  { label: "Image", path: () => ["image"] },
  { label: "Kernel args", path: () => ["kernel", "args"], list: true },
  { label: "IP address", path: (d) => ["networkDevices", d, "ipaddr"] },
  { label: "Netmask", path: (d) => ["networkDevices", d, "netmask"] },
  { label: "Gateway", path: (d) => ["networkDevices", d, "gateway"] },
  { label: "MAC", path: (d) => ["networkDevices", d, "hwaddr"] },
  { label: "BMC address", path: () => ["ipmi", "ipaddr"] },
  { label: "BMC type", path: () => ["ipmi", "type"] },
];

const at = (o: any, path: string[]) => path.reduce((x, k) => (x == null ? undefined : x[k]), o);
const show = (v: unknown) => (v === undefined || v === null ? "" : Array.isArray(v) ? v.join(" ") : typeof v === "object" ? JSON.stringify(v) : String(v));
const sourceLabel = (s: string) => (s === "--" ? "node" : s === "SUPERSEDED" ? "superseded" : s || "");

export function NodePage(props: { name: string }) {
  useStore();
  const [node, setNode] = useState<NodeDetail | null>(null);
  const [error, setError] = useState("");
  const [events, setEvents] = useState<BootEvent[]>([]);
  const load = () =>
    Promise.all([get<NodeDetail>(`/nodes/${enc(props.name)}`), get<BootEvent[]>(`/nodes/${enc(props.name)}/events?limit=50`)]).then(
      ([n, e]) => {
        setNode(n);
        setEvents(e);
      },
      (e) => setError((e as Error).message),
    );
  useEffect(() => {
    load();
    return store.onEvent((e) => {
      if (e.node === props.name) setEvents((prev) => [e, ...prev].slice(0, 50));
    });
  }, [props.name]);
  if (error) return html`<p class="error" role="alert">${error}</p><p><a href="#/nodes">Back to nodes</a></p>`;
  if (!node) return html`<p class="muted">Loading…</p>`;
  const status = store.status.get(node.name) ?? node.status;
  const dev = node.conf.primaryNetwork ?? Object.keys(node.conf.networkDevices ?? {})[0] ?? "default";
  return html`
    <p><a href="#/nodes">← Nodes</a></p>
    <h2>${node.name} ${stateBadge(status)} <span class="muted" style="font-size:.9rem">${status.stage ?? ""} ${ago(status.lastSeen)}</span></h2>
    ${node.problems.length > 0 && html`<div class="card error" role="alert">${node.problems.map((p) => html`<div>${p}</div>`)}</div>`}
    <${EditForm} node=${node} dev=${dev} onSaved=${load} />
    <div class="card scroll">
      <h3>Every field and where it comes from</h3>
      <table>
        <thead><tr><th>Field</th><th>Value</th><th>Source</th></tr></thead>
        <tbody>
          ${node.provenance.filter((p) => p.source !== "" || p.value !== undefined).map(
            (p) => html`<tr><td>${p.field}</td><td>${p.secret ? "••••" : show(p.value)}</td>
              <td class=${p.source === "--" ? "src-node" : ""}>${sourceLabel(p.source)}${p.source === "SUPERSEDED" ? html` <span class="src-sup">${p.contributors.filter((c) => c !== "--").join(", ")}</span>` : ""}</td></tr>`,
          )}
        </tbody>
      </table>
    </div>
    <div class="card scroll">
      <h3>Boot events</h3>
      ${events.length === 0 ? html`<p class="muted">No boot events yet.</p>` : html`<table aria-label="boot events"><thead><tr><th>When</th><th>Stage</th><th>Detail</th><th>From</th></tr></thead><tbody>
        ${events.map((e) => html`<tr><td title=${new Date(e.at).toISOString()}>${new Date(e.at).toLocaleTimeString()}</td><td>${e.stage}</td><td>${e.detail ?? ""}</td><td>${e.address ?? ""}</td></tr>`)}
      </tbody></table>`}
    </div>
    <${OverlayPreview} name=${node.name} />`;
}

function EditForm(props: { node: NodeDetail; dev: string; onSaved: () => void }) {
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    const set: Record<string, any> = {};
    const unset: string[][] = [];
    for (const field of EDITABLE) {
      const path = field.path(props.dev);
      const before = show(at(props.node.own, path));
      const now = String(f.get(field.label) ?? "").trim();
      if (now === before) continue;
      if (now === "") {
        unset.push(path);
        continue;
      }
      let o = set;
      for (const k of path.slice(0, -1)) o = o[k] ??= {};
      o[path.at(-1)!] = field.list ? now.split(/[\s,]+/).filter(Boolean) : now;
    }
    if (!Object.keys(set).length && !unset.length) return;
    try {
      await patch(`/nodes/${enc(props.node.name)}`, { set, unset });
      setError(null);
      setSaved(true);
      props.onSaved();
      store.loadNodes();
    } catch (err) {
      setSaved(false);
      setError(err as ApiError);
    }
  };
  return html`<form class="card" onSubmit=${submit} aria-label="edit node">
    <h3>The node's own fields <span class="muted">(empty = inherit from profiles)</span></h3>
    <div class="row">
      ${EDITABLE.map((field) => {
        const path = field.path(props.dev);
        const inherited = show(at(props.node.conf, path));
        return html`<label>${field.label}<input name=${field.label} value=${show(at(props.node.own, path))} placeholder=${inherited} /></label>`;
      })}
      <button class="primary">Save</button>
    </div>
    ${saved && !error && html`<p class="ok" role="status">Saved.</p>`}
    ${error && html`<div class="error" role="alert"><div>${error.message}</div>${(error.details ?? []).map((d) => html`<div>${d}</div>`)}</div>`}
  </form>`;
}

interface PreviewFile {
  path: string;
  type: string;
  mode: number;
  size: number;
  text?: string;
  target?: string;
}

export function OverlayPreview(props: { name: string }) {
  const [kind, setKind] = useState<"system" | "runtime">("system");
  const [data, setData] = useState<{ files: PreviewFile[]; overlays: string[] } | null>(null);
  const [error, setError] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  useEffect(() => {
    setData(null);
    setError("");
    get<{ files: PreviewFile[]; overlays: string[] }>(`/nodes/${enc(props.name)}/overlay?kind=${kind}`).then(setData, (e) => setError((e as Error).message));
  }, [props.name, kind]);
  const file = data?.files.find((f) => f.path === open);
  return html`<div class="card">
    <h3>Rendered overlays</h3>
    <div class="row"><label>Kind<select value=${kind} onChange=${(e: Event) => setKind((e.target as HTMLSelectElement).value as "system" | "runtime")}><option>system</option><option>runtime</option></select></label>
    ${data && html`<span class="muted">${data.overlays.join(", ")} — ${data.files.filter((f) => f.type === "file").length} files</span>`}</div>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${data && html`<div class="grid2" style="margin-top:.5rem"><div class="tree scroll" style="max-height:28rem">${data.files.filter((f) => f.type !== "dir").map((f) => html`<button aria-current=${open === f.path} onClick=${() => setOpen(f.path)}>${f.path}</button>`)}</div>
      <div>${file ? html`<p class="muted">${file.path} · ${(file.mode & 0o7777).toString(8)} · ${file.size} bytes</p><pre>${file.text ?? (file.target ? `→ ${file.target}` : "(binary)")}</pre>` : html`<p class="muted">Choose a file.</p>`}</div></div>`}
  </div>`;
}
