import { useEffect, useState } from "preact/hooks";
import { ApiError, ago, del, enc, get, patch, post, put } from "../api";
import { store, useStore } from "../store";
import { Err, html } from "./common";
import { OVERLAY_NAME } from "../../src/domain/names";
import type { TemplateProblem } from "../../src/services/overlays";

// ---- overlays ----

/** PUT /overlays/NAME/file's answer (src/http/api/overlays.ts). */
interface SaveAnswer {
  written: string;
  checked: "none" | "syntax" | "render";
  node?: string;
  problem?: TemplateProblem;
}

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
  const [saved, setSaved] = useState<{ cls: "ok" | "warn"; text: string } | null>(null);
  /** The check's problem that kept the last Save from writing, and the text it was found in. */
  const [problem, setProblem] = useState<{ p: TemplateProblem; text: string; error: string } | null>(null);
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
    setProblem(null);
    setSaved(null);
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
  /**
   * Save: the server checks a template first (syntax, then a render for the preview node, or for a node using
   * the overlay) and writes nothing when that fails; the problem is shown beside the editor, the caret put on
   * its line, and "Save anyway" offered for exactly that text.
   */
  const save = async (force = false) => {
    const n = node.trim();
    const known = n !== "" && store.nodes.some((x) => x.name === n);
    const sent = text;
    try {
      const r = await put<SaveAnswer>(`/overlays/${enc(sel!)}/file`, { path: file, text: sent, ...(known ? { node: n } : {}), ...(force ? { force: true } : {}) });
      setErr(null);
      setProblem(null);
      setSaved(
        r.problem
          ? { cls: "warn", text: `Saved ${file} anyway, with the problem above unsolved: nodes ${r.problem.node ? `like ${r.problem.node} ` : ""}cannot build it until it is fixed.` }
          : { cls: "ok", text: `Saved ${file}${r.checked === "render" ? ` · rendered for ${r.node} without errors` : r.checked === "syntax" ? " · syntax checked (no node uses this overlay yet; choose one under Preview to render it)" : ""}` },
      );
      if (r.problem) setProblem({ p: r.problem, text: sent, error: "" });
      // Saving a built-in's file makes a site copy: the list and the tree change with it.
      loadList();
      loadTree(sel!);
      loadLint();
      if (known) await render();
    } catch (x) {
      setSaved(null);
      const p = x instanceof ApiError && x.status === 422 ? (x.body as { problem?: TemplateProblem } | undefined)?.problem : undefined;
      if (!p) return setErr(x);
      setErr(null);
      setProblem({ p, text: sent, error: (x as Error).message });
      placeCaret(p);
    }
  };
  /** Puts the editor's caret on the problem's line and column. */
  const placeCaret = (p: TemplateProblem) => {
    const ta = document.getElementById("overlay-editor") as HTMLTextAreaElement | null;
    if (!ta || !p.line) return;
    const lines = ta.value.split("\n");
    let at = 0;
    for (let i = 0; i < p.line - 1 && i < lines.length; i++) at += lines[i]!.length + 1;
    at += Math.max(0, (p.column ?? 1) - 1);
    ta.focus();
    ta.setSelectionRange(at, at);
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
        <div>${file ? html`<div class="card"><label class=${problem && !saved ? "invalid" : ""}>${sel}/${file}<textarea id="overlay-editor" aria-label="file content" value=${text} spellcheck=${false} aria-invalid=${problem && !saved ? "true" : undefined} aria-describedby=${problem ? "editor-problem" : undefined} onInput=${(e: Event) => { setText((e.target as HTMLTextAreaElement).value); setSaved(null); }}></textarea></label>
          ${problem && html`<div class="field-error editor-problem" id="editor-problem" role="alert" data-problem=${problem.p.kind}>
            <strong>${saved ? "Saved with a problem" : "Not saved"}: ${problem.p.kind === "syntax" ? "syntax error" : `does not render for node ${problem.p.node}`}${problem.p.line ? ` at line ${problem.p.line}${problem.p.column ? `, column ${problem.p.column}` : ""}` : ""}</strong>
            <div>${problem.p.message}</div>
            ${!saved && (problem.text === text
              ? html`<div class="row"><button class="change" onClick=${() => save(true)}>Save anyway</button><span class="muted small">nodes using ${sel} cannot build it until it is fixed</span></div>`
              : html`<div class="muted small">You changed the text since; Save checks it again.</div>`)}
          </div>`}
          <div class="row" style="margin-top:.5rem"><button class="primary" onClick=${() => save()}>Save</button>${saved && html`<span class=${saved.cls} role="status">${saved.text}</span>`}
          <label>Preview for node<input list="node-names" value=${node} onInput=${(e: Event) => setNode((e.target as HTMLInputElement).value)} /></label><datalist id="node-names">${store.nodes.slice(0, 500).map((n) => html`<option value=${n.name} />`)}</datalist>
          <button onClick=${render} disabled=${!node}>Render</button>
          ${tree.origin === "site" && html`<button class="danger" onClick=${() => deleteFile(tree, file)}>Delete file</button>`}</div>
          ${preview && html`<div aria-label="render preview">${preview.map((p) => html`<p class="muted">${p.path}</p><pre>${p.data ?? ""}</pre>`)}</div>`}</div>` : html`<p class="muted">Choose a file.</p>`}</div></div>`}</div>
    </div>`;
}

