import { useEffect, useState } from "preact/hooks";
import { useAction } from "../action";
import { del, enc, get, post } from "../api";
import { human } from "../../src/domain/size";
import { Err, html } from "./common";
import type { ImageSummary } from "../../src/services/images";

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
  const { error: err, setError: setErr, run } = useAction();
  const [job, setJob] = useState<Job | null>(null);
  const [detail, setDetail] = useState<{ name: string; ramNeeded?: number; kernels: { version: string }[]; warnings: string[] } | null>(null);
  const load = () => get<Image[]>("/images").then(setList, setErr);
  useEffect(() => void load(), []);
  useEffect(() => {
    if (!job || job.state !== "running") return;
    const t = setTimeout(
      () =>
        get<Job>(`/jobs/${job.id}`).then((j) => {
          setJob(j);
          if (j.state !== "running") load();
        }, setErr),
      500,
    );
    return () => clearTimeout(t);
  }, [job]);
  const start = (p: Promise<Job>) => run(async () => setJob(await p));
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
    ${
      job &&
      html`<div class="card" role="status" aria-live="polite"><strong>${job.kind} ${job.image}: ${job.state}</strong>
      ${
        job.step &&
        html`<div>${job.step.label}</div><progress max=${job.step.total || 1} value=${job.step.done}></progress><div class="muted">
        ${human(job.step.done)} of ${human(job.step.total)}</div>`
      }
      ${job.error && html`<p class="error">${job.error}</p>`}${job.notes.slice(-3).map((n) => html`<div class="muted">${n}</div>`)}</div>`
    }
    <${Err} e=${err} />
    <div class="card scroll"><table aria-label="images"><thead><tr><th>Name</th><th>Source</th><th>Built</th><th>Size</th><th>Unpacked</th>
      <th>Kernel</th><th>Nodes</th><th></th></tr></thead><tbody>
      ${list.length === 0 && html`<tr><td colspan="8" class="muted">No images yet.</td></tr>`}
      ${list.map(
        (i) => html`<tr><td><button onClick=${() => get<any>(`/images/${enc(i.name)}`).then(setDetail, setErr)}>${i.name}</button></td><td>${
          i.source ?? ""
        }</td><td>${i.built ? (i.stale ? "stale" : "yes") : "no"}</td><td>${human(i.size)}</td><td>${human(i.unpacked)}</td><td>${i.kernel ?? ""}</td><td>${i.nodes.length}</td>
        <td><button class="change" onClick=${() => start(post<Job>(`/images/${enc(i.name)}/build`))}>Build</button> <button class="danger" onClick=${() =>
          confirm(`Delete image ${i.name}?`) &&
          run(async () => {
            await del(`/images/${enc(i.name)}`);
            load();
          })}>Delete</button></td></tr>`,
      )}
    </tbody></table></div>
    ${
      detail &&
      html`<div class="card"><h3>${detail.name}</h3><p>RAM needed: ${human(detail.ramNeeded) || "build it first"}</p>
      <p>Kernels: ${detail.kernels.map((k) => k.version).join(", ") || "none found"}</p>${detail.warnings.map((w) => html`<p class="error">${w}</p>`)}</div>`
    }`;
}
