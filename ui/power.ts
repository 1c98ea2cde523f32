import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import type { PowerJob, PowerState } from "../src/http/api/power";
import { ApiError, ago, get, post } from "./api";
import { Dialog, someNames } from "./dialog";
import { store } from "./store";

const html = htm.bind(h);
export const ACTIONS = ["status", "on", "off", "cycle", "reset", "soft"] as const;
export type Action = (typeof ACTIONS)[number];
const ACTION_TEXT: Record<Action, string> = {
  status: "status: ask each BMC whether the node is on",
  on: "on",
  off: "off: at once, like pulling the plug",
  cycle: "cycle: off and on again",
  reset: "reset: hard reset, without powering off",
  soft: "soft: ask the OS to shut down",
};

/**
 * What BMCs last said about power (GET /power/states), kept with when they said it. The page never shows a
 * state as current: the age goes with it, and an action sent after the reading replaces the state with that.
 */
class PowerStates {
  states: Record<string, PowerState> = {};
  loaded = false;
  async load() {
    const r = await get<{ now: number; states: Record<string, PowerState> }>("/power/states");
    this.states = r.states;
    this.loaded = true;
    store.changed();
  }
}
export const powerStates = new PowerStates();

/** The power column's text and its longer explanation (the tooltip). */
export function powerText(node: string, now: number): { text: string; title: string; cls: string; state?: string } {
  const s = powerStates.states[node];
  if (!s) return { text: "—", title: "not asked since drover serve started; Power → status asks the BMC", cls: "muted" };
  const read = s.at ? `${s.ok ? `status ${s.state ?? "unknown"}` : "status failed"} ${ago(s.at, now)}` : "";
  if (s.lastAction && (!s.at || s.lastAction.at >= s.at)) {
    return {
      text: `${s.lastAction.action} ${s.lastAction.ok ? "sent" : "failed"} ${ago(s.lastAction.at, now)}`,
      title: `state unknown since then${read ? `; before: ${read}` : ""}`,
      cls: s.lastAction.ok ? "muted" : "warn",
    };
  }
  if (!s.ok) return { text: `unknown · ${ago(s.at, now)}`, title: s.message ?? "status failed", cls: "warn" };
  return {
    text: `${s.state} · ${ago(s.at, now)}`,
    title: `the BMC said ${s.state} ${ago(s.at, now)}: ${s.message ?? ""}`,
    cls: s.state === "on" ? "pw-on" : "pw-off",
    state: s.state,
  };
}

export function PowerCell(props: { node: string }) {
  const p = powerText(props.node, store.now());
  return html`<span class=${p.cls} title=${p.title} data-power=${p.state ?? ""}>${p.text}</span>`;
}

/**
 * The power dialog: names the nodes, the action, PXE next boot (with cycle) and the stagger; while the job runs,
 * "n of N done" with a bar; then one row per node (result, message), failures first in the summary.
 */
export function PowerDialog(props: { nodes: string[]; onClose: () => void; action?: Action }) {
  const [action, setAction] = useState<Action>(props.action ?? "status");
  const [pxe, setPxe] = useState(false);
  const [stagger, setStagger] = useState("0");
  const [job, setJob] = useState<PowerJob | null>(null);
  const [error, setError] = useState<{ field?: string; message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout>>();
  useEffect(() => () => clearTimeout(timer.current), []);
  // The form is gone once the job starts: focus goes to Close (Enter or Escape leaves), not to the page behind.
  useEffect(() => {
    if (job) document.getElementById("power-close")?.focus();
  }, [!!job]);
  const follow = (id: string) => {
    timer.current = setTimeout(async () => {
      try {
        // While it runs only the counts (cheap for thousands of nodes); the results once it is done.
        const light = await get<PowerJob>(`/power-jobs/${id}?results=false`);
        if (light.state === "running") {
          setJob((j) => (j ? { ...j, done: light.done, failed: light.failed } : j));
          return follow(id);
        }
        setJob(await get<PowerJob>(`/power-jobs/${id}`));
        powerStates.load().catch(() => {});
      } catch (e) {
        setError({ message: (e as Error).message });
      }
    }, 300);
  };
  const start = async (e: Event) => {
    e.preventDefault();
    const ms = Number(stagger);
    if (!/^\d+$/.test(stagger.trim())) return setError({ field: "stagger", message: "the stagger is a whole number of milliseconds (0 or more)" });
    setBusy(true);
    setError(null);
    try {
      const j = await post<PowerJob>("/power-jobs", {
        action,
        nodes: props.nodes,
        ...(pxe && action === "cycle" ? { pxe: true } : {}),
        ...(ms ? { staggerMs: ms } : {}),
      });
      setJob(j);
      follow(j.id);
    } catch (err) {
      const m = (err as Error).message;
      setError({ ...(err instanceof ApiError && /^body\.staggerMs/.test(m) ? { field: "stagger" } : {}), message: m.replace(/^body\.staggerMs: /, "") });
    } finally {
      setBusy(false);
    }
  };
  const n = props.nodes.length;
  const failed = job?.state === "done" ? job.results.filter((r) => !r.ok) : [];
  return html`<${Dialog} title=${`Power: ${n} node${n === 1 ? "" : "s"}`} onClose=${props.onClose} id="power">
    <p data-names>${someNames(props.nodes)}</p>
    ${
      !job
        ? html`<form onSubmit=${start} aria-label="power action" novalidate>
          <div class="row">
            <label>Action<select value=${action} onChange=${(e: Event) => setAction((e.target as HTMLSelectElement).value as Action)} autofocus>
              ${ACTIONS.map((a) => html`<option value=${a}>${ACTION_TEXT[a]}</option>`)}</select></label>
            <label class=${error?.field === "stagger" ? "invalid" : ""}>Stagger (ms between starts)<input inputmode="numeric" value=${stagger}
              onInput=${(e: Event) => setStagger((e.target as HTMLInputElement).value)} aria-invalid=${error?.field === "stagger" ? "true" : undefined}
                aria-describedby="stagger-note" style="width:9rem" />
              ${
                error?.field === "stagger"
                  ? html`<span class="field-error" id="stagger-note">${error.message}</span>`
                  : html`<span class="small muted"
                id="stagger-note">spreads a boot storm: 100 ms is ten nodes a second</span>`
              }</label>
          </div>
          <label class="check"><input type="checkbox" checked=${pxe && action === "cycle"} disabled=${action !== "cycle"} onChange=${(e: Event) =>
            setPxe((e.target as HTMLInputElement).checked)} aria-describedby="pxe-note" /> <span>PXE next boot <span class="small muted" id="pxe-note">
              ${action === "cycle" ? "(boot from the network once, then as before)" : "(with cycle only)"}</span></span></label>
          ${error && !error.field && html`<p class="error" role="alert">${error.message}</p>`}
          <div class="row"><button class="primary" disabled=${busy}>${
            action === "status" ? "Check status" : `Power ${action} ${n} node${n === 1 ? "" : "s"}`
          }</button><button type="button" onClick=${props.onClose}>Cancel</button></div>
        </form>`
        : html`<div>
          <p role="status" aria-live="polite" data-progress=${`${job.done}/${job.total}`}>
            ${
              job.state === "running"
                ? `${job.action}${job.pxe ? " (PXE next boot)" : ""}: ${job.done} of ${job.total} done${job.failed ? `, ${job.failed} failed` : ""}…`
                : `${job.action}: ${job.total - failed.length} ok, ${failed.length} failed${
                    failed.length
                      ? ` (${someNames(
                          failed.map((f) => f.node),
                          5,
                        )})`
                      : ""
                  }`
            }
          </p>
          <progress max=${job.total || 1} value=${job.done} aria-label="power progress"></progress>
          ${job.state === "running" && html`<p class="small muted">Closing this leaves the job running on the server.</p>`}
          ${error && html`<p class="error" role="alert">${error.message}</p>`}
          <div class="scroll" style="max-height:50vh"><table aria-label="power results"><thead><tr><th>Node</th><th>Result</th><th>Message</th></tr></thead><tbody>
            ${job.results.map(
              (r) => html`<tr class=${r.ok ? "" : "failed"} data-node=${r.node} data-ok=${String(r.ok)}><td>${r.node}</td><td>
              ${r.ok ? (job.action === "status" ? (r.state ?? "unknown") : "ok") : html`<strong>✕ failed</strong>`}</td><td style="white-space:normal">${r.message}</td></tr>`,
            )}
          </tbody></table></div>
          <div class="row" style="margin-top:.6rem"><button class="primary" id="power-close" onClick=${props.onClose}>Close</button></div>
        </div>`
    }
  <//>`;
}
