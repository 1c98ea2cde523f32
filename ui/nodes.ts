import { h } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import htm from "htm";
import { useAction } from "./action";
import { ApiError, type LiveState, type NodeRow, type StatusRow, ago, del, enc, get, live, patch, post, progressText } from "./api";
import { ConfirmDialog, dialogOpen, someNames } from "./dialog";
import { PowerCell, PowerDialog, powerStates, powerText } from "./power";
import { store, useStore } from "./store";

const html = htm.bind(h);
const ROW = 34;
/** The colour of each state, as the chips, badges and grid cells show it ("agent up" is booted with its agent reporting). */
const LEGEND: [LiveState["cls"], string][] = [
  ["booted", "booted"],
  ["agent", "agent up"],
  ["booting", "booting"],
  ["overdue", "overdue"],
  ["error", "error"],
  ["never", "never seen"],
];
const LABEL = Object.fromEntries(LEGEND) as Record<LiveState["cls"], string>;
const liveOf = (s: StatusRow | undefined) => live(s, store.now(), store.heartbeatSeconds);
/** The stage column: stream progress, how long a stuck stage has waited, the error, or "agent up". */
function stageText(s: StatusRow | undefined, l: LiveState): string {
  if (!s) return "";
  if (l.state === "booting")
    return `${l.progress ? progressText(l.progress) : (s.stage ?? "")}${l.stuck ? ` · stuck ${ago(Date.now() - l.stuck * 1000).replace(" ago", "")}` : ""}`;
  if (l.state === "error") return s.lastError ?? "";
  if (l.state === "overdue") return `no heartbeat for ${ago(s.lastSeen, store.now()).replace(" ago", "")}`;
  return s.agentUp ? "agent up" : (s.stage ?? "");
}
type Col = "name" | "state" | "power" | "stage" | "profiles" | "image" | "ipaddr" | "hwaddr" | "lastSeen";

export function stateBadge(s: StatusRow | undefined) {
  const l = liveOf(s);
  return html`<span class=${`badge s-${l.cls}${l.stuck ? " stuck" : ""}`} data-state=${l.state} data-stuck=${l.stuck ? "" : undefined}>${l.stuck ? "⚠ " : ""}${l.state}</span>`;
}

const key = (n: NodeRow, s: StatusRow | undefined, col: Col): string | number => {
  switch (col) {
    case "state":
      return liveOf(s).state;
    case "power":
      return powerText(n.name, store.now()).text;
    case "stage":
      return s?.stage ?? "";
    case "profiles":
      return n.profiles.join(",");
    case "lastSeen":
      return s?.lastSeen ?? 0;
    default:
      return (n[col] as string | undefined) ?? "";
  }
};

/** The nodes table: filter, sort, multi-select and bulk actions over thousands of rows; only visible rows are in the DOM. */
export function NodesPage() {
  useStore();
  const [filter, setFilter] = useState("");
  const [stateFilter, setStateFilter] = useState<string | null>(null);
  const [sort, setSort] = useState<{ col: Col; dir: 1 | -1 }>({ col: "name", dir: 1 });
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const [showAdd, setShowAdd] = useState(false);
  const [view, setView] = useState<"table" | "grid">(() => (localStorage.getItem("drover.nodes.view") === "grid" ? "grid" : "table"));
  const choose = (v: "table" | "grid") => {
    setView(v);
    localStorage.setItem("drover.nodes.view", v);
  };
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const box = useRef<HTMLDivElement>(null);
  const filterBox = useRef<HTMLInputElement>(null);

  useEffect(() => {
    store.loadNodes().catch((e) => setMessage({ ok: false, text: (e as Error).message }));
    powerStates.load().catch(() => {});
    if (store.flash) {
      setMessage(store.flash);
      store.flash = undefined;
    }
    // "/" focuses the filter, as in Grafana and GitHub; not while typing somewhere or in a dialog.
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey || dialogOpen()) return;
      const t = e.target as HTMLElement | null;
      if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
      e.preventDefault();
      filterBox.current?.focus();
      filterBox.current?.select();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const rows = useMemo(() => {
    const f = filter.trim().toLowerCase();
    const out = store.nodes.filter((n) => {
      const s = store.status.get(n.name);
      // The chips partition the nodes as the colours do: "booted" is booted without its agent reporting.
      if (stateFilter && LABEL[liveOf(s).cls] !== stateFilter) return false;
      if (!f) return true;
      return (
        n.name.includes(f) ||
        n.profiles.some((p) => p.includes(f)) ||
        (n.image ?? "").includes(f) ||
        (n.ipaddr ?? "").includes(f) ||
        (n.hwaddr ?? "").includes(f) ||
        (s?.stage ?? "").includes(f)
      );
    });
    if (sort.col !== "name" || sort.dir !== 1) {
      const { col, dir } = sort;
      out.sort((a, b) => {
        const x = key(a, store.status.get(a.name), col);
        const y = key(b, store.status.get(b.name), col);
        return (x < y ? -1 : x > y ? 1 : a.name < b.name ? -1 : 1) * dir;
      });
    }
    return out;
  }, [store.version, filter, stateFilter, sort]);

  const counts = useMemo(() => {
    const c: Record<string, number> = {};
    for (const n of store.nodes) {
      const l = liveOf(store.status.get(n.name));
      c[LABEL[l.cls]] = (c[LABEL[l.cls]] ?? 0) + 1;
      if (l.stuck) c.stuck = (c.stuck ?? 0) + 1;
    }
    return c;
  }, [store.version]);

  const first = Math.max(0, Math.floor(scrollTop / ROW) - 5);
  const last = Math.min(rows.length, Math.ceil((scrollTop + height) / ROW) + 5);
  const visible = rows.slice(first, last);
  const toggle = (name: string) => {
    const s = new Set(selected);
    s.has(name) ? s.delete(name) : s.add(name);
    setSelected(s);
  };
  const allSelected = rows.length > 0 && rows.every((r) => selected.has(r.name));
  const sortBy = (col: Col) => setSort((s) => ({ col, dir: s.col === col ? (-s.dir as 1 | -1) : 1 }));
  const head = (col: Col, label: string) =>
    html`<div role="columnheader" aria-sort=${sort.col === col ? (sort.dir === 1 ? "ascending" : "descending") : "none"}><button
      onClick=${() => sortBy(col)}>${label}${sort.col === col ? (sort.dir === 1 ? " ▲" : " ▼") : ""}</button></div>`;

  return html`
    <h2>Nodes <span class="muted">(${store.nodes.length})</span></h2>
    <div class="row" style="margin-bottom:.6rem">
      <label>Filter<input type="search" ref=${filterBox} aria-keyshortcuts="/" title="press / to get here" placeholder="name, profile, image, address, stage (press /)"
        style="width:19rem" value=${filter} onInput=${(e: Event) => setFilter((e.target as HTMLInputElement).value)} aria-label="filter nodes" /></label>
      <div class="chips" role="group" aria-label="filter by state">
        ${LEGEND.map(
          ([cls, s]) =>
            html`<button aria-pressed=${stateFilter === s} data-chip=${cls} onClick=${() =>
              setStateFilter(stateFilter === s ? null : s)}><span class=${`dot c-${cls}`} aria-hidden="true"></span>${s} ${counts[s] ?? 0}</button>`,
        )}
      </div>
      ${counts.stuck ? html`<span class="warn" data-stuck-count>${counts.stuck} stuck</span>` : ""}
      <div class="chips" role="group" aria-label="view">
        <button aria-pressed=${view === "table"} onClick=${() => choose("table")}>Table</button><button aria-pressed=${view === "grid"}
          onClick=${() => choose("grid")}>Grid</button>
      </div>
      <span class=${store.connected ? "ok" : "muted"} title="live updates over Server-Sent Events" data-live=${store.connected}>
        ${store.connected ? "● live" : "○ connecting"}</span>
      <button class="primary" style="margin-left:auto" onClick=${() => setShowAdd(!showAdd)} aria-expanded=${showAdd}>Add node</button>
    </div>
    ${
      showAdd &&
      html`<${AddNode} onDone=${(text: string) => {
        setShowAdd(false);
        setMessage({ ok: true, text });
        store.loadNodes();
      }} />`
    }
    ${
      selected.size > 0 &&
      html`<${BulkBar} selected=${selected} onDone=${(m: { ok: boolean; text: string }) => {
        setMessage(m);
        store.loadNodes();
      }} onClear=${() => setSelected(new Set())} />`
    }
    ${message && html`<p class=${message.ok ? "ok" : "error"} role="status">${message.text}</p>`}
    ${view === "grid" && html`<${Grid} rows=${rows} />`}
    <div class="vt" hidden=${view === "grid"} ref=${box} onScroll=${(e: Event) => setScrollTop((e.target as HTMLElement).scrollTop)} role="table"
      aria-label="nodes" aria-rowcount=${rows.length}>
      <div class="vhead" role="row">
        <div role="columnheader"><input type="checkbox" aria-label="select all shown" checked=${allSelected} onChange=${() =>
          setSelected(allSelected ? new Set() : new Set(rows.map((r) => r.name)))} /></div>
        ${head("name", "Name")}${head("state", "State")}${head("power", "Power")}${head("stage", "Stage")}${head("profiles", "Profiles")}
          ${head("image", "Image")}${head("ipaddr", "Address")}${head("hwaddr", "MAC")}${head("lastSeen", "Last seen")}
      </div>
      <div style=${`height:${rows.length * ROW}px;position:relative`}>
        <div style=${`position:absolute;top:${first * ROW}px;left:0;right:0`}>
          ${visible.map((n) => {
            const s = store.status.get(n.name);
            const l = liveOf(s);
            return html`<div class=${`vrow${selected.has(n.name) ? " sel" : ""}`} role="row" key=${n.name} data-node=${n.name}>
              <div role="cell"><input type="checkbox" aria-label=${`select ${n.name}`} checked=${selected.has(n.name)} onChange=${() => toggle(n.name)} /></div>
              <div role="cell"><a href=${`#/node/${enc(n.name)}`}>${n.name}</a></div>
              <div role="cell">${stateBadge(s)}</div>
              <div role="cell"><${PowerCell} node=${n.name} /></div>
              <div role="cell" title=${s?.detail ?? ""} class=${l.stuck ? "warn" : ""}>${stageText(s, l)}${
                l.progress
                  ? html` <progress
                max=${l.progress.total || 1} value=${l.progress.bytes} aria-label=${`${n.name} image`}></progress>`
                  : ""
              }</div>
              <div role="cell">${n.profiles.join(", ")}</div>
              <div role="cell">${n.image ?? ""}</div>
              <div role="cell">${n.ipaddr ?? ""}</div>
              <div role="cell" class="mac">${n.hwaddr ?? ""}</div>
              <div role="cell" data-ago>${ago(s?.lastSeen, store.now())}</div>
            </div>`;
          })}
        </div>
      </div>
    </div>
    <p class="muted">${rows.length} shown${selected.size ? `, ${selected.size} selected` : ""}</p>`;
}

/** Every node as one coloured cell (hundreds at a glance); a cell links to its node. */
function Grid(props: { rows: NodeRow[] }) {
  return html`<div class="grid" role="list" aria-label="nodes by state" data-cells=${props.rows.length}>
    ${props.rows.map((n) => {
      const s = store.status.get(n.name);
      const l = liveOf(s);
      const text = `${n.name}: ${l.cls === "agent" ? "agent up" : l.state}${s ? `, ${stageText(s, l)}` : ""}${s?.lastSeen ? `, seen ${ago(s.lastSeen, store.now())}` : ""}`;
      return html`<a role="listitem" key=${n.name} href=${`#/node/${enc(n.name)}`} class=${`cell c-${l.cls}${l.stuck ? " stuck" : ""}`} data-node=${n.name}
        data-cls=${l.cls} title=${text} aria-label=${text}>${
          l.progress ? html`<i style=${`width:${Math.floor((l.progress.bytes / (l.progress.total || 1)) * 100)}%`}></i>` : ""
        }</a>`;
    })}
  </div>`;
}

function BulkBar(props: { selected: Set<string>; onDone: (m: { ok: boolean; text: string }) => void; onClear: () => void }) {
  const [profiles, setProfiles] = useState<string[]>([]);
  const [images, setImages] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [dialog, setDialog] = useState<"power" | "delete" | null>(null);
  const [deleteError, setDeleteError] = useState("");
  useEffect(() => {
    get<{ name: string }[]>("/profiles").then(
      (p) => setProfiles(p.map((x) => x.name)),
      () => {},
    );
    get<{ name: string }[]>("/images").then(
      (p) => setImages(p.map((x) => x.name)),
      () => {},
    );
  }, []);
  const nodes = [...props.selected].sort();
  const run = async (what: string, fn: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await fn();
      props.onDone({ ok: true, text: `${what}: done for ${nodes.length} node(s)` });
    } catch (e) {
      props.onDone({ ok: false, text: `${what}: ${(e as Error).message}` });
    } finally {
      setBusy(false);
    }
  };
  const onSelect = (fn: (v: string) => void) => (e: Event) => {
    const el = e.target as HTMLSelectElement;
    if (el.value) fn(el.value);
    el.value = "";
  };
  const remove = async () => {
    // A list of names per request (each all or nothing), 500 at a time so that the URL stays short.
    const deleted: string[] = [];
    try {
      for (let i = 0; i < nodes.length; i += 500)
        deleted.push(...(await del<{ deleted: string[] }>(`/nodes/${enc(nodes.slice(i, i + 500).join(","))}`)).deleted);
      setDialog(null);
      props.onClear();
      props.onDone({ ok: true, text: `Deleted ${deleted.length} node(s): ${someNames(deleted, 5)}.` });
    } catch (e) {
      if (deleted.length) props.onDone({ ok: false, text: `Deleted ${deleted.length} node(s), then: ${(e as Error).message}` });
      setDeleteError((e as Error).message);
    }
  };
  return html`<div class="card row" role="region" aria-label="bulk actions">
    <strong>${nodes.length} selected</strong>
    <label class="change">Set profile<select disabled=${busy} onChange=${onSelect((p) =>
      run(`set profile ${p}`, () => patch("/nodes", { nodes, set: { profiles: [p] } })),
    )}><option value="">—</option>${profiles.map((p) => html`<option>${p}</option>`)}</select></label>
    <label class="change">Set image<select disabled=${busy} onChange=${onSelect((i) =>
      run(`set image ${i}`, () => patch("/nodes", { nodes, set: { image: i } })),
    )}><option value="">—</option>${images.map((p) => html`<option>${p}</option>`)}</select></label>
    <button class="change" disabled=${busy} onClick=${() => setDialog("power")} aria-haspopup="dialog">Power…</button>
    <button class="danger" disabled=${busy} onClick=${() => {
      setDeleteError("");
      setDialog("delete");
    }} aria-haspopup="dialog">Delete…</button>
    <button onClick=${props.onClear}>Clear selection</button>
    ${dialog === "power" && html`<${PowerDialog} nodes=${nodes} onClose=${() => setDialog(null)} />`}
    ${
      dialog === "delete" &&
      html`<${ConfirmDialog} title=${`Delete ${nodes.length} node${nodes.length === 1 ? "" : "s"}?`}
        text=${`${someNames(nodes)} will be removed with their settings and boot history. This cannot be undone.`}
        action=${`Delete ${nodes.length} node${nodes.length === 1 ? "" : "s"}`} error=${deleteError} onConfirm=${remove} onClose=${() => setDialog(null)} />`
    }
  </div>`;
}

/** The add-node form; the API validates and its message (naming the field) is shown under the form. */
function AddNode(props: { onDone: (text: string) => void }) {
  const { error: err, busy, run } = useAction();
  const error = !err ? null : err instanceof ApiError ? err : new ApiError(0, (err as Error).message);
  const submit = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    const v = (k: string) => String(f.get(k) ?? "").trim();
    const dev: Record<string, string> = {};
    for (const k of ["ipaddr", "netmask", "hwaddr", "gateway"]) if (v(k)) dev[k] = v(k);
    const set: Record<string, unknown> = {};
    if (v("profiles"))
      set.profiles = v("profiles")
        .split(/[\s,]+/)
        .filter(Boolean);
    if (v("image")) set.image = v("image");
    if (v("comment")) set.comment = v("comment");
    if (Object.keys(dev).length) set.networkDevices = { default: dev };
    return run(async () => {
      const r = await post<{ added: string[] }>("/nodes", { names: v("names"), set, allowMissingImage: f.get("allowMissing") === "on" });
      props.onDone(`added ${r.added.length} node(s): ${r.added.slice(0, 5).join(", ")}${r.added.length > 5 ? " …" : ""}`);
    });
  };
  return html`<form class="card" onSubmit=${submit} aria-label="add node" novalidate>
    <div class="row">
      <label>Names (hostlist)<input name="names" required placeholder="n[001-004]" autofocus /></label>
      <label>Profiles<input name="profiles" placeholder="default" /></label>
      <label>Image<input name="image" placeholder="rocky-10" /></label>
      <label>IP address<input name="ipaddr" placeholder="10.0.0.11/24" /></label>
      <label>MAC<input name="hwaddr" placeholder="52:54:00:00:00:01" /></label>
      <label>Gateway<input name="gateway" /></label>
      <label>Comment<input name="comment" /></label>
      <label style="flex-direction:row;align-items:center"><input type="checkbox" name="allowMissing" /> image not imported yet</label>
      <button class="primary" disabled=${busy}>Add</button>
    </div>
    ${error && html`<div class="error" role="alert">${(error.details.length ? [...new Set(error.details)] : [error.message]).slice(0, 8).map((d) => html`<div>${d}</div>`)}</div>`}
  </form>`;
}
