import { useEffect, useState } from "preact/hooks";
import { NETWORK_NAME, isHostname } from "../../src/domain/names";
import { useAction } from "../action";
import { del, enc, get, patch, post } from "../api";
import { Err, fieldOf, html, linesOf } from "./common";

// ---- profiles ----

interface Profile {
  name: string;
  own: Record<string, any>;
  provenance: { field: string; source: string; value: unknown }[];
  users?: { nodes: string[]; nodeCount: number; profiles: string[] };
}

/** The form as typed: every field text (lists comma-separated, tags one key=value a line, kernel args as on the command line). */
interface PForm {
  name: string;
  comment: string;
  profiles: string;
  image: string;
  cluster: string;
  kver: string;
  kargs: string;
  sysOv: string;
  rtOv: string;
  tags: string;
  netname: string;
  netdev: string;
  netmask: string;
  gateway: string;
  mtu: string;
  bmcType: string;
  bmcUser: string;
  bmcPass: string;
  bmcNetmask: string;
  bmcGateway: string;
  bmcPort: string;
  bmcInterface: string;
}
type F = keyof PForm;
type Kind = "str" | "list" | "args" | "int";

const NET = "$net";
/** Each form field's place in the profile document (drover's camelCase nodes.conf shape) and how it is written. */
const FIELDS: [F, string[], Kind][] = [
  ["comment", ["comment"], "str"],
  ["profiles", ["profiles"], "list"],
  ["image", ["image"], "str"],
  ["cluster", ["cluster"], "str"],
  ["kver", ["kernel", "version"], "str"],
  ["kargs", ["kernel", "args"], "args"],
  ["sysOv", ["systemOverlay"], "list"],
  ["rtOv", ["runtimeOverlay"], "list"],
  ["netdev", ["networkDevices", NET, "device"], "str"],
  ["netmask", ["networkDevices", NET, "netmask"], "str"],
  ["gateway", ["networkDevices", NET, "gateway"], "str"],
  ["mtu", ["networkDevices", NET, "mtu"], "int"],
  ["bmcType", ["ipmi", "type"], "str"],
  ["bmcUser", ["ipmi", "username"], "str"],
  ["bmcPass", ["ipmi", "password"], "str"],
  ["bmcNetmask", ["ipmi", "netmask"], "str"],
  ["bmcGateway", ["ipmi", "gateway"], "str"],
  ["bmcPort", ["ipmi", "port"], "int"],
  ["bmcInterface", ["ipmi", "interface"], "str"],
];

const words = (s: string) => s.split(/[\s,]+/).filter(Boolean);
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function netOf(own: Record<string, any>): [string, Record<string, any>] {
  const devs = (own.networkDevices ?? {}) as Record<string, Record<string, any>>;
  const key = own.primaryNetwork && devs[own.primaryNetwork] ? own.primaryNetwork : (Object.keys(devs)[0] ?? "default");
  return [key, devs[key] ?? {}];
}

function formOf(p: Profile | null): PForm {
  const own = p?.own ?? {};
  const [netname, dev] = netOf(own);
  const at = (path: string[]) => path.reduce<any>((o, k) => (o == null ? undefined : o[k === NET ? netname : k]), own);
  const f = { name: p?.name ?? "", netname } as PForm;
  for (const [k, path, kind] of FIELDS) {
    const v = at(path);
    f[k] = v === undefined || v === null ? "" : kind === "list" ? (v as string[]).join(", ") : kind === "args" ? (v as string[]).join(" ") : String(v);
  }
  f.tags = Object.entries((own.tags ?? {}) as Record<string, string>)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");
  void dev;
  return f;
}

function tagsOf(text: string): { tags: Record<string, string>; bad?: string } {
  const tags: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const m = /^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(line);
    if (!m) return { tags, bad: `'${line}' is not key=value (one tag a line, e.g. rack=r12)` };
    tags[m[1]!] = m[2]!;
  }
  return { tags };
}

/** What is wrong with each field, before asking the server (which checks everything again). */
function check(f: PForm, known: { overlays?: string[]; profiles?: string[] }, isNew: boolean): Partial<Record<F, string>> {
  const e: Partial<Record<F, string>> = {};
  if (isNew && !isHostname(f.name.trim()))
    e.name = f.name.trim()
      ? "Use letters, digits and inner hyphens, e.g. compute or gpu-a100 (a host name: the server's rule for node and profile names)."
      : "Give the profile a name.";
  for (const [k, label] of [
    ["netmask", "netmask"],
    ["gateway", "gateway"],
    ["bmcNetmask", "BMC netmask"],
    ["bmcGateway", "BMC gateway"],
  ] as [F, string][])
    if (f[k].trim() && !IPV4.test(f[k].trim())) e[k] = `The ${label} is an IPv4 address like 255.255.255.0.`;
  if (f.mtu.trim() && !(/^\d+$/.test(f.mtu.trim()) && Number(f.mtu) >= 68 && Number(f.mtu) <= 65535))
    e.mtu = "MTU is a whole number from 68 to 65535 (1500, 9000 …).";
  if (f.bmcPort.trim() && !(/^\d+$/.test(f.bmcPort.trim()) && Number(f.bmcPort) >= 1 && Number(f.bmcPort) <= 65535))
    e.bmcPort = "A port is a number from 1 to 65535 (IPMI: 623).";
  if (/\s/.test(f.kver.trim())) e.kver = "One kernel version, e.g. 6.1.0-18-amd64.";
  if (!NETWORK_NAME.test(f.netname.trim())) e.netname = "A network name like default or ib0.";
  const missing = (list: string, have?: string[]) =>
    have
      ? words(list)
          .map((w) => w.replace(/^~/, ""))
          .filter((w) => !have.includes(w))
      : [];
  for (const [k, what] of [
    ["sysOv", "overlay"],
    ["rtOv", "overlay"],
  ] as [F, string][]) {
    const m = missing(f[k], known.overlays);
    if (m.length) e[k] = `No ${what} ${m.join(", ")}: create it on the Overlays page, or check the spelling.`;
  }
  const mp = missing(f.profiles, known.profiles).filter((p) => p !== f.name);
  if (mp.length) e.profiles = `No profile ${mp.join(", ")}.`;
  const t = tagsOf(f.tags);
  if (t.bad) e.tags = t.bad;
  return e;
}

function setPath(o: Record<string, any>, path: string[], v: unknown) {
  let cur = o;
  for (const k of path.slice(0, -1)) cur = cur[k] ??= {};
  cur[path.at(-1)!] = v;
}

/** The change from what was loaded to what is typed: set what changed, unset what was emptied. */
function patchOf(before: PForm, f: PForm): { set: Record<string, any>; unset: string[][] } {
  const set: Record<string, any> = {};
  const unset: string[][] = [];
  const moved = before.netname !== f.netname.trim();
  for (const [k, path, kind] of FIELDS) {
    const net = path.includes(NET);
    const real = path.map((p) => (p === NET ? f.netname.trim() : p));
    const v = f[k].trim();
    if (v === before[k].trim() && !(net && moved)) continue;
    if (v === "") {
      if (!net || !moved) unset.push(real);
      continue;
    }
    setPath(set, real, kind === "list" ? words(v) : kind === "args" ? v.split(/\s+/) : kind === "int" ? Number(v) : v);
  }
  if (moved && before.netname) unset.push(["networkDevices", before.netname]);
  const was = tagsOf(before.tags).tags;
  const now = tagsOf(f.tags).tags;
  for (const k of Object.keys(was)) if (!(k in now)) unset.push(["tags", k]);
  for (const [k, v] of Object.entries(now)) if (was[k] !== v) setPath(set, ["tags", k], v);
  return { set, unset };
}

/** Where a server message belongs in the form (else above Save). */
const fieldOfServer = (msg: string): F | undefined =>
  fieldOf<F>(msg, [
    ["bmcPort", /ipmi.*port|bmc.*port/i],
    ["bmcNetmask", /ipmi.*netmask|bmc.*netmask/i],
    ["bmcGateway", /ipmi.*gateway|bmc.*gateway/i],
    ["bmcType", /ipmi|bmc|redfish/i],
    ["mtu", /mtu/i],
    ["netmask", /netmask/i],
    ["gateway", /gateway/i],
    ["sysOv", /system ?overlay/i],
    ["rtOv", /runtime ?overlay/i],
    ["image", /image/i],
    ["kver", /kernel.?version/i],
    ["kargs", /kernel/i],
    ["tags", /\btag/i],
    ["profiles", /refers to profile|profile '.*' (does not exist|includes itself)|cycle/i],
    ["name", /already exist|profile name|not a valid profile/i],
  ]);

interface Pending {
  name: string;
  lines: string[];
  force: boolean;
}

export function ProfilesPage() {
  const [list, setList] = useState<Profile[]>([]);
  const [sel, setSel] = useState<string | null>(null);
  const [isNew, setIsNew] = useState(false);
  const { error: err, setError: setErr, message: msg, setMessage: setMsg, run } = useAction();
  const [form, setForm] = useState<PForm>(formOf(null));
  const [loaded, setLoaded] = useState<PForm>(formOf(null));
  const [errs, setErrs] = useState<Partial<Record<F, string>>>({});
  const [pending, setPending] = useState<Pending | null>(null);
  const [known, setKnown] = useState<{ overlays?: string[]; profiles?: string[]; images?: string[] }>({});
  const load = () =>
    get<Profile[]>("/profiles").then(
      (l) => (setList(l), l),
      (x) => (setErr(x), [] as Profile[]),
    );
  useEffect(() => {
    load();
    get<{ name: string }[]>("/overlays").then(
      (o) => setKnown((k) => ({ ...k, overlays: o.map((x) => x.name) })),
      () => {},
    );
    get<{ name: string }[]>("/images").then(
      (o) => setKnown((k) => ({ ...k, images: o.map((x) => x.name) })),
      () => {},
    );
  }, []);
  const open = (p: Profile | null) => {
    const f = formOf(p);
    setForm(f);
    setLoaded(f);
    setErrs({});
    setErr(null);
    setPending(null);
  };
  const choose = (name: string) => {
    setIsNew(false);
    setSel(name);
    setMsg("");
    open(list.find((x) => x.name === name) ?? null);
  };
  const set = (k: F) => (e: Event) => {
    const v = (e.target as HTMLInputElement).value;
    setForm((f) => ({ ...f, [k]: v }));
    if (errs[k]) setErrs((x) => ({ ...x, [k]: undefined }));
  };
  const save = (e: Event) => {
    e.preventDefault();
    setMsg("");
    const bad = check(form, { ...known, profiles: list.map((p) => p.name) }, isNew);
    setErrs(bad);
    if (Object.values(bad).some(Boolean)) return;
    const change = patchOf(isNew ? formOf(null) : loaded, form);
    const name = isNew ? form.name.trim() : sel!;
    return run(
      async () => {
        if (isNew) await post("/profiles", { name, set: change.set, allowMissingImage: true });
        else await patch(`/profiles/${enc(sel!)}`, { set: change.set, ...(change.unset.length ? { unset: change.unset } : {}), allowMissingImage: true });
        const l = await load();
        setIsNew(false);
        setSel(name);
        open(l.find((x) => x.name === name) ?? null);
      },
      isNew ? `Added profile ${name}.` : `Saved profile ${name}; its nodes were checked again.`,
      // What was typed stays; the message goes beside its field, or above Save, once.
      (x) => {
        const f = fieldOfServer((x as Error).message);
        if (f) setErrs({ [f]: linesOf(x).join(" ") });
        return !!f;
      },
    );
  };
  const askDelete = async () => {
    const p = await run(() => get<Profile>(`/profiles/${enc(sel!)}`));
    if (!p) return;
    const u = p.users ?? { nodes: [], nodeCount: 0, profiles: [] };
    const nodes = u.nodeCount
      ? `node${u.nodeCount === 1 ? "" : "s"} ${u.nodes.join(", ")}${u.nodeCount > u.nodes.length ? ` and ${u.nodeCount - u.nodes.length} more` : ""}`
      : "";
    const profs = u.profiles.length ? `profile${u.profiles.length === 1 ? "" : "s"} ${u.profiles.join(", ")}` : "";
    const users = [nodes, profs].filter(Boolean).join(" and ");
    setPending({
      name: p.name,
      force: !!users,
      lines: users
        ? [
            `Still listed by ${users}.`,
            `They lose its settings at once and keep naming a profile that is gone until you take it out of their profile lists (drover node set N --profile …).`,
          ]
        : ["No node or profile lists it."],
    });
    setTimeout(() => document.getElementById("profile-confirm-cancel")?.focus(), 0);
  };
  const runDelete = () => {
    const p = pending!;
    return run(
      async () => {
        await del(`/profiles/${enc(p.name)}${p.force ? "?force=true" : ""}`);
        setPending(null);
        setSel(null);
        load();
      },
      `Deleted profile ${p.name}.`,
      () => void setPending(null),
    );
  };

  const field = (k: F, label: string, attrs: Record<string, unknown> = {}, hint?: string) => {
    const id = `pf-${k}`;
    const e = errs[k];
    const described = e ? `${id}-err` : hint ? `${id}-hint` : undefined;
    return html`<div class=${e ? "fieldbox invalid" : "fieldbox"}><label for=${id}>${label}</label>
      ${
        attrs.rows
          ? html`<textarea id=${id} class="short" value=${form[k]} onInput=${set(k)} aria-invalid=${e ? "true" : undefined}
        aria-describedby=${described} ...${attrs}></textarea>`
          : html`<input id=${id} value=${form[k]} onInput=${set(k)} aria-invalid=${e ? "true" : undefined} aria-describedby=${described} ...${attrs} />`
      }
      ${e ? html`<span class="field-error" id=${`${id}-err`} role="alert">${e}</span>` : hint ? html`<span class="muted small" id=${`${id}-hint`}>${hint}</span>` : ""}</div>`;
  };
  const p = list.find((x) => x.name === sel);
  const editing = isNew || !!p;
  return html`<h2>Profiles</h2>
    ${msg && html`<p class="ok" role="status">${msg}</p>`}
    <div class="grid2">
      <div class="card tree" aria-label="profiles">${list.map((x) => html`<button aria-current=${!isNew && x.name === sel} onClick=${() => choose(x.name)}>${x.name}</button>`)}
        <p><button class="primary" onClick=${() => {
          setIsNew(true);
          setSel(null);
          setMsg("");
          open(null);
        }}>New profile</button></p></div>
      <div>${
        editing
          ? html`<form class="card settings profile-form" onSubmit=${save} key=${isNew ? "\0new" : p!.name} aria-label=${isNew ? "add profile" : "edit profile"} novalidate>
          <div class="row"><h3 class="grow">${isNew ? "New profile" : p!.name}</h3>${
            !isNew &&
            html`<button type="button" class="danger"
            onClick=${askDelete}>Delete profile</button>`
          }</div>
          ${
            pending &&
            pending.name === sel &&
            html`<div class="confirm" role="alertdialog" aria-labelledby="profile-confirm-title" aria-describedby="profile-confirm-text">
            <strong id="profile-confirm-title">Delete profile ${pending.name}?</strong>
            <div id="profile-confirm-text">${pending.lines.map((l) => html`<p>${l}</p>`)}</div>
            <div class="row"><button type="button" class="danger" onClick=${runDelete}>${pending.force ? "Delete anyway" : "Delete"}</button><button
              type="button" id="profile-confirm-cancel" onClick=${() => setPending(null)}>Cancel</button></div></div>`
          }
          <fieldset><legend>General</legend><div class="row">
            ${isNew && field("name", "Name", { required: true, placeholder: "e.g. compute" })}
            ${field("comment", "Comment")}
            ${field("image", "Image", { list: "pf-images", placeholder: "inherited when empty" })}
            ${field("profiles", "Profiles it includes", { placeholder: "e.g. default" }, "comma-separated, applied in order")}
            ${field("cluster", "Cluster")}
            <datalist id="pf-images">${(known.images ?? []).map((i) => html`<option value=${i} />`)}</datalist></div></fieldset>
          <fieldset><legend>Kernel</legend><div class="row">
            ${field("kver", "Kernel version", { placeholder: "the image's highest" })}
            ${field("kargs", "Kernel arguments", { placeholder: "console=ttyS0,115200n8 quiet" }, "space-separated, as on the kernel command line")}</div></fieldset>
          <fieldset><legend>Overlays</legend><div class="row">
            ${field("sysOv", "System overlays", { placeholder: "wwinit, hostname" }, "comma-separated; applied once at boot")}
            ${field("rtOv", "Runtime overlays", { placeholder: "hosts, ssh.authorized_keys" }, "comma-separated; kept current while the node runs")}</div></fieldset>
          <fieldset><legend>Tags</legend>${field(
            "tags",
            "Tags",
            { rows: 3, placeholder: "rack=r12\ndns=10.0.0.53" },
            "one key=value a line; an emptied line removes the tag",
          )}</fieldset>
          <fieldset><legend>Network</legend><div class="row">
            ${field("netname", "Network name", { placeholder: "default" })}
            ${field("netdev", "Interface (netdev)", { placeholder: "found by MAC" }, "e.g. eth0; renames the interface")}
            ${field("netmask", "Netmask", { placeholder: "255.255.255.0", inputmode: "decimal" })}
            ${field("gateway", "Gateway", { placeholder: "10.0.0.1", inputmode: "decimal" })}
            ${field("mtu", "MTU", { placeholder: "1500", inputmode: "numeric", size: 6 })}</div></fieldset>
          <fieldset><legend>BMC</legend><div class="row">
            <div class=${errs.bmcType ? "fieldbox invalid" : "fieldbox"}><label for="pf-bmcType">BMC type</label><select id="pf-bmcType"
              value=${form.bmcType} onChange=${set("bmcType")} aria-invalid=${errs.bmcType ? "true" : undefined} aria-describedby=${errs.bmcType ? "pf-bmcType-err" : undefined}>
              <option value="">(inherited)</option><option value="ipmi">IPMI</option><option value="redfish">Redfish</option><option value="none">none</option></select>
              ${errs.bmcType && html`<span class="field-error" id="pf-bmcType-err" role="alert">${errs.bmcType}</span>`}</div>
            ${field("bmcUser", "BMC user", { autocomplete: "off" })}
            ${field("bmcPass", "BMC password", { type: "password", autocomplete: "new-password" })}
            ${field("bmcNetmask", "BMC netmask", { inputmode: "decimal" })}
            ${field("bmcGateway", "BMC gateway", { inputmode: "decimal" })}
            ${field("bmcPort", "BMC port", { inputmode: "numeric", size: 6, placeholder: "623" })}
            ${field("bmcInterface", "BMC interface", { placeholder: "lanplus" })}</div></fieldset>
          <${Err} e=${err} />
          <div class="row"><button class="primary">${isNew ? "Add profile" : "Save"}</button>${
            isNew &&
            html`<button type="button"
            onClick=${() => setIsNew(false)}>Cancel</button>`
          }</div>
        </form>
        ${
          p &&
          html`<div class="card scroll"><table aria-label="resolved fields"><thead><tr><th>Field</th><th>Value</th><th>Source</th></tr></thead><tbody>
        ${p.provenance
          .filter((r) => r.source)
          .map(
            (r) =>
              html`<tr><td>${r.field}</td><td>${
                /password/i.test(r.field)
                  ? "••••"
                  : Array.isArray(r.value)
                    ? r.value.join(" ")
                    : typeof r.value === "object"
                      ? JSON.stringify(r.value)
                      : String(r.value ?? "")
              }</td><td>${r.source === "--" ? "profile" : r.source}</td></tr>`,
          )}
        </tbody></table></div>`
        }`
          : html`<${Err} e=${err} /><p class="muted">Choose a profile, or add one.</p>`
      }</div>
    </div>`;
}
