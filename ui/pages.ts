import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { ApiError, ago, del, enc, get, patch, post, put } from "./api";
import type { ImageSummary } from "../src/services/images";
import type { UnknownMac } from "../src/services/ports";
import { store, useStore } from "./store";

const html = htm.bind(h);
const human = (n?: number) => {
  if (n === undefined) return "";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) (n /= 1024), i++;
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
};
const Err = (p: { e: unknown }) => (p.e ? html`<div class="error" role="alert"><div>${(p.e as Error).message}</div>${((p.e as ApiError).details ?? []).map((d) => html`<div>${d}</div>`)}</div>` : null);

// ---- profiles ----

interface Profile {
  name: string;
  own: Record<string, any>;
  provenance: { field: string; source: string; value: unknown }[];
}

export function ProfilesPage() {
  const [list, setList] = useState<Profile[]>([]);
  const [sel, setSel] = useState<string | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const load = () => get<Profile[]>("/profiles").then(setList, setErr);
  useEffect(() => void load(), []);
  const p = list.find((x) => x.name === sel);
  const add = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    try {
      const set: Record<string, unknown> = {};
      if (f.get("comment")) set.comment = String(f.get("comment"));
      if (f.get("image")) set.image = String(f.get("image"));
      if (f.get("kargs")) set.kernel = { args: String(f.get("kargs")).split(/\s+/).filter(Boolean) };
      await post("/profiles", { name: String(f.get("name")), set, allowMissingImage: true });
      setErr(null);
      (e.target as HTMLFormElement).reset();
      load();
    } catch (x) {
      setErr(x);
    }
  };
  const save = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    try {
      await patch(`/profiles/${enc(sel!)}`, { set: { comment: String(f.get("comment") ?? ""), ...(f.get("image") ? { image: String(f.get("image")) } : {}), kernel: { args: String(f.get("kargs") ?? "").split(/\s+/).filter(Boolean) } }, allowMissingImage: true });
      setErr(null);
      load();
    } catch (x) {
      setErr(x);
    }
  };
  return html`<h2>Profiles</h2>
    <form class="card row" onSubmit=${add} aria-label="add profile"><label>Name<input name="name" required /></label><label>Comment<input name="comment" /></label><label>Image<input name="image" /></label><label>Kernel args<input name="kargs" /></label><button class="primary">Add profile</button></form>
    <${Err} e=${err} />
    <div class="grid2">
      <div class="card tree">${list.map((x) => html`<button aria-current=${x.name === sel} onClick=${() => setSel(x.name)}>${x.name}</button>`)}</div>
      <div>${p ? html`<form class="card row" onSubmit=${save} key=${p.name} aria-label="edit profile">
          <label>Comment<input name="comment" value=${p.own.comment ?? ""} /></label><label>Image<input name="image" value=${p.own.image ?? ""} /></label>
          <label>Kernel args<input name="kargs" value=${(p.own.kernel?.args ?? []).join(" ")} /></label><button class="primary">Save</button>
          <button type="button" class="danger" onClick=${async () => { try { await del(`/profiles/${enc(p.name)}`); setSel(null); load(); } catch (x) { setErr(x); } }}>Delete</button></form>
        <div class="card scroll"><table><thead><tr><th>Field</th><th>Value</th><th>Source</th></tr></thead><tbody>
        ${p.provenance.filter((r) => r.source).map((r) => html`<tr><td>${r.field}</td><td>${Array.isArray(r.value) ? r.value.join(" ") : typeof r.value === "object" ? JSON.stringify(r.value) : String(r.value ?? "")}</td><td>${r.source === "--" ? "profile" : r.source}</td></tr>`)}
        </tbody></table></div>` : html`<p class="muted">Choose a profile.</p>`}</div>
    </div>`;
}

// ---- images ----

type Image = ImageSummary;
interface Job {
  id: string;
  kind: string;
  image: string;
  state: "running" | "done" | "failed";
  step?: { label: string; total: number; done: number };
  notes: string[];
  error?: string;
}

export function ImagesPage() {
  const [list, setList] = useState<Image[]>([]);
  const [err, setErr] = useState<unknown>(null);
  const [job, setJob] = useState<Job | null>(null);
  const [detail, setDetail] = useState<{ name: string; ramNeeded?: number; kernels: { version: string }[]; warnings: string[] } | null>(null);
  const load = () => get<Image[]>("/images").then(setList, setErr);
  useEffect(() => void load(), []);
  useEffect(() => {
    if (!job || job.state !== "running") return;
    const t = setTimeout(() => get<Job>(`/jobs/${job.id}`).then((j) => { setJob(j); if (j.state !== "running") load(); }, setErr), 500);
    return () => clearTimeout(t);
  }, [job]);
  const start = async (p: Promise<Job>) => {
    try {
      setErr(null);
      setJob(await p);
    } catch (x) {
      setErr(x);
    }
  };
  const importIt = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    start(post<Job>("/images", { source: String(f.get("source")), name: String(f.get("name")), build: f.get("build") === "on" }));
  };
  return html`<h2>Images</h2>
    <form class="card row" onSubmit=${importIt} aria-label="import image">
      <label style="flex:2">Source<input name="source" required placeholder="docker://ghcr.io/warewulf/warewulf-rockylinux:9" /></label>
      <label>Name<input name="name" required placeholder="rocky-9" /></label>
      <label style="flex-direction:row;align-items:center"><input type="checkbox" name="build" checked /> build</label>
      <button class="primary" disabled=${job?.state === "running"}>Import</button>
    </form>
    ${job && html`<div class="card" role="status" aria-live="polite"><strong>${job.kind} ${job.image}: ${job.state}</strong>
      ${job.step && html`<div>${job.step.label}</div><progress max=${job.step.total || 1} value=${job.step.done}></progress><div class="muted">${human(job.step.done)} of ${human(job.step.total)}</div>`}
      ${job.error && html`<p class="error">${job.error}</p>`}${job.notes.slice(-3).map((n) => html`<div class="muted">${n}</div>`)}</div>`}
    <${Err} e=${err} />
    <div class="card scroll"><table aria-label="images"><thead><tr><th>Name</th><th>Source</th><th>Built</th><th>Size</th><th>Unpacked</th><th>Kernel</th><th>Nodes</th><th></th></tr></thead><tbody>
      ${list.length === 0 && html`<tr><td colspan="8" class="muted">No images yet.</td></tr>`}
      ${list.map((i) => html`<tr><td><button onClick=${() => get<any>(`/images/${enc(i.name)}`).then(setDetail, setErr)}>${i.name}</button></td><td>${i.source ?? ""}</td><td>${i.built ? (i.stale ? "stale" : "yes") : "no"}</td><td>${human(i.size)}</td><td>${human(i.unpacked)}</td><td>${i.kernel ?? ""}</td><td>${i.nodes.length}</td>
        <td><button class="change" onClick=${() => start(post<Job>(`/images/${enc(i.name)}/build`))}>Build</button> <button class="danger" onClick=${async () => { if (!confirm(`Delete image ${i.name}?`)) return; try { await del(`/images/${enc(i.name)}`); load(); } catch (x) { setErr(x); } }}>Delete</button></td></tr>`)}
    </tbody></table></div>
    ${detail && html`<div class="card"><h3>${detail.name}</h3><p>RAM needed: ${human(detail.ramNeeded) || "build it first"}</p><p>Kernels: ${detail.kernels.map((k) => k.version).join(", ") || "none found"}</p>${detail.warnings.map((w) => html`<p class="error">${w}</p>`)}</div>`}`;
}

// ---- overlays ----

interface Entry {
  path: string;
  type: string;
  mode?: number;
  size?: number;
}
interface OverlayRow {
  name: string;
  origin: "built-in" | "site";
  shadows: boolean;
  users: number;
}
interface OverlayTree {
  name: string;
  origin: "built-in" | "site";
  shadows: boolean;
  users: string[];
  userCount: number;
  entries: Entry[];
}
/** The same rule as the server's (src/overlay/repo.ts OVERLAY_NAME), for an answer before the request. */
const OVERLAY_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

/**
 * A deletion waiting for the admin to confirm it: what it says, and what runs on "Delete". It belongs to the
 * overlay and file that were open when it was asked for (`at`) and is shown only while they still are: choosing
 * another one hides it. (It is not cleared by an effect: effects run after paint, so a quick click on "Delete"
 * right after a file opened would have its confirmation wiped by the opening's effect.)
 */
interface Pending {
  at: string;
  title: string;
  lines: string[];
  action: string;
  run: () => Promise<unknown>;
  done: string;
}

export function OverlaysPage() {
  const [list, setList] = useState<OverlayRow[]>([]);
  const [sel, setSel] = useState<string | null>(null);
  const [tree, setTree] = useState<OverlayTree | null>(null);
  const [file, setFile] = useState<string | null>(null);
  const [text, setText] = useState("");
  const [node, setNode] = useState("");
  const [preview, setPreview] = useState<{ path: string; data?: string; type: string }[] | null>(null);
  const [lint, setLint] = useState<{ message: string; nodes: string[] }[]>([]);
  const [err, setErr] = useState<unknown>(null);
  const [saved, setSaved] = useState("");
  const [msg, setMsg] = useState("");
  const [nameErr, setNameErr] = useState("");
  const [fileErr, setFileErr] = useState("");
  const [pending, setPending] = useState<Pending | null>(null);
  const loadList = () => get<OverlayRow[]>("/overlays").then(setList, setErr);
  const loadTree = (name: string) => get<OverlayTree>(`/overlays/${enc(name)}`).then(setTree, (x) => { setTree(null); setErr(x); });
  const loadLint = () => get<typeof lint>("/lint/overlays").then(setLint, () => {});
  useEffect(() => {
    loadList();
    loadLint();
    if (!store.nodes.length) store.loadNodes().catch(() => {});
  }, []);
  useEffect(() => {
    setTree(null);
    setFileErr("");
    if (sel) loadTree(sel);
    setFile(null);
  }, [sel]);
  useEffect(() => {
    setPreview(null);
    if (sel && file) get<{ text: string }>(`/overlays/${enc(sel)}/file?path=${enc(file)}`).then((f) => setText(f.text), setErr);
  }, [file]);
  const render = async () => {
    try {
      setErr(null);
      setPreview(await get(`/overlays/${enc(sel!)}/render?path=${enc(file!)}&node=${enc(node)}`));
    } catch (x) {
      setPreview(null);
      setErr(x);
    }
  };
  const save = async () => {
    try {
      await put(`/overlays/${enc(sel!)}/file`, { path: file, text });
      setErr(null);
      setSaved(`saved ${file}`);
      // Saving a built-in's file makes a site copy: the list and the tree change with it.
      loadList();
      loadTree(sel!);
      loadLint();
      if (node) await render();
    } catch (x) {
      setErr(x);
    }
  };
  const create = async (e: Event) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const name = String(new FormData(form).get("name") ?? "").trim();
    setMsg("");
    if (!OVERLAY_NAME.test(name)) return setNameErr("Use letters, digits, '.', '_', '-' or '+', starting with a letter or digit (at most 128).");
    try {
      await post("/overlays", { name });
      setNameErr("");
      setErr(null);
      form.reset();
      setMsg(`Created overlay ${name}.`);
      await loadList();
      setSel(name);
    } catch (x) {
      setNameErr((x as Error).message);
    }
  };
  const addFile = async (e: Event) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const f = new FormData(form);
    const path = String(f.get("path") ?? "").trim().replace(/^\/+/, "");
    const mode = String(f.get("mode") ?? "").trim() || "644";
    setMsg("");
    if (!path) return setFileErr("Give the file's path inside the overlay, e.g. etc/motd.eta.");
    if (!/^[0-7]{3,4}$/.test(mode)) return setFileErr("The mode is octal, like 644 or 0755.");
    if (tree?.entries.some((x) => x.path === path)) return setFileErr(`${path} already exists in ${sel}; choose it in the tree to edit it.`);
    try {
      const r = await put<{ written: string }>(`/overlays/${enc(sel!)}/file`, { path, text: "", mode: Number.parseInt(mode, 8) });
      setFileErr("");
      setErr(null);
      form.reset();
      setMsg(`Created ${r.written} in ${sel}.`);
      await Promise.all([loadTree(sel!), loadList()]);
      setFile(r.written);
    } catch (x) {
      setFileErr((x as Error).message);
    }
  };
  /** Asks first (in the page, named nodes and all), then deletes. */
  const openAt = `${sel ?? ""}\0${file ?? ""}`;
  const shown = pending?.at === openAt ? pending : null;
  const confirmDelete = (p: Omit<Pending, "at">) => {
    setMsg("");
    setPending({ ...p, at: openAt });
    setTimeout(() => document.getElementById("confirm-cancel")?.focus(), 0);
  };
  const runPending = async () => {
    const pending = shown;
    if (!pending) return;
    try {
      await pending.run();
      setErr(null);
      setMsg(pending.done);
      setPending(null);
      loadLint();
    } catch (x) {
      setErr(x);
      setPending(null);
    }
  };
  const deleteOverlay = async (shown: OverlayTree) => {
    // Who uses it now, not when the tree was loaded: the confirmation names them.
    let t: OverlayTree;
    try {
      t = await get<OverlayTree>(`/overlays/${enc(shown.name)}`);
      setTree(t);
      loadList();
    } catch (x) {
      return setErr(x);
    }
    const revert = t.shadows;
    const users = t.userCount ? `${t.users.join(", ")}${t.userCount > t.users.length ? ` and ${t.userCount - t.users.length} more` : ""}` : "";
    confirmDelete({
      title: revert ? `Revert ${t.name} to the built-in?` : `Delete overlay ${t.name}?`,
      lines: revert
        ? [`This deletes the site copy of ${t.name} with every change made to it; ${t.userCount ? `${users} then get` : "nodes listing it then get"} the built-in ${t.name} again.`]
        : t.userCount
          ? [`Still used by ${users}.`, `Their next overlay build fails until ${t.name} is removed from their overlay lists.`]
          : [`No node or profile lists it. Its files are deleted.`],
      action: revert ? "Revert to built-in" : t.userCount ? "Delete anyway" : "Delete",
      // The API refuses to delete an overlay in use unless forced; the admin has just seen who uses it.
      run: async () => {
        await del(`/overlays/${enc(t.name)}${!revert && t.userCount ? "?force=true" : ""}`);
        await loadList();
        if (revert) {
          setFile(null);
          await loadTree(t.name);
        } else setSel(null);
      },
      done: revert ? `${t.name} is the built-in again.` : `Deleted overlay ${t.name}.`,
    });
  };
  const deleteFile = (t: OverlayTree, path: string) =>
    confirmDelete({
      title: `Delete ${path} from ${t.name}?`,
      lines: [t.shadows ? `The built-in ${t.name} stays as it is; only this site copy loses the file.` : `The file is gone from every node's next overlay build.`],
      action: "Delete file",
      run: async () => {
        await del(`/overlays/${enc(t.name)}?path=${enc(path)}`);
        setFile(null);
        await loadTree(t.name);
      },
      done: `Deleted ${path} from ${t.name}.`,
    });
  const builtinWhy = "Built-in overlays are part of drover and cannot be deleted; editing one of its files makes a site copy, which can be deleted again.";
  return html`<h2>Overlays</h2>
    ${lint.length > 0 && html`<div class="card" aria-label="lint warnings"><h3>Lint</h3>${lint.map((w) => html`<p class="error">${w.message}${w.nodes.length ? ` (${w.nodes.slice(0, 5).join(", ")}${w.nodes.length > 5 ? " …" : ""})` : ""}</p>`)}</div>`}
    <form class="card row" onSubmit=${create} aria-label="new overlay" novalidate>
      <label>New overlay<input id="new-overlay-name" name="name" required placeholder="e.g. site-tools" aria-invalid=${nameErr ? "true" : undefined} aria-describedby=${nameErr ? "new-overlay-error" : undefined} /></label>
      <button class="primary">Create overlay</button>
      ${nameErr && html`<span class="field-error" id="new-overlay-error" role="alert">${nameErr}</span>`}
    </form>
    ${msg && html`<p class="ok" role="status">${msg}</p>`}
    <${Err} e=${err} />
    <div class="grid2">
      <div class="card tree" aria-label="overlays">${list.map((o) => html`<button aria-current=${o.name === sel} onClick=${() => setSel(o.name)}>${o.name} <span class="muted">${o.origin}${o.shadows ? ", shadows built-in" : ""}${o.users ? ` · ${o.users} using` : ""}</span></button>`)}</div>
      <div>${tree && html`
        <div class="card">
          <div class="row">
            <h3 class="grow">${tree.name} <span class="muted">${tree.origin === "built-in" ? "built-in" : tree.shadows ? "site copy of a built-in" : "site"}${tree.userCount ? ` · used by ${tree.userCount}` : ""}</span></h3>
            ${tree.origin === "built-in"
              ? html`<button class="danger" disabled aria-describedby="builtin-why">Delete overlay</button>`
              : html`<button class="danger" onClick=${() => deleteOverlay(tree)}>${tree.shadows ? "Revert to built-in" : "Delete overlay"}</button>`}
          </div>
          ${tree.origin === "built-in" && html`<p class="muted small" id="builtin-why">${builtinWhy}</p>`}
          ${shown && html`<div class="confirm" role="alertdialog" aria-labelledby="confirm-title" aria-describedby="confirm-text">
            <strong id="confirm-title">${shown.title}</strong>
            <div id="confirm-text">${shown.lines.map((l) => html`<p>${l}</p>`)}</div>
            <div class="row"><button class="danger" onClick=${runPending}>${shown.action}</button><button id="confirm-cancel" onClick=${() => setPending(null)}>Cancel</button></div>
          </div>`}
          <form class="row" onSubmit=${addFile} aria-label="new file" novalidate>
            <label class="grow">New file path<input name="path" required placeholder="etc/motd.eta (.eta: a template)" aria-invalid=${fileErr ? "true" : undefined} aria-describedby=${fileErr ? "new-file-error" : undefined} /></label>
            <label>Mode<input name="mode" size="5" placeholder="644" inputmode="numeric" /></label>
            <button class="change">Add file</button>
            ${fileErr && html`<span class="field-error" id="new-file-error" role="alert">${fileErr}</span>`}
          </form>
          ${tree.origin === "built-in" && html`<p class="muted small">Adding or saving a file copies this built-in to the site first.</p>`}
        </div>
        <div class="grid2"><div class="card tree" aria-label="files">${tree.entries.filter((e) => e.type === "file").map((e) => html`<button aria-current=${e.path === file} onClick=${() => setFile(e.path)}>${e.path}</button>`)}
          ${tree.entries.every((e) => e.type !== "file") && html`<p class="muted">No files yet.</p>`}</div>
        <div>${file ? html`<div class="card"><label>${sel}/${file}<textarea aria-label="file content" value=${text} onInput=${(e: Event) => { setText((e.target as HTMLTextAreaElement).value); setSaved(""); }}></textarea></label>
          <div class="row" style="margin-top:.5rem"><button class="primary" onClick=${save}>Save</button>${saved && html`<span class="ok" role="status">${saved}</span>`}
          <label>Preview for node<input list="node-names" value=${node} onInput=${(e: Event) => setNode((e.target as HTMLInputElement).value)} /></label><datalist id="node-names">${store.nodes.slice(0, 500).map((n) => html`<option value=${n.name} />`)}</datalist>
          <button onClick=${render} disabled=${!node}>Render</button>
          ${tree.origin === "site" && html`<button class="danger" onClick=${() => deleteFile(tree, file)}>Delete file</button>`}</div>
          ${preview && html`<div aria-label="render preview">${preview.map((p) => html`<p class="muted">${p.path}</p><pre>${p.data ?? ""}</pre>`)}</div>`}</div>` : html`<p class="muted">Choose a file.</p>`}</div></div>`}</div>
    </div>`;
}

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
