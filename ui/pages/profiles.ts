import { useEffect, useState } from "preact/hooks";
import { ApiError, ago, del, enc, get, patch, post, put } from "../api";
import { store, useStore } from "../store";
import { Err, html, human } from "./common";

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

