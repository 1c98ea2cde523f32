import { DroverError, conflict, invalid } from "../domain/errors";
import { type DhcpModeName, type HostInterface, type ServeConfig, type ServeFlags, hostInterfaces, resolveServeConfig } from "./serve";

/**
 * The settings of `drover serve` that can change while it runs (the Settings page, PATCH /api/v1/settings),
 * how they combine with the command line, and the one object that holds the running configuration.
 *
 * Per field: a flag given on the command line > the value saved from the page > the flag's default. A flag
 * on the command line fixes its field (the page shows it disabled, a change is refused): what an admin typed
 * into a unit file stays true after a restart. A change is validated whole by resolveServeConfig, the code
 * that validates the flags; then applied (the composition root restarts DHCP and RA, updates discovery and
 * the overlays); then saved. A failure at any step leaves the running configuration and the saved values
 * as they were.
 */
export interface LiveSettings {
  dhcpMode: DhcpModeName;
  interfaces: string[];
  serverIp: string;
  router: string;
  dns: string[];
  /** "START-END", as --pool. */
  pool: string;
  /** "NET/PREFIX[,router=IP][,pool=A-B]", as --relay-subnet. */
  relaySubnets: string[];
  leaseSeconds: number;
  /** Unset: on in authoritative mode, off in proxy mode. */
  ipv6Ra: boolean;
  discovery: boolean;
  registerPattern: string;
  registerRange: string;
  registerProfiles: string[];
  pollSeconds: number;
}

export type SettingKey = keyof LiveSettings;
/** A change: a value sets the field; null removes the saved value, so the flag's default applies again. */
export type SettingsPatch = { [K in SettingKey]?: LiveSettings[K] | null };
export type SavedSettings = Partial<LiveSettings>;

/** What the data dir keeps: the saved values and who last changed them. */
export interface StoredSettings {
  values: SavedSettings;
  changed?: SettingsChange;
}

export interface SettingsChange {
  at: number;
  by: string;
  /** One line per field, "dhcpMode: off → authoritative". */
  what: string[];
}

/** Where the saved values live (the settings table of the SQLite store; memory in tests). */
export interface SettingsStorage {
  load(): StoredSettings | undefined;
  save(s: StoredSettings): void;
}

interface FieldSpec {
  key: string;
  /** The commander attribute of the flag (`ServeFlags` key). */
  option: keyof ServeFlags;
  flag: string;
  label: string;
  numeric?: boolean;
}

/** Every live field with its flag, in the order the page shows them. */
export const LIVE_FIELDS: readonly (FieldSpec & { key: SettingKey })[] = [
  { key: "dhcpMode", option: "dhcp", flag: "--dhcp", label: "DHCP mode" },
  { key: "interfaces", option: "interface", flag: "--interface", label: "Interfaces" },
  { key: "serverIp", option: "serverIp", flag: "--server-ip", label: "Server address" },
  { key: "router", option: "router", flag: "--router", label: "Router" },
  { key: "dns", option: "dns", flag: "--dns", label: "DNS servers" },
  { key: "pool", option: "pool", flag: "--pool", label: "Pool" },
  { key: "relaySubnets", option: "relaySubnet", flag: "--relay-subnet", label: "Relayed subnets" },
  { key: "leaseSeconds", option: "leaseTime", flag: "--lease-time", label: "Lease time (s)", numeric: true },
  { key: "ipv6Ra", option: "ipv6Ra", flag: "--ipv6-ra", label: "IPv6 router advertisements" },
  { key: "discovery", option: "discovery", flag: "--discovery", label: "Discovery" },
  { key: "registerPattern", option: "registerPattern", flag: "--register-pattern", label: "Register as" },
  { key: "registerRange", option: "registerRange", flag: "--register-range", label: "Register addresses" },
  { key: "registerProfiles", option: "registerProfile", flag: "--register-profile", label: "Register with profiles" },
  { key: "pollSeconds", option: "pollInterval", flag: "--poll-interval", label: "Agent poll interval (s)", numeric: true },
];

/** Fields shown on the page that only a restart with other flags changes. */
export const RESTART_FIELDS: readonly FieldSpec[] = [
  { key: "httpPort", option: "port", flag: "--port", label: "HTTP port" },
  { key: "listen", option: "listen", flag: "--listen", label: "HTTP and TFTP listen address" },
  { key: "tftp", option: "tftp", flag: "--no-tftp", label: "TFTP server" },
  { key: "tftpPort", option: "tftpPort", flag: "--tftp-port", label: "TFTP port" },
  { key: "dhcpPort", option: "dhcpPort", flag: "--dhcp-port", label: "DHCP port" },
  { key: "pxePort", option: "pxePort", flag: "--pxe-port", label: "ProxyDHCP port" },
  { key: "ipxeDir", option: "ipxeDir", flag: "--ipxe-dir", label: "iPXE builds" },
  { key: "ipxeBuild", option: "ipxeBuild", flag: "--ipxe-build", label: "Embedded iPXE" },
  { key: "apiSubnets", option: "apiSubnet", flag: "--api-subnet", label: "API open to" },
  { key: "secureCookies", option: "secureCookies", flag: "--secure-cookies", label: "Secure cookies" },
  { key: "insecureRuntime", option: "insecureRuntime", flag: "--insecure-runtime", label: "Runtime overlays to any port" },
  { key: "maxImageStreams", option: "maxImageStreams", flag: "--max-image-streams", label: "Image downloads at once (0: no limit)" },
];

const BY_KEY = new Map(LIVE_FIELDS.map((f) => [f.key as string, f]));
const BY_OPTION = new Map<string, FieldSpec>([...LIVE_FIELDS, ...RESTART_FIELDS].map((f) => [f.option, f]));

/**
 * The flags `resolveServeConfig` sees: the command line's values (its defaults included), with every saved
 * value in place of a field the command line did not give explicitly.
 */
export function mergeFlags(flags: ServeFlags, explicit: ReadonlySet<string>, saved: SavedSettings): ServeFlags {
  const out: Record<string, unknown> = { ...flags };
  for (const f of LIVE_FIELDS) {
    const v = saved[f.key];
    if (v === undefined || explicit.has(f.option)) continue;
    out[f.option] = f.numeric ? String(v) : v;
  }
  return out as ServeFlags;
}

/** resolveServeConfig, with an invalid value's error naming the settings field first ("pool: --pool …"). */
export function resolveWithFields(flags: ServeFlags, dataDir: string, hosts: HostInterface[]): Readonly<ServeConfig> {
  try {
    return resolveServeConfig(flags, dataDir, hosts);
  } catch (e) {
    if (!(e instanceof DroverError) || e.kind !== "invalid") throw e;
    const field = settingOf(e);
    throw field ? new DroverError("invalid", `${field}: ${e.message}`, e.details, field) : e;
  }
}

/** The settings field an error of resolveServeConfig is about (its `field` is the option's ServeFlags key). */
export function settingOf(e: DroverError): string | undefined {
  return e.field === undefined ? undefined : BY_OPTION.get(e.field)?.key;
}

/** How a field reached its current value, and whether the page may change it. */
export interface FieldView {
  label: string;
  flag: string;
  value?: unknown;
  source: "command line" | "saved" | "default";
  /** live: change it here; command line: fixed by a flag until a restart without it; restart: flags only. */
  editable: "live" | "command line" | "restart";
  /** Why it cannot be changed here. */
  reason?: string;
}

export interface SettingsView {
  /** The running configuration (what the servers use now). */
  running: Readonly<ServeConfig>;
  dataDir: string;
  fields: Record<string, FieldView>;
  /** The host's IPv4 interfaces (loopback excluded), to choose from. */
  interfaces: HostInterface[];
  changed?: SettingsChange;
  /** Set when the saved values could not be used at start. */
  warning?: string;
}

/** The API's door to the settings (src/http/api/settings.ts). */
export interface SettingsPort {
  get(): SettingsView;
  update(patch: SettingsPatch, user: string): Promise<SettingsView>;
}

/** Puts a resolved configuration into effect; throws (changing nothing) when it cannot. */
export type ApplySettings = (next: Readonly<ServeConfig>, prev: Readonly<ServeConfig>) => Promise<void>;

export interface ServeSettingsOptions {
  /** `drover serve`'s options, commander defaults included. */
  flags: ServeFlags;
  /** The options given on the command line (commander's getOptionValueSource(name) === "cli"). */
  explicit: ReadonlySet<string>;
  dataDir: string;
  storage: SettingsStorage;
  hosts?: () => HostInterface[];
  log?: (line: string) => void;
  now?: () => number;
}

/**
 * The running configuration of `drover serve` and its changes. Changes are serialised: a second one waits
 * for the first to be applied and saved.
 */
export class ServeSettings implements SettingsPort {
  private cfg: Readonly<ServeConfig>;
  private stored: StoredSettings;
  private apply?: ApplySettings;
  private queue: Promise<unknown> = Promise.resolve();
  private warning?: string;
  private readonly hosts: () => HostInterface[];

  /** Throws when the command line alone is invalid (as resolveServeConfig does). */
  constructor(private readonly o: ServeSettingsOptions) {
    this.hosts = o.hosts ?? hostInterfaces;
    this.stored = o.storage.load() ?? { values: {} };
    const hosts = this.hosts();
    try {
      this.cfg = resolveWithFields(mergeFlags(o.flags, o.explicit, this.stored.values), o.dataDir, hosts);
    } catch (e) {
      if (!(e instanceof DroverError) || !Object.keys(this.stored.values).length) throw e;
      // The saved values no longer fit this host (an interface went away): start from the command line
      // alone rather than not at all, and say so on stderr and on the page, where they can be fixed.
      this.cfg = resolveServeConfig(o.flags, o.dataDir, hosts);
      this.warning = `the saved settings are not in effect: ${e.message}. drover started with its command line only; fix the field on the Settings page`;
    }
  }

  get config(): Readonly<ServeConfig> {
    return this.cfg;
  }

  /** Why the saved values are not in effect, when they could not be used at start. */
  get startWarning(): string | undefined {
    return this.warning;
  }

  /** Called by the composition root once the servers run; changes are refused before. */
  onApply(apply: ApplySettings) {
    this.apply = apply;
  }

  get(): SettingsView {
    const flags = mergeFlags(this.o.flags, this.o.explicit, this.stored.values);
    const fields: Record<string, FieldView> = {};
    for (const f of LIVE_FIELDS) {
      const given = this.o.explicit.has(f.option);
      const source = given ? "command line" : this.stored.values[f.key] !== undefined ? "saved" : "default";
      const raw = (flags as Record<string, unknown>)[f.option];
      let value = raw === undefined ? undefined : f.numeric ? Number(raw) : raw;
      if (f.key === "dhcpMode" && value === undefined) value = this.cfg.dhcp.mode;
      if (f.key === "interfaces" && value === undefined && this.cfg.dhcp.interfaces.length) value = this.cfg.dhcp.interfaces.map((i) => i.name);
      fields[f.key] = {
        label: f.label,
        flag: f.flag,
        ...(value === undefined ? {} : { value }),
        source,
        editable: given ? "command line" : "live",
        ...(given ? { reason: fixedReason(f, raw) } : {}),
      };
    }
    const c = this.cfg;
    const restart: Record<string, unknown> = {
      httpPort: c.http.port,
      listen: c.http.listen,
      tftp: c.tftp.enabled,
      tftpPort: c.tftp.port,
      dhcpPort: c.dhcp.port,
      pxePort: c.dhcp.pxePort,
      ipxeDir: c.ipxeDir ?? "embedded",
      ipxeBuild: c.ipxeDir ? "--" : c.ipxeBuild,
      apiSubnets: this.o.flags.apiSubnet ?? [],
      secureCookies: !!this.o.flags.secureCookies,
      insecureRuntime: !c.runtime.secure,
      maxImageStreams: c.http.maxImageStreams,
    };
    for (const f of RESTART_FIELDS) {
      fields[f.key] = { label: f.label, flag: f.flag, value: restart[f.key], source: this.o.explicit.has(f.option) ? "command line" : "default", editable: "restart", reason: `set with ${f.flag} when drover serve starts; restart it to change` };
    }
    return {
      running: this.cfg,
      dataDir: this.o.dataDir,
      fields,
      interfaces: this.hosts(),
      ...(this.stored.changed ? { changed: this.stored.changed } : {}),
      ...(this.warning ? { warning: this.warning } : {}),
    };
  }

  update(patch: SettingsPatch, user: string): Promise<SettingsView> {
    const run = this.queue.then(() => this.change(patch, user));
    this.queue = run.catch(() => {});
    return run;
  }

  /**
   * Puts values saved by another process into effect (`drover settings import` while this server runs; it
   * signals SIGHUP): re-reads the storage, and when the saved values differ from those in effect, validates and
   * applies them as a change would. A failure keeps the running configuration and says why on the page.
   * Returns the lines that changed (none when nothing did).
   */
  reload(): Promise<string[]> {
    const run = this.queue.then(() => this.reloadNow());
    this.queue = run.catch(() => {});
    return run;
  }

  private async reloadNow(): Promise<string[]> {
    const loaded = this.o.storage.load() ?? { values: {} };
    const what = describeChange(this.stored.values, loaded.values);
    if (!what.length) return [];
    let next: Readonly<ServeConfig>;
    try {
      next = resolveWithFields(mergeFlags(this.o.flags, this.o.explicit, loaded.values), this.o.dataDir, this.hosts());
      if (this.apply && JSON.stringify(next) !== JSON.stringify(this.cfg)) await this.apply(next, this.cfg);
    } catch (e) {
      this.warning = `the saved settings (${loaded.changed ? `changed by ${loaded.changed.by}` : "changed elsewhere"}) are not in effect: ${(e as Error).message}; the previous settings stay in effect: fix the field on the Settings page`;
      this.o.log?.(`drover: ${this.warning}`);
      throw e;
    }
    this.cfg = next;
    this.stored = loaded;
    this.warning = undefined;
    this.o.log?.(`drover: saved settings reloaded${loaded.changed ? ` (changed by ${loaded.changed.by})` : ""}: ${what.join("; ")}`);
    return what;
  }

  private async change(patch: SettingsPatch, user: string): Promise<SettingsView> {
    if (!this.apply) throw conflict("the settings cannot change before drover serve has started its servers");
    // Start from what is saved now: another process (settings import) may have saved since this one read.
    const values: SavedSettings = { ...(this.o.storage.load() ?? this.stored).values };
    for (const [k, given] of Object.entries(patch)) {
      const f = BY_KEY.get(k);
      if (!f) throw invalid(`${k}: not a setting that can change while drover runs`);
      if (given === undefined) continue;
      // An empty text or list is no value: the default (no pool, no DNS, the only interface) applies.
      const v = given === "" || (Array.isArray(given) && given.length === 0) ? null : given;
      if (this.o.explicit.has(f.option)) throw conflict(`${k}: ${fixedReason(f, (this.o.flags as Record<string, unknown>)[f.option])}`);
      if (v === null) delete values[f.key];
      else (values as Record<string, unknown>)[f.key] = v;
    }
    const next = resolveWithFields(mergeFlags(this.o.flags, this.o.explicit, values), this.o.dataDir, this.hosts());
    const what = describeChange(this.stored.values, values);
    if (!what.length) return this.get();
    const prev = this.cfg;
    const changesServers = JSON.stringify(next) !== JSON.stringify(prev);
    if (changesServers) {
      try {
        await this.apply(next, prev);
      } catch (e) {
        this.o.log?.(`drover: settings change by ${user} refused, the previous settings stay in effect: ${(e as Error).message}`);
        if (e instanceof DroverError) throw new DroverError(e.kind, `${e.message}; the previous settings stay in effect and nothing was saved`, e.details);
        throw conflict(`the new settings could not be put into effect (${(e as Error).message}); the previous settings stay in effect and nothing was saved`);
      }
    }
    const stored: StoredSettings = { values, changed: { at: (this.o.now ?? Date.now)(), by: user, what } };
    try {
      this.o.storage.save(stored);
    } catch (e) {
      if (changesServers) await this.apply(prev, next).catch((x) => this.o.log?.(`drover: restoring the previous settings failed: ${(x as Error).message}`));
      throw e;
    }
    this.cfg = next;
    this.stored = stored;
    this.warning = undefined;
    this.o.log?.(`drover: settings changed by ${user}: ${what.join("; ")}`);
    return this.get();
  }
}

function fixedReason(f: FieldSpec, value: unknown): string {
  const flag = f.key === "ipv6Ra" && value === false ? "--no-ipv6-ra" : f.flag;
  return `set by ${flag} on the command line; restart drover serve without it to change it here`;
}

const show = (v: unknown) => (v === undefined ? "(default)" : Array.isArray(v) ? `[${v.join(", ")}]` : String(v));

/** "pool: (default) → 10.0.0.100-10.0.0.199" for every field whose saved value changed. */
export function describeChange(before: SavedSettings, after: SavedSettings): string[] {
  const out: string[] = [];
  for (const f of LIVE_FIELDS) {
    const a = before[f.key];
    const b = after[f.key];
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${f.key}: ${show(a)} → ${show(b)}`);
  }
  return out;
}

/** Settings kept in memory only (tests, benchmarks). */
export function memorySettingsStorage(initial?: StoredSettings): SettingsStorage {
  let s = initial;
  return { load: () => s && structuredClone(s), save: (v) => void (s = structuredClone(v)) };
}

/** The saved settings as one row of a key → JSON settings table. */
export function keyValueSettingsStorage(kv: { get<T>(key: string): T | undefined; set(key: string, value: unknown): void }, key = "serve"): SettingsStorage {
  return { load: () => kv.get<StoredSettings>(key), save: (s) => kv.set(key, s) };
}
