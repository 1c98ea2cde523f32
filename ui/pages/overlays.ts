import { store } from "../store";
import { Err, html } from "./common";
import { useOverlayEditor } from "./overlay-editor";

// ---- overlays ----

/** The Overlays page: what useOverlayEditor() holds, shown. */
export function OverlaysPage() {
  const ed = useOverlayEditor();
  const { list, sel, setSel, tree, file, setFile, text, edit, node, setNode, preview, lint, err, msg } = ed;
  const { saved, problem, nameErr, fileErr, shown, render, save, create, addFile, deleteOverlay, deleteFile, runPending, cancelPending } = ed;
  const viewer = store.role !== "admin";
  const entry = tree?.entries.find((e) => e.path === file);
  const builtinWhy = "Built-in overlays are part of drover and cannot be deleted; editing one of its files makes a site copy, which can be deleted again.";
  return html`<h2>Overlays</h2>
    ${
      lint.length > 0 &&
      html`<div class="card" aria-label="lint warnings"><h3>Lint</h3>${lint.map(
        (w) => html`<p class="error">${w.message}
      ${w.nodes.length ? ` (${w.nodes.slice(0, 5).join(", ")}${w.nodes.length > 5 ? " …" : ""})` : ""}</p>`,
      )}</div>`
    }
    <form class="card row" onSubmit=${create} aria-label="new overlay" novalidate>
      <label>New overlay<input id="new-overlay-name" name="name" required placeholder="e.g. site-tools" aria-invalid=${nameErr ? "true" : undefined}
        aria-describedby=${nameErr ? "new-overlay-error" : undefined} /></label>
      <button class="primary">Create overlay</button>
      ${nameErr && html`<span class="field-error" id="new-overlay-error" role="alert">${nameErr}</span>`}
    </form>
    ${msg && html`<p class="ok" role="status">${msg}</p>`}
    <${Err} e=${err} />
    <div class="grid2">
      <div class="card tree" aria-label="overlays">${list.map(
        (o) => html`<button aria-current=${o.name === sel} onClick=${() => setSel(o.name)}>
        ${o.name} <span class="muted">${o.origin}${o.shadows ? ", shadows built-in" : ""}${o.users ? ` · ${o.users} using` : ""}</span></button>`,
      )}</div>
      <div>${
        tree &&
        html`
        <div class="card">
          <div class="row">
            <h3 class="grow">${tree.name} <span class="muted">${tree.origin === "built-in" ? "built-in" : tree.shadows ? "site copy of a built-in" : "site"}
              ${tree.userCount ? ` · used by ${tree.userCount}` : ""}</span></h3>
            ${
              tree.origin === "built-in"
                ? html`<button class="danger" disabled aria-describedby="builtin-why">Delete overlay</button>`
                : html`<button class="danger" onClick=${() => deleteOverlay(tree)}>${tree.shadows ? "Revert to built-in" : "Delete overlay"}</button>`
            }
          </div>
          ${tree.origin === "built-in" && html`<p class="muted small" id="builtin-why">${builtinWhy}</p>`}
          ${
            shown &&
            html`<div class="confirm" role="alertdialog" aria-labelledby="confirm-title" aria-describedby="confirm-text">
            <strong id="confirm-title">${shown.title}</strong>
            <div id="confirm-text">${shown.lines.map((l) => html`<p>${l}</p>`)}</div>
            <div class="row"><button class="danger" onClick=${runPending}>${shown.action}</button><button id="confirm-cancel" onClick=${cancelPending}>Cancel</button></div>
          </div>`
          }
          <form class="row" onSubmit=${addFile} aria-label="new file" novalidate>
            <label class="grow">New file path<input name="path" required placeholder="etc/motd.eta (.eta: a template)"
              aria-invalid=${fileErr ? "true" : undefined} aria-describedby=${fileErr ? "new-file-error" : undefined} /></label>
            <label>Mode<input name="mode" size="5" placeholder="644" inputmode="numeric" /></label>
            <button class="change">Add file</button>
            ${fileErr && html`<span class="field-error" id="new-file-error" role="alert">${fileErr}</span>`}
          </form>
          ${tree.origin === "built-in" && html`<p class="muted small">Adding or saving a file copies this built-in to the site first.</p>`}
        </div>
        <div class="grid2"><div class="card tree" aria-label="files">${tree.entries
          .filter((e) => e.type === "file")
          .map(
            (e) => html`<button
          aria-current=${e.path === file} onClick=${() => setFile(e.path)}>${e.path}</button>`,
          )}
          ${tree.entries.every((e) => e.type !== "file") && html`<p class="muted">No files yet.</p>`}</div>
        <div>${
          file && viewer
            ? html`<div class="card" aria-label="file">
          <p><strong>${sel}/${file}</strong>${
            entry ? html` <span class="muted">· mode ${(entry.mode ?? 0).toString(8).padStart(3, "0")} · ${entry.size ?? 0} bytes</span>` : ""
          }</p>
          <p class="muted" role="note" data-admin-only>Only admins see file contents and rendered previews: overlays hold what nodes are given, keys and passwords included.</p>
        </div>`
            : file
              ? html`<div class="card"><label class=${problem && !saved ? "invalid" : ""}>${sel}/${file}<textarea id="overlay-editor" aria-label="file content"
                value=${text} spellcheck=${false} aria-invalid=${problem && !saved ? "true" : undefined} aria-describedby=${
                  problem ? "editor-problem" : undefined
                } onInput=${(e: Event) => edit((e.target as HTMLTextAreaElement).value)}></textarea></label>
          ${
            problem &&
            html`<div class="field-error editor-problem" id="editor-problem" role="alert" data-problem=${problem.p.kind}>
            <strong>${saved ? "Saved with a problem" : "Not saved"}: ${problem.p.kind === "syntax" ? "syntax error" : `does not render for node ${problem.p.node}`}
              ${problem.p.line ? ` at line ${problem.p.line}${problem.p.column ? `, column ${problem.p.column}` : ""}` : ""}</strong>
            <div>${problem.p.message}</div>
            ${
              !saved &&
              (problem.text === text
                ? html`<div class="row"><button class="change" onClick=${() => save(true)}>Save anyway</button><span
                  class="muted small">nodes using ${sel} cannot build it until it is fixed</span></div>`
                : html`<div class="muted small">You changed the text since; Save checks it again.</div>`)
            }
          </div>`
          }
          <div class="row" style="margin-top:.5rem"><button class="primary" onClick=${() => save()}>Save</button>${
            saved &&
            html`<span class=${saved.cls}
            role="status">${saved.text}</span>`
          }
          <label>Preview for node<input list="node-names" value=${node} onInput=${(e: Event) => setNode((e.target as HTMLInputElement).value)}
            /></label><datalist id="node-names">${store.nodes.slice(0, 500).map((n) => html`<option value=${n.name} />`)}</datalist>
          <button onClick=${render} disabled=${!node}>Render</button>
          ${tree.origin === "site" && html`<button class="danger" onClick=${() => deleteFile(tree, file)}>Delete file</button>`}</div>
          ${preview && html`<div aria-label="render preview">${preview.map((p) => html`<p class="muted">${p.path}</p><pre>${p.data ?? ""}</pre>`)}</div>`}</div>`
              : html`<p class="muted">Choose a file.</p>`
        }</div></div>`
      }</div>
    </div>`;
}
