import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { CONF_SCHEMA, type FieldDef, SECRET_MASK, type Schema } from "../src/domain/conf";
import { NETWORK_NAME } from "../src/domain/names";
import { problemField } from "../src/domain/problem-field";
import { useAction } from "./action";
import { ApiError, type BootEvent, type StatusRow, ago, clock, del, enc, get, patch } from "./api";
import { ConfirmDialog } from "./dialog";
import { stateBadge } from "./nodes";
import { PowerCell, PowerDialog, powerStates } from "./power";
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

const at = (o: any, path: string[]) => path.reduce((x, k) => (x == null ? undefined : x[k]), o);
const show = (v: unknown) => (v === undefined || v === null ? "" : Array.isArray(v) ? v.join(" ") : typeof v === "object" ? JSON.stringify(v) : String(v));
const sourceLabel = (s: string) => (s === "--" ? "node" : s === "SUPERSEDED" ? "superseded" : s || "");
const splitList = (s: string) => s.split(/[\s,]+/).filter(Boolean);

/** The name `node list -a` and the provenance use for a conf path: ["networkDevices","ib0","ipaddr"] → NetDevs[ib0].Ipaddr */
function displayName(path: string[]): string {
  let fields: Record<string, FieldDef> | undefined = CONF_SCHEMA.fields;
  let schema: Schema | undefined;
  let out = "";
  for (const k of path) {
    if (schema?.t === "map") {
      out += `[${k}]`;
      schema = schema.of;
      fields = schema.t === "struct" ? schema.fields : undefined;
      continue;
    }
    const def: FieldDef | undefined = fields?.[k];
    if (!def) return out;
    out += out ? `.${def.display}` : def.display;
    schema = def.schema;
    fields = schema.t === "struct" ? schema.fields : undefined;
  }
  return out;
}

/** A form field of the node page: its conf path and how its text maps to a value. */
interface FieldSpec {
  key: string;
  label: string;
  path: string[];
  kind?: "list" | "bool" | "choice" | "secret";
  choices?: string[];
  hint?: string;
  placeholder?: string;
}

const GENERAL: FieldSpec[] = [
  { key: "comment", label: "Comment", path: ["comment"] },
  { key: "profiles", label: "Profiles", path: ["profiles"], kind: "list", hint: "in order; the node's own values win" },
  { key: "image", label: "Image", path: ["image"] },
];
const KERNEL: FieldSpec[] = [
  { key: "kernel.version", label: "Kernel version", path: ["kernel", "version"], hint: "empty: the image's newest kernel" },
  { key: "kernel.args", label: "Kernel args", path: ["kernel", "args"], kind: "list", hint: "added to the profiles' args; ~arg removes one" },
];
const OVERLAYS: FieldSpec[] = [
  { key: "systemOverlay", label: "System overlays", path: ["systemOverlay"], kind: "list", hint: "applied once at boot; ~name removes a profile's" },
  { key: "runtimeOverlay", label: "Runtime overlays", path: ["runtimeOverlay"], kind: "list", hint: "refreshed while the node runs" },
];
const BMC: FieldSpec[] = [
  { key: "ipmi.ipaddr", label: "BMC address", path: ["ipmi", "ipaddr"] },
  { key: "ipmi.type", label: "BMC type", path: ["ipmi", "type"], kind: "choice", choices: ["ipmi", "redfish", "none"] },
  { key: "ipmi.interface", label: "IPMI interface", path: ["ipmi", "interface"], placeholder: "lanplus", hint: "ipmitool -I (IPMI only)" },
  { key: "ipmi.port", label: "BMC port", path: ["ipmi", "port"], placeholder: "623 IPMI, 443 Redfish" },
  { key: "ipmi.username", label: "BMC user", path: ["ipmi", "username"] },
  { key: "ipmi.password", label: "BMC password", path: ["ipmi", "password"], kind: "secret" },
  { key: "ipmi.insecure", label: "Self-signed certificate", path: ["ipmi", "insecure"], kind: "bool", hint: "Redfish: accept the BMC's own certificate" },
];
const NETDEV_FIELDS: { field: string; label: string; placeholder?: string }[] = [
  { field: "device", label: "Device (netdev)", placeholder: "e.g. eth0" },
  { field: "type", label: "Type", placeholder: "ethernet" },
  { field: "hwaddr", label: "MAC" },
  { field: "ipaddr", label: "IP address" },
  { field: "netmask", label: "Netmask" },
  { field: "gateway", label: "Gateway" },
];
const SCALARS = [...GENERAL, ...KERNEL, ...OVERLAYS, ...BMC];

interface Dev {
  id: string;
  /** The network's name (the key in networkDevices); editable only for a new one. */
  name: string;
  isNew: boolean;
  removed: boolean;
}
interface Tag {
  id: number;
  key: string;
  value: string;
}
interface Draft {
  v: Record<string, string>;
  devs: Dev[];
  tags: Tag[];
  clearPassword: boolean;
}

let seq = 0;
function initDraft(n: NodeDetail): Draft {
  const v: Record<string, string> = {};
  for (const f of SCALARS) {
    const own = at(n.own, f.path);
    v[f.key] = f.kind === "secret" ? "" : show(own);
  }
  const names = [...new Set([...Object.keys(n.own.networkDevices ?? {}), ...Object.keys(n.conf.networkDevices ?? {})])];
  const devs = names.map((name) => ({ id: name, name, isNew: false, removed: false }));
  for (const name of names) for (const { field } of NETDEV_FIELDS) v[`nd:${name}:${field}`] = show(n.own.networkDevices?.[name]?.[field]);
  const tags = Object.entries((n.own.tags ?? {}) as Record<string, string>).map(([key, value]) => ({ id: ++seq, key, value }));
  return { v, devs, tags, clearPassword: false };
}

const idOf = (key: string) => `nf-${key.replace(/[^A-Za-z0-9_-]/g, "-")}`;
/** "node 'n1': network 'default': 'zz' is not a MAC …" → the part after the node's name. */
const bare = (line: string) => line.replace(/^(node|profile) '[^']*'(?::| is not valid:)? /, "");

export function NodePage(props: { name: string }) {
  useStore();
  const [node, setNode] = useState<NodeDetail | null>(null);
  const [error, setError] = useState("");
  const [events, setEvents] = useState<BootEvent[]>([]);
  const [dialog, setDialog] = useState<"power" | "delete" | null>(null);
  const deletion = useAction();
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
    powerStates.load().catch(() => {});
    return store.onEvent((e) => {
      if (e.node === props.name) setEvents((prev) => [e, ...prev].slice(0, 50));
    });
  }, [props.name]);
  if (error) return html`<p class="error" role="alert">${error}</p><p><a href="#/nodes">Back to nodes</a></p>`;
  if (!node) return html`<p class="muted">Loading…</p>`;
  const status = store.status.get(node.name) ?? node.status;
  const remove = () =>
    deletion.run(async () => {
      await del(`/nodes/${enc(node.name)}`);
      store.flash = { ok: true, text: `Deleted node ${node.name}.` };
      setDialog(null);
      location.hash = "#/nodes";
    });
  return html`
    <p><a href="#/nodes">← Nodes</a></p>
    <h2>${node.name} ${stateBadge(status)} <span class="muted" style="font-size:.9rem">${status.stage ?? ""} ${ago(status.lastSeen)}</span></h2>
    <div class="actions">
      <span>Power: <${PowerCell} node=${node.name} /></span>
      <button class="change" onClick=${() => setDialog("power")} aria-haspopup="dialog">Power…</button>
      <button class="danger" onClick=${() => {
        deletion.setError(null);
        setDialog("delete");
      }} aria-haspopup="dialog">Delete node…</button>
    </div>
    ${dialog === "power" && html`<${PowerDialog} nodes=${[node.name]} onClose=${() => setDialog(null)} />`}
    ${
      dialog === "delete" &&
      html`<${ConfirmDialog} title=${`Delete node ${node.name}?`}
      text=${`${node.name} will be removed with its settings and boot history. This cannot be undone.`} action=${`Delete ${node.name}`}
        error=${deletion.error ? (deletion.error as Error).message : ""} onConfirm=${remove} onClose=${() => setDialog(null)} />`
    }
    ${node.problems.length > 0 && html`<div class="card error" role="alert">${node.problems.map((p) => html`<div>${p}</div>`)}</div>`}
    <${EditForm} key=${node.name} node=${node} onSaved=${load} />
    <div class="card scroll">
      <h3>Every field and where it comes from</h3>
      <table>
        <thead><tr><th>Field</th><th>Value</th><th>Source</th></tr></thead>
        <tbody>
          ${node.provenance
            .filter((p) => p.source !== "" || p.value !== undefined)
            .map(
              (p) => html`<tr><td>${p.field}</td><td>${p.secret ? "••••" : show(p.value)}</td>
              <td class=${p.source === "--" ? "src-node" : ""}>${sourceLabel(p.source)}${
                p.source === "SUPERSEDED"
                  ? html` <span class="src-sup">
                ${p.contributors.filter((c) => c !== "--").join(", ")}</span>`
                  : ""
              }</td></tr>`,
            )}
        </tbody>
      </table>
    </div>
    <div class="card scroll">
      <h3>Boot events</h3>
      ${
        events.length === 0
          ? html`<p class="muted">No boot events yet.</p>`
          : html`<table aria-label="boot events"><thead><tr><th>When</th><th>Stage</th><th>Detail</th><th>From</th></tr></thead><tbody>
        ${events.map((e) => html`<tr><td title=${new Date(e.at).toISOString()}>${clock(e.at)}</td><td>${e.stage}</td><td>${e.detail ?? ""}</td><td>${e.address ?? ""}</td></tr>`)}
      </tbody></table>`
      }
    </div>
    <${OverlayPreview} name=${node.name} system=${node.conf.systemOverlay ?? []} runtime=${node.conf.runtimeOverlay ?? []} />`;
}

/**
 * The node's own fields, grouped as `drover node set` groups its flags. Each field shows the node's value
 * (empty: inherit), the inherited one as its placeholder, and where the value comes from. A refused save keeps
 * everything typed and puts each problem once, beside its field; problems about no field go above Save.
 */
function EditForm(props: { node: NodeDetail; onSaved: () => Promise<unknown> }) {
  const n = props.node;
  const [draft, setDraft] = useState<Draft>(() => initDraft(n));
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [saved, setSaved] = useState("");
  const [busy, setBusy] = useState(false);
  // A successful save reloads the node: start again from what is stored now.
  useEffect(() => setDraft(initDraft(n)), [n]);
  // After a refused save, the first field with a problem (in the form's order) gets the focus.
  const [focusFirst, setFocusFirst] = useState(0);
  useEffect(() => {
    if (focusFirst) document.querySelector<HTMLElement>('form[aria-label="edit node"] [aria-invalid="true"]')?.focus();
  }, [focusFirst]);
  const prov = new Map(n.provenance.map((p) => [p.field, p]));
  const setV = (key: string) => (e: Event) => {
    const value = (e.target as HTMLInputElement).value;
    setDraft((d) => ({ ...d, v: { ...d.v, [key]: value } }));
  };
  const devName = (d: Dev) => (d.isNew ? (draft.v[`nd:${d.id}:name`] ?? "").trim() : d.name);

  /** Where a value comes from, as `node list -a` says it. */
  const source = (path: string[]) => {
    const p = prov.get(displayName(path));
    if (!p || (p.source === "" && p.value === undefined)) return html`<span class="src">not set</span>`;
    if (p.source === "--") return html`<span class="src node">set on the node</span>`;
    // A list the node and its profiles each add to: "default,--".
    if (p.source.includes(",")) {
      const parts = p.source.split(",");
      return html`<span class=${parts.includes("--") ? "src node" : "src"}>from ${parts.map((x) => (x === "--" ? "node" : x)).join(" + ")}: ${show(p.value)}</span>`;
    }
    if (p.source === "SUPERSEDED") return html`<span class="src node">set on the node, overrides ${p.contributors.filter((c) => c !== "--").join(", ")}</span>`;
    return html`<span class="src">from ${p.source}: ${p.secret ? "(hidden)" : show(p.value)}</span>`;
  };
  const errorOf = (key: string) => (errors[key]?.length ? html`<span class="field-error" id=${`${idOf(key)}-err`}>${errors[key]!.join("; ")}</span>` : null);
  const described = (key: string) => [`${idOf(key)}-src`, errors[key]?.length ? `${idOf(key)}-err` : ""].filter(Boolean).join(" ");
  /** One field: its label, its control, where its value comes from, and its problem (once). */
  const fld = (key: string, label: string, control: unknown, note: unknown) =>
    html`<div class=${`fld${errors[key]?.length ? " invalid" : ""}`}><label for=${idOf(key)}>${label}</label>${control}<span id=${`${idOf(key)}-src`}>
      ${note}</span>${errorOf(key)}</div>`;
  const invalidAttrs = (key: string) => ({ id: idOf(key), "aria-invalid": errors[key]?.length ? "true" : undefined, "aria-describedby": described(key) });

  const input = (f: FieldSpec) => {
    const own = at(n.own, f.path);
    const inherited = own === undefined ? show(at(n.conf, f.path)) : "";
    const common = { ...invalidAttrs(f.key), name: f.key };
    let control;
    if (f.kind === "choice" || f.kind === "bool") {
      const opts =
        f.kind === "bool"
          ? [
              ["true", "accept"],
              ["false", "refuse"],
            ]
          : f.choices!.map((c) => [c, c]);
      const inh =
        f.kind === "bool" ? (at(n.conf, f.path) === true && own === undefined ? "accept" : "refuse") : inherited || (f.key === "ipmi.type" ? "ipmi" : "");
      control = html`<select ...${common} value=${draft.v[f.key]} onChange=${setV(f.key)}><option value="">inherit${inh ? ` (${inh})` : ""}</option>
        ${opts.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select>`;
    } else if (f.kind === "secret") {
      const set =
        own !== undefined
          ? "set on the node (hidden); type to replace"
          : at(n.conf, f.path) !== undefined
            ? "inherited (hidden); type to set the node's own"
            : "not set";
      control = html`<input ...${common} type="password" autocomplete="new-password" value=${draft.v[f.key]} onInput=${setV(f.key)} placeholder=${set} />`;
    } else {
      control = html`<input ...${common} value=${draft.v[f.key]} onInput=${setV(f.key)} placeholder=${inherited || f.placeholder || ""} />`;
    }
    return fld(f.key, f.label, control, html`${source(f.path)}${f.hint ? html`<span class="src"> · ${f.hint}</span>` : ""}`);
  };

  /** An API problem → the form key of its field, if the form shows that field. */
  const keyOf = (path: string | undefined): string | undefined => {
    if (!path) return undefined;
    const m = /^networkDevices\.([^.]+)(?:\.(\w+))?$/.exec(path);
    if (m) {
      const d = draft.devs.find((x) => !x.removed && devName(x) === m[1]);
      if (!d) return undefined;
      if (m[2] && NETDEV_FIELDS.some((f) => f.field === m[2])) return `nd:${d.id}:${m[2]}`;
      return d.isNew ? `nd:${d.id}:name` : undefined;
    }
    const o = /^overlay:(.+)$/.exec(path);
    if (o)
      return splitList(draft.v.runtimeOverlay ?? "")
        .map((x) => x.replace(/^~/, ""))
        .includes(o[1]!)
        ? "runtimeOverlay"
        : "systemOverlay";
    return SCALARS.find((f) => f.path.join(".") === path)?.key;
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    const set: Record<string, any> = {};
    const unset: string[][] = [];
    const local: Record<string, string[]> = {};
    const put = (path: string[], value: unknown) => {
      let o = set;
      for (const k of path.slice(0, -1)) o = o[k] ??= {};
      o[path.at(-1)!] = value;
    };
    for (const f of SCALARS) {
      const now = (draft.v[f.key] ?? "").trim();
      if (f.kind === "secret") {
        if (now) put(f.path, draft.v[f.key]);
        else if (draft.clearPassword) unset.push(f.path);
        continue;
      }
      if (now === show(at(n.own, f.path))) continue;
      if (now === "") unset.push(f.path);
      else put(f.path, f.kind === "list" ? splitList(now) : f.kind === "bool" ? now === "true" : now);
    }
    for (const d of draft.devs) {
      const name = devName(d);
      if (d.removed) {
        if (!d.isNew && n.own.networkDevices?.[d.name]) unset.push(["networkDevices", d.name]);
        continue;
      }
      const values = NETDEV_FIELDS.map(({ field }) => [field, (draft.v[`nd:${d.id}:${field}`] ?? "").trim()] as const);
      if (d.isNew) {
        if (!values.some(([, v]) => v)) continue; // an empty new device is no change
        if (!NETWORK_NAME.test(name))
          local[`nd:${d.id}:name`] = [name ? `'${name}' is not a network name: use letters, digits, '_', '.', '-'` : "give the network a name, e.g. ib0"];
        else if (draft.devs.some((x) => x !== d && !x.removed && devName(x) === name)) local[`nd:${d.id}:name`] = [`the node already has a network '${name}'`];
        for (const [field, v] of values) if (v) put(["networkDevices", name, field], v);
        continue;
      }
      for (const [field, v] of values) {
        if (v === show(n.own.networkDevices?.[d.name]?.[field])) continue;
        if (v === "") unset.push(["networkDevices", d.name, field]);
        else put(["networkDevices", d.name, field], v);
      }
    }
    const before = (n.own.tags ?? {}) as Record<string, string>;
    const keys = new Set<string>();
    for (const t of draft.tags) {
      const k = t.key.trim();
      if (!k && !t.value.trim()) continue;
      if (!k) {
        local[`tag:${t.id}`] = ["give the tag a name"];
        continue;
      }
      if (keys.has(k)) local[`tag:${t.id}`] = [`tag '${k}' is given twice`];
      keys.add(k);
      if (before[k] !== t.value) put(["tags", k], t.value);
    }
    for (const k of Object.keys(before)) if (!keys.has(k)) unset.push(["tags", k]);
    setSaved("");
    if (Object.keys(local).length) {
      setErrors(local);
      setGeneral([]);
      setFocusFirst((x) => x + 1);
      return;
    }
    if (!Object.keys(set).length && !unset.length) {
      setErrors({});
      setGeneral([]);
      setSaved("Nothing to save: no field was changed.");
      return;
    }
    setBusy(true);
    try {
      await patch(`/nodes/${enc(n.name)}`, { set, unset });
      setErrors({});
      setGeneral([]);
      setSaved("Saved.");
      await props.onSaved();
      store.loadNodes();
    } catch (err) {
      const lines = err instanceof ApiError ? [...new Set(err.details.length ? err.details : [err.message])] : [(err as Error).message];
      const placed: Record<string, string[]> = {};
      const rest: string[] = [];
      for (const line of lines) {
        const key = keyOf(problemField(line));
        // Beside its field the problem needs no "network 'default' ipaddr:" in front.
        if (key) (placed[key] ??= []).push(bare(line).replace(/^network '[^']*'(?: \w+)?: |^ipmi \w+: /, ""));
        else rest.push(bare(line));
      }
      setErrors(placed);
      setGeneral(rest);
      setFocusFirst((x) => x + 1);
    } finally {
      setBusy(false);
    }
  };

  const inheritedTags = Object.entries((n.conf.tags ?? {}) as Record<string, string>).filter(([k]) => n.own.tags?.[k] === undefined);
  const errCount = Object.values(errors).reduce((a, e) => a + e.length, 0);
  return html`<form class="card nf" onSubmit=${submit} aria-label="edit node" novalidate>
    <h3>The node's own fields <span class="muted">(empty = inherit from profiles; the inherited value is shown in grey)</span></h3>
    <fieldset><legend>General</legend><div class="row">${GENERAL.map(input)}</div></fieldset>
    <fieldset><legend>Kernel</legend><div class="row">${KERNEL.map(input)}</div></fieldset>
    <fieldset><legend>Overlays</legend><div class="row">${OVERLAYS.map(input)}</div></fieldset>
    <fieldset aria-label="tags"><legend>Tags</legend>
      ${draft.tags.map((t) => {
        return html`<div class="kv" data-tag=${t.key}>
          ${fld(
            `tag:${t.id}`,
            "Tag name",
            html`<input ...${invalidAttrs(`tag:${t.id}`)} value=${t.key} onInput=${(e: Event) =>
              setDraft((d) => ({ ...d, tags: d.tags.map((x) => (x.id === t.id ? { ...x, key: (e.target as HTMLInputElement).value } : x)) }))} />`,
            "",
          )}
          ${fld(
            `tagv:${t.id}`,
            "Value",
            html`<input ...${invalidAttrs(`tagv:${t.id}`)} value=${t.value} onInput=${(e: Event) =>
              setDraft((d) => ({ ...d, tags: d.tags.map((x) => (x.id === t.id ? { ...x, value: (e.target as HTMLInputElement).value } : x)) }))} />`,
            prov.get(`Tags[${t.key}]`)?.source === "SUPERSEDED"
              ? html`<span class="src node">overrides ${prov
                  .get(`Tags[${t.key}]`)!
                  .contributors.filter((c) => c !== "--")
                  .join(", ")}</span>`
              : prov.get(`Tags[${t.key}]`)?.source === "--"
                ? html`<span class="src node">set on the node</span>`
                : "",
          )}
          <button type="button" class="change" aria-label=${`remove tag ${t.key || "(new)"}`} onClick=${() =>
            setDraft((d) => ({ ...d, tags: d.tags.filter((x) => x.id !== t.id) }))}>Remove</button>
        </div>`;
      })}
      ${
        inheritedTags.length > 0 &&
        html`<p class="small muted">Inherited: ${inheritedTags.map(
          ([k, v], i) => html`${i ? ", " : ""}<code>
        ${k}=${v}</code> (from ${prov.get(`Tags[${k}]`)?.source ?? "a profile"})`,
        )}</p>`
      }
      <button type="button" class="change" onClick=${() => setDraft((d) => ({ ...d, tags: [...d.tags, { id: ++seq, key: "", value: "" }] }))}>Add tag</button>
    </fieldset>
    <fieldset aria-label="network devices"><legend>Network devices</legend>
      ${draft.devs
        .filter((d) => !d.removed)
        .map((d) => {
          const ownDev = !d.isNew && n.own.networkDevices?.[d.name] !== undefined;
          const inherited = !d.isNew && n.conf.networkDevices?.[d.name] !== undefined && !ownDev;
          const fromProfiles = !d.isNew && prov.get(displayName(["networkDevices", d.name, "ipaddr"]));
          return html`<fieldset data-netdev=${d.isNew ? "" : d.name} aria-label=${`network ${d.isNew ? "(new)" : d.name}`}><legend>
            ${d.isNew ? "New network" : d.name}${inherited ? html` <span class="src">(from profiles)</span>` : ""}</legend>
          <div class="row">
            ${
              d.isNew
                ? fld(
                    `nd:${d.id}:name`,
                    "Network name",
                    html`<input ...${invalidAttrs(`nd:${d.id}:name`)} value=${draft.v[`nd:${d.id}:name`] ?? ""}
              onInput=${setV(`nd:${d.id}:name`)} placeholder="e.g. ib0" />`,
                    html`<span class="src">the key in network devices (default, ib0 …)</span>`,
                  )
                : ""
            }
            ${NETDEV_FIELDS.map(({ field, label, placeholder }) => {
              const key = `nd:${d.id}:${field}`;
              const own = d.isNew ? undefined : n.own.networkDevices?.[d.name]?.[field];
              const inh = d.isNew || own !== undefined ? "" : show(n.conf.networkDevices?.[d.name]?.[field]);
              return fld(
                key,
                label,
                html`<input ...${invalidAttrs(key)} class=${field === "hwaddr" ? "mac" : ""} value=${draft.v[key] ?? ""} onInput=${setV(key)}
                  placeholder=${inh || placeholder || ""} />`,
                d.isNew ? "" : source(["networkDevices", d.name, field]),
              );
            })}
          </div>
          ${
            (ownDev || d.isNew) &&
            html`<button type="button" class="change" style="margin-top:.5rem" onClick=${() =>
              setDraft((x) => ({
                ...x,
                devs: x.devs.map((y) => (y.id === d.id ? { ...y, removed: true } : y)),
              }))}>${
              d.isNew
                ? "Remove this new network"
                : inherited || (fromProfiles && fromProfiles.source === "SUPERSEDED")
                  ? `Clear the node's values for ${d.name}`
                  : `Remove network ${d.name}`
            }</button>`
          }
        </fieldset>`;
        })}
      ${
        draft.devs.some((d) => d.removed && !d.isNew) &&
        html`<p class="small warn">Removed on save: ${draft.devs
          .filter((d) => d.removed && !d.isNew)
          .map((d) => d.name)
          .join(
            ", ",
          )} <button type="button" onClick=${() => setDraft((x) => ({ ...x, devs: x.devs.map((y) => ({ ...y, removed: y.isNew ? y.removed : false })) }))}>Undo</button></p>`
      }
      <button type="button" class="change" onClick=${() =>
        setDraft((d) => ({ ...d, devs: [...d.devs, { id: `new${++seq}`, name: "", isNew: true, removed: false }] }))}>Add network device</button>
    </fieldset>
    <fieldset><legend>BMC (power and console)</legend><div class="row">${BMC.map(input)}</div>
      ${
        n.own.ipmi?.password !== undefined &&
        html`<label class="check"><input type="checkbox" checked=${draft.clearPassword} onChange=${(e: Event) =>
          setDraft((d) => ({
            ...d,
            clearPassword: (e.target as HTMLInputElement).checked,
          }))} /> <span>Remove the node's BMC password (the profiles' applies again)</span></label>`
      }
    </fieldset>
    ${general.length > 0 && html`<div class="error" role="alert" id="nf-general">${general.map((g) => html`<div>${g}</div>`)}</div>`}
    ${
      errCount > 0 &&
      html`<p class="error" role="alert" id="nf-summary">Not saved: ${errCount} problem${
        errCount === 1 ? "" : "s"
      }, shown beside ${errCount === 1 ? "its field" : "their fields"}. Nothing was changed.</p>`
    }
    ${saved && html`<p class="ok" role="status">${saved}</p>`}
    <div class="row"><button class="primary" disabled=${busy}>Save</button></div>
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

/** The files the node gets from its overlays, rendered, for an admin; for a viewer, which overlays it uses. */
export function OverlayPreview(props: { name: string; system: string[]; runtime: string[] }) {
  const [kind, setKind] = useState<"system" | "runtime">("system");
  const [data, setData] = useState<{ files: PreviewFile[]; overlays: string[] } | null>(null);
  const [error, setError] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  const viewer = store.role !== "admin";
  useEffect(() => {
    setData(null);
    setError("");
    if (viewer) return;
    get<{ files: PreviewFile[]; overlays: string[] }>(`/nodes/${enc(props.name)}/overlay?kind=${kind}`).then(setData, (e) => setError((e as Error).message));
  }, [props.name, kind, viewer]);
  if (viewer)
    return html`<div class="card" aria-label="rendered overlays">
      <h3>Rendered overlays</h3>
      <p>System overlays: ${props.system.join(", ") || "none"}</p>
      <p>Runtime overlays: ${props.runtime.join(", ") || "none"}</p>
      <p class="muted" role="note" data-admin-only>${
        "Only admins see the rendered files and their contents: they are what the node is given, its SSH " +
        "host keys and any password a template prints included. The overlays' files, modes and sizes are on the "
      }<a href="#/overlays">Overlays</a> page.</p>
    </div>`;
  const file = data?.files.find((f) => f.path === open);
  return html`<div class="card">
    <h3>Rendered overlays</h3>
    <div class="row"><label>Kind<select value=${kind} onChange=${(e: Event) => setKind((e.target as HTMLSelectElement).value as "system" | "runtime")}>
      <option>system</option><option>runtime</option></select></label>
    ${data && html`<span class="muted">${data.overlays.join(", ")} — ${data.files.filter((f) => f.type === "file").length} files</span>`}</div>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${
      data &&
      html`<div class="grid2" style="margin-top:.5rem"><div class="tree scroll" style="max-height:28rem">${data.files
        .filter((f) => f.type !== "dir")
        .map((f) => html`<button aria-current=${open === f.path} onClick=${() => setOpen(f.path)}>${f.path}</button>`)}</div>
      <div>${
        file
          ? html`<p class="muted">${file.path} · ${(file.mode & 0o7777).toString(8)} · ${file.size} bytes</p><pre>
        ${file.text ?? (file.target ? `→ ${file.target}` : "(binary)")}</pre>`
          : html`<p class="muted">Choose a file.</p>`
      }</div></div>`
    }
  </div>`;
}
