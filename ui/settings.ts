import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import type { HostInterface, ServeConfig } from "../src/config/serve";
import type { FieldView, SettingsChange } from "../src/config/settings";
import { useAction } from "./action";
import { ApiError, ago, del, get, patch, post } from "./api";

const html = htm.bind(h);

/** GET /api/v1/settings: the running configuration, plus each field's source and editability. */
type Settings = ServeConfig & {
  dataDir: string;
  api: { allowedSubnets: string[]; secureCookies: boolean };
  fields: Record<string, FieldView>;
  interfaces: HostInterface[];
  changed?: SettingsChange;
  warning?: string;
};

/** The form's state: text as typed, lists as text, booleans as checkboxes. */
interface Form {
  dhcpMode: string;
  interfaces: string[];
  serverIp: string;
  router: string;
  dns: string;
  poolStart: string;
  poolEnd: string;
  relaySubnets: string;
  leaseSeconds: string;
  ipv6Ra: "" | "on" | "off";
  discovery: boolean;
  registerPattern: string;
  registerStart: string;
  registerEnd: string;
  registerProfiles: string;
  pollSeconds: string;
}

const words = (s: string) => s.split(/[\s,]+/).filter(Boolean);
const halves = (r: unknown) => {
  const [a = "", b = ""] = typeof r === "string" ? r.split("-") : [];
  return [a, b] as const;
};
const joinRange = (a: string, b: string) => (a.trim() || b.trim() ? `${a.trim()}-${b.trim()}` : "");
const num = (s: string) => (s.trim() === "" ? null : Number.isFinite(Number(s)) ? Number(s) : s);

function formOf(s: Settings): Form {
  const v = (k: string) => s.fields[k]?.value;
  const list = (k: string) => ((v(k) as string[] | undefined) ?? []).join(", ");
  const [ps, pe] = halves(v("pool"));
  const [rs, re] = halves(v("registerRange"));
  return {
    dhcpMode: String(v("dhcpMode") ?? "off"),
    interfaces: (v("interfaces") as string[] | undefined) ?? [],
    serverIp: String(v("serverIp") ?? ""),
    router: String(v("router") ?? ""),
    dns: list("dns"),
    poolStart: ps,
    poolEnd: pe,
    relaySubnets: ((v("relaySubnets") as string[] | undefined) ?? []).join("\n"),
    leaseSeconds: v("leaseSeconds") === undefined ? "" : String(v("leaseSeconds")),
    ipv6Ra: v("ipv6Ra") === undefined ? "" : v("ipv6Ra") ? "on" : "off",
    discovery: v("discovery") === true,
    registerPattern: String(v("registerPattern") ?? ""),
    registerStart: rs,
    registerEnd: re,
    registerProfiles: list("registerProfiles"),
    pollSeconds: v("pollSeconds") === undefined ? "" : String(v("pollSeconds")),
  };
}

/** The API's value of every field from the form; empty means "no value" (null: the default applies). */
function valuesOf(f: Form): Record<string, unknown> {
  const text = (s: string) => (s.trim() === "" ? null : s.trim());
  const list = (l: string[]) => (l.length ? l : null);
  return {
    dhcpMode: f.dhcpMode,
    interfaces: list(f.interfaces),
    serverIp: text(f.serverIp),
    router: text(f.router),
    dns: list(words(f.dns)),
    pool: text(joinRange(f.poolStart, f.poolEnd)),
    relaySubnets: list(
      f.relaySubnets
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean),
    ),
    leaseSeconds: num(f.leaseSeconds),
    ipv6Ra: f.ipv6Ra === "" ? null : f.ipv6Ra === "on",
    discovery: f.discovery,
    registerPattern: text(f.registerPattern),
    registerRange: text(joinRange(f.registerStart, f.registerEnd)),
    registerProfiles: list(words(f.registerProfiles)),
    pollSeconds: num(f.pollSeconds),
  };
}

/** The form fields that show each API field (where its error appears). */
const INPUT_OF: Record<string, string> = { pool: "poolStart", registerRange: "registerStart" };

/** "pool: --pool … is not …" or "body.pool: …" → the field and the message. */
function fieldError(e: ApiError, fields: Record<string, FieldView>): { field?: string; message: string } {
  const m = /^(?:body\.)?([A-Za-z]+)(?:\.[\w.]+)?: (.*)$/s.exec(e.message);
  if (m && fields[m[1]!]) return { field: m[1]!, message: m[2]! };
  return { message: e.message };
}

export function SettingsPage() {
  const [s, setS] = useState<Settings | null>(null);
  const [form, setForm] = useState<Form | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState<string[] | null>(null);
  const [busy, setBusy] = useState(false);
  const load = (v: Settings) => {
    setS(v);
    setForm(formOf(v));
  };
  useEffect(() => {
    get<Settings>("/settings").then(load, setGeneral);
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!s || !form) return;
    const before = valuesOf(formOf(s));
    const now = valuesOf(form);
    const change: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(now)) if (s.fields[k]?.editable === "live" && JSON.stringify(v) !== JSON.stringify(before[k])) change[k] = v;
    setErrors({});
    setGeneral(null);
    setSaved(null);
    if (!Object.keys(change).length) return setSaved([]);
    setBusy(true);
    try {
      const v = await patch<Settings>("/settings", change);
      load(v);
      // A change back to what was already saved is no change (the server answers without a new entry).
      setSaved(v.changed && v.changed.at !== s.changed?.at ? v.changed.what : []);
    } catch (x) {
      const err = x as ApiError;
      const fe = err instanceof ApiError ? fieldError(err, s.fields) : { message: String(err) };
      if (fe.field) {
        setErrors({ [fe.field]: fe.message });
        document.getElementById(`set-${INPUT_OF[fe.field] ?? fe.field}`)?.focus();
      } else setGeneral(err);
    } finally {
      setBusy(false);
    }
  };

  if (!s || !form) return html`<h2>Settings</h2>${general ? html`<p class="error" role="alert">${general.message}</p>` : html`<p class="muted">Loading…</p>`}`;
  const set =
    <K extends keyof Form>(k: K) =>
    (e: Event) => {
      const t = e.target as HTMLInputElement;
      setForm({ ...form, [k]: t.type === "checkbox" ? t.checked : t.value });
      setSaved(null);
    };
  const fixed = (k: string) => s.fields[k]?.editable !== "live";
  /** The note under a field: its error, or why it cannot change here. */
  const note = (k: string) => {
    const f = s.fields[k];
    if (errors[k]) return html`<span class="field-error" id=${`note-${k}`} role="alert">${errors[k]}</span>`;
    if (f && f.editable !== "live") return html`<span class="muted small" id=${`note-${k}`}>${f.reason}</span>`;
    return null;
  };
  const described = (k: string) => (errors[k] || fixed(k) ? `note-${k}` : undefined);
  /** A text input for form field k, showing API field `field` (its note only once, under its first input). */
  const input = (
    k: keyof Form,
    field: string,
    label: string,
    attrs: Record<string, unknown> = {},
    withNote = true,
  ) => html`<label class=${errors[field] ? "invalid" : ""}>${label}
    <input id=${`set-${k}`} name=${k} value=${form[k] as string} onInput=${set(k)} disabled=${fixed(field)} aria-invalid=${
      errors[field] ? "true" : undefined
    } aria-describedby=${described(field)} ...${attrs} />${withNote ? note(field) : null}</label>`;

  // Each interface once, with its addresses; a saved one that is gone from this host still shows.
  const names = [...new Set([...s.interfaces.map((i) => i.name), ...form.interfaces])];
  const multi = s.interfaces.filter((i) => form.interfaces.includes(i.name)).length > form.interfaces.length;
  const toggle = (name: string) => (e: Event) => {
    const on = (e.target as HTMLInputElement).checked;
    setForm({ ...form, interfaces: on ? [...form.interfaces, name] : form.interfaces.filter((n) => n !== name) });
    setSaved(null);
  };
  const restart = Object.entries(s.fields).filter(([, f]) => f.editable === "restart");
  const show = (v: unknown) => (Array.isArray(v) ? v.join(", ") || "every address" : typeof v === "boolean" ? (v ? "on" : "off") : String(v ?? ""));

  return html`<h2>Settings</h2>
    <p class="muted">Changes take effect at once, without restarting <code>drover serve</code>${
      " (DHCP restarts on the new interfaces; leases are kept), " +
      "and are saved in the data dir for the next start. A flag given on the command line fixes its field until "
    }<code>drover serve</code> restarts without it.</p>
    ${s.warning && html`<p class="error" role="alert">${s.warning}</p>`}
    ${s.changed && html`<p class="muted">Last change ${ago(s.changed.at)} by ${s.changed.by}: ${s.changed.what.join("; ")}</p>`}
    <form class="card settings" onSubmit=${submit} aria-label="server settings" novalidate>
      <fieldset><legend>DHCP</legend>
        <div class="row">
          <label class=${errors.dhcpMode ? "invalid" : ""}>DHCP mode
            <select id="set-dhcpMode" name="dhcpMode" value=${form.dhcpMode} onChange=${set("dhcpMode")} disabled=${fixed("dhcpMode")} aria-describedby=${described("dhcpMode")}>
              <option value="off">off</option><option value="authoritative">authoritative: addresses and boot</option><option
                value="proxy">proxy: boot information next to another DHCP server</option>
            </select>${note("dhcpMode")}</label>
          <label>IPv6 router advertisements
            <select id="set-ipv6Ra" name="ipv6Ra" value=${form.ipv6Ra} onChange=${set("ipv6Ra")} disabled=${fixed("ipv6Ra")} aria-describedby=${described("ipv6Ra")}>
              <option value="">automatic (on in authoritative mode)</option><option value="on">on</option><option value="off">off</option>
            </select>${note("ipv6Ra")}</label>
        </div>
        <fieldset class="choices" id="set-interfaces" tabindex="-1" aria-describedby=${described("interfaces")}><legend>Interfaces to serve</legend>
          ${names.length === 0 && html`<p class="muted">This host has no IPv4 interface besides loopback.</p>`}
          ${names.map((n) => {
            const addrs = s.interfaces.filter((i) => i.name === n);
            return html`<label class="check"><input type="checkbox" name="interface" value=${n} checked=${form.interfaces.includes(n)}
              onChange=${toggle(n)} disabled=${fixed("interfaces")} />
              <span><strong>${n}</strong> ${
                addrs.length
                  ? addrs.map((a) => `${a.address}/${a.netmask}`).join(", ")
                  : html`<span
                class="error">not found on this host</span>`
              }</span></label>`;
          })}
          <span class="muted small">None chosen: the host's only interface, when it has just one.</span>
          ${note("interfaces")}
        </fieldset>
        <div class="row">
          ${
            (multi || form.serverIp) &&
            html`<label class=${errors.serverIp ? "invalid" : ""}>Server address
            <select id="set-serverIp" name="serverIp" value=${form.serverIp} onChange=${set("serverIp")} disabled=${fixed("serverIp")} aria-describedby=${described("serverIp")}>
              <option value="">choose…</option>${s.interfaces
                .filter((i) => form.interfaces.includes(i.name))
                .map(
                  (i) => html`<option
                value=${i.address}>${i.address} (${i.name})</option>`,
                )}
            </select>${note("serverIp")}</label>`
          }
          ${input("router", "router", "Router (default gateway)", { placeholder: "none", inputmode: "decimal" })}
          ${input("dns", "dns", "DNS servers", { placeholder: "none" })}
          ${input("leaseSeconds", "leaseSeconds", "Lease time (seconds)", { type: "number", min: 60, placeholder: "86400" })}
        </div>
        <div class="row" role="group" aria-label="pool">
          ${input("poolStart", "pool", "Pool start (unknown machines)", { placeholder: "none", inputmode: "decimal" })}
          ${input("poolEnd", "pool", "Pool end", { placeholder: "none", inputmode: "decimal" }, false)}
        </div>
        <label class=${errors.relaySubnets ? "invalid" : ""}>Relayed subnets, one per line: NET/PREFIX[,router=IP][,pool=A-B]
          <textarea id="set-relaySubnets" class="short" name="relaySubnets" value=${form.relaySubnets} onInput=${set("relaySubnets")}
            disabled=${fixed("relaySubnets")} aria-describedby=${described("relaySubnets")}
            placeholder="10.1.0.0/24,router=10.1.0.1,pool=10.1.0.100-10.1.0.199"></textarea>${note("relaySubnets")}</label>
      </fieldset>
      <fieldset><legend>Discovery</legend>
        <label class="check"><input id="set-discovery" type="checkbox" name="discovery" checked=${form.discovery} onChange=${set("discovery")}
          disabled=${fixed("discovery")} aria-describedby=${described("discovery")} />
          <span>Discovery: bind unknown machines to nodes marked discoverable, or register them as new nodes</span></label>${note("discovery")}
        <div class="row">
          ${input("registerPattern", "registerPattern", "Register new nodes as", { placeholder: "e.g. n[001-999]" })}
          ${input("registerStart", "registerRange", "Their addresses from", { placeholder: "none", inputmode: "decimal" })}
          ${input("registerEnd", "registerRange", "to", { placeholder: "none", inputmode: "decimal" }, false)}
          ${input("registerProfiles", "registerProfiles", "With profiles", { placeholder: "default" })}
        </div>
      </fieldset>
      <fieldset><legend>Node agents</legend>
        <div class="row">${input("pollSeconds", "pollSeconds", "Runtime overlay poll interval (seconds)", { type: "number", min: 1, placeholder: "60" })}</div>
      </fieldset>
      <div class="row">
        <button class="primary" disabled=${busy}>${busy ? "Saving…" : "Save"}</button>
        ${saved && html`<span class="ok" role="status">${saved.length ? `Saved and in effect: ${saved.join("; ")}` : "Nothing changed."}</span>`}
      </div>
      ${general && html`<div class="error" role="alert"><div>${general.message}</div>${(general.details ?? []).map((d) => html`<div>${d}</div>`)}</div>`}
    </form>
    <div class="card"><h3>Running now</h3>
      <p>DHCP <strong>${s.dhcp.mode}</strong>${
        s.dhcp.interfaces.length
          ? ` on ${s.dhcp.interfaces
              .map((i) => `${i.name} (${i.serverIp}, ${i.network}/${i.netmask}${i.pool ? `, pool ${i.pool.start}-${i.pool.end}` : ""})`)
              .join(", ")}`
          : ""
      }${
        s.dhcp.relaySubnets.length ? `; relayed ${s.dhcp.relaySubnets.map((r) => `${r.network}/${r.netmask}`).join(", ")}` : ""
      }; IPv6 RA ${s.dhcp.mode !== "off" && s.dhcp.routerAdvertisements ? "on" : "off"}</p>
      <p>Discovery <strong>${s.discovery.enabled ? "on" : "off"}</strong>${
        s.discovery.register ? `, registering as ${s.discovery.register.pattern}` : ""
      }; agents poll every ${s.runtime.pollSeconds} s; data dir <code>${s.dataDir}</code></p>
      <h3>Needs a restart</h3>
      <p class="muted">Set with these flags of <code>drover serve</code>; change them by restarting it.</p>
      <div class="scroll"><table aria-label="restart-only settings"><thead><tr><th>Setting</th><th>Value</th><th>Flag</th></tr></thead><tbody>
        ${restart.map(([k, f]) => html`<tr data-field=${k}><td>${f.label}</td><td>${show(f.value)}</td><td><code>${f.flag}</code></td></tr>`)}
      </tbody></table></div>
    </div>
    <${Tokens} />`;
}

function Tokens() {
  const [tokens, setTokens] = useState<
    { id: number; name: string; user: string; prefix: string; createdAt: number; lastUsedAt?: number; revokedAt?: number }[]
  >([]);
  const [created, setCreated] = useState("");
  const { error, setError, run } = useAction();
  const err = error as ApiError | null;
  const loadTokens = () => get<typeof tokens>("/tokens").then(setTokens, setError);
  useEffect(() => void loadTokens(), []);
  return html`<div class="card"><h3>API tokens</h3>
      <form class="row" aria-label="create token" onSubmit=${(e: Event) => {
        e.preventDefault();
        const f = new FormData(e.target as HTMLFormElement);
        run(async () => {
          const t = await post<{ token: string }>("/tokens", { name: String(f.get("name")) });
          setCreated(t.token);
          loadTokens();
        });
      }}>
        <label>Name<input name="name" required /></label><button class="primary">Create token</button></form>
      ${created && html`<p role="status">New token (shown once): <code>${created}</code></p>`}
      ${err && html`<p class="error" role="alert">${err.message}</p>`}
      <div class="scroll"><table aria-label="API tokens"><thead><tr><th>Id</th><th>Name</th><th>User</th><th>Starts with</th><th>Last used</th><th></th></tr></thead><tbody>
      ${tokens.map(
        (t) =>
          html`<tr><td>${t.id}</td><td>${t.name}</td><td>${t.user}</td><td><code>${t.prefix}…</code></td><td>${ago(t.lastUsedAt)}</td><td>${
            t.revokedAt
              ? html`<span class="muted">revoked</span>`
              : html`<button class="danger" onClick=${async () => {
                  await run(() => del(`/tokens/${t.id}`));
                  loadTokens();
                }}>Revoke</button>`
          }</td></tr>`,
      )}
      </tbody></table></div></div>`;
}
