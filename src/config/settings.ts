import { DroverError, conflict, invalid } from "../domain/errors";
import { type HostInterface, type ServeConfig, type ServeFlags, type ServeInput, fromFlags, hostInterfaces, inputsGiven, resolveServeConfig } from "./serve";

/**
 * The settings of `drover serve` that can change while it runs (the Settings page, PATCH /api/v1/settings),
 * how they combine with the command line, and the one object that holds the running configuration.
 *
 * The command line is parsed once into typed input (fromFlags); the saved values are typed input's live
 * fields. Per field: a flag given on the command line > the value saved from the page > the flag's default. A flag
 * on the command line fixes its field (the page shows it disabled, a change is refused): what an admin typed
 * into a unit file stays true after a restart. A change is validated whole by resolveServeConfig, the code
 * that validates the flags; then applied (the composition root restarts DHCP and RA, updates discovery and
 * the overlays); then saved. A failure at any step leaves the running configuration and the saved values
 * as they were.
 */
/** The fields of the input that the page changes while drover serve runs, as it saves them. */
export type LiveSettings = Required<
  Pick<
    ServeInput,
    | "dhcpMode"
    | "interfaces"
    | "serverIp"
    | "router"
    | "dns"
    | "pool"
    | "relaySubnets"
    | "leaseSeconds"
    | "ipv6Ra"
    | "discovery"
    | "registerPattern"
    | "registerRange"
    | "registerProfiles"
    | "pollSeconds"
  >
>;

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
  /** The field's input (its `ServeInput` key), named so in errors' `field`. */
  key: keyof ServeInput;
  flag: string;
  label: string;
}

/** Every live field with its flag, in the order the page shows them. */
export const LIVE_FIELDS: readonly (FieldSpec & { key: SettingKey })[] = [
  { key: "dhcpMode", flag: "--dhcp", label: "DHCP mode" },
  { key: "interfaces", flag: "--interface", label: "Interfaces" },
  { key: "serverIp", flag: "--server-ip", label: "Server address" },
  { key: "router", flag: "--router", label: "Router" },
  { key: "dns", flag: "--dns", label: "DNS servers" },
  { key: "pool", flag: "--pool", label: "Pool" },
  { key: "relaySubnets", flag: "--relay-subnet", label: "Relayed subnets" },
  { key: "leaseSeconds", flag: "--lease-time", label: "Lease time (s)" },
  { key: "ipv6Ra", flag: "--ipv6-ra", label: "IPv6 router advertisements" },
  { key: "discovery", flag: "--discovery", label: "Discovery" },
  { key: "registerPattern", flag: "--register-pattern", label: "Register as" },
  { key: "registerRange", flag: "--register-range", label: "Register addresses" },
  { key: "registerProfiles", flag: "--register-profile", label: "Register with profiles" },
  { key: "pollSeconds", flag: "--poll-interval", label: "Agent poll interval (s)" },
];

/** Fields shown on the page that only a restart with other flags changes. */
export const RESTART_FIELDS: readonly FieldSpec[] = [
  { key: "httpPort", flag: "--port", label: "HTTP port" },
  { key: "listen", flag: "--listen", label: "HTTP and TFTP listen address" },
  { key: "tftp", flag: "--no-tftp", label: "TFTP server" },
  { key: "tftpPort", flag: "--tftp-port", label: "TFTP port" },
  { key: "dhcpPort", flag: "--dhcp-port", label: "DHCP port" },
  { key: "pxePort", flag: "--pxe-port", label: "ProxyDHCP port" },
  { key: "ipxeDir", flag: "--ipxe-dir", label: "iPXE builds" },
  { key: "ipxeBuild", flag: "--ipxe-build", label: "Embedded iPXE" },
  { key: "apiSubnets", flag: "--api-subnet", label: "API open to" },
  { key: "secureCookies", flag: "--secure-cookies", label: "Secure cookies" },
  { key: "insecureRuntime", flag: "--insecure-runtime", label: "Runtime overlays to any port" },
  { key: "maxImageStreams", flag: "--max-image-streams", label: "Image downloads at once (0: no limit)" },
  { key: "leaseSync", flag: "--lease-sync", label: "Lease commits (full: fsync'd)" },
];

const BY_KEY = new Map(LIVE_FIELDS.map((f) => [f.key as string, f]));
const FIELD_KEYS = new Set<string>([...LIVE_FIELDS, ...RESTART_FIELDS].map((f) => f.key));

/**
 * The input `resolveServeConfig` sees: the command line's (its defaults included), with every saved value in
 * place of a field the command line did not give explicitly.
 */
export function withSaved(input: ServeInput, given: ReadonlySet<keyof ServeInput>, saved: SavedSettings): ServeInput {
  const out: Record<string, unknown> = { ...input };
  for (const f of LIVE_FIELDS) {
    const v = saved[f.key];
    if (v !== undefined && !given.has(f.key)) out[f.key] = v;
  }
  return out as ServeInput;
}

/** Runs fromFlags or resolveServeConfig; an invalid value's error names its settings field first ("pool: --pool …"). */
function namingFields<T>(run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (!(e instanceof DroverError) || e.kind !== "invalid") throw e;
    const field = settingOf(e);
    throw field ? new DroverError("invalid", `${field}: ${e.message}`, e.details, field) : e;
  }
}

/** resolveServeConfig, with an invalid value's error naming the settings field first ("pool: --pool …"). */
export function resolveWithFields(input: ServeInput, dataDir: string, hosts: HostInterface[]): Readonly<ServeConfig> {
  return namingFields(() => resolveServeConfig(input, dataDir, hosts));
}

/** The settings field an error of resolveServeConfig or fromFlags is about (its `field`, an input's name, is the field's key). */
export function settingOf(e: DroverError): string | undefined {
  return e.field !== undefined && FIELD_KEYS.has(e.field) ? e.field : undefined;
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
  /** `drover serve`'s options, commander defaults included; parsed once, into typed input (fromFlags). */
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
  /** The command line as typed input, and the inputs it gave explicitly (fixed: the page cannot change them). */
  private readonly cli: ServeInput;
  private readonly given: ReadonlySet<keyof ServeInput>;

  /** Throws when the command line alone is invalid (as fromFlags and resolveServeConfig do). */
  constructor(private readonly o: ServeSettingsOptions) {
    this.hosts = o.hosts ?? hostInterfaces;
    this.cli = namingFields(() => fromFlags(o.flags));
    this.given = inputsGiven(o.explicit);
    this.stored = o.storage.load() ?? { values: {} };
    const hosts = this.hosts();
    try {
      this.cfg = resolveWithFields(withSaved(this.cli, this.given, this.stored.values), o.dataDir, hosts);
    } catch (e) {
      if (!(e instanceof DroverError) || !Object.keys(this.stored.values).length) throw e;
      // The saved values no longer fit this host (an interface went away): start from the command line
      // alone rather than not at all, and say so on stderr and on the page, where they can be fixed.
      this.cfg = resolveServeConfig(this.cli, o.dataDir, hosts);
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
    const input = withSaved(this.cli, this.given, this.stored.values);
    const fields: Record<string, FieldView> = {};
    for (const f of LIVE_FIELDS) {
      const given = this.given.has(f.key);
      const source = given ? "command line" : this.stored.values[f.key] !== undefined ? "saved" : "default";
      let value: unknown = input[f.key];
      if (f.key === "dhcpMode" && value === undefined) value = this.cfg.dhcp.mode;
      if (f.key === "interfaces" && value === undefined && this.cfg.dhcp.interfaces.length) value = this.cfg.dhcp.interfaces.map((i) => i.name);
      fields[f.key] = {
        label: f.label,
        flag: f.flag,
        ...(value === undefined ? {} : { value }),
        source,
        editable: given ? "command line" : "live",
        ...(given ? { reason: fixedReason(f, this.cli[f.key]) } : {}),
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
      apiSubnets: this.cli.apiSubnets ?? [],
      secureCookies: !!this.cli.secureCookies,
      insecureRuntime: !c.runtime.secure,
      maxImageStreams: c.http.maxImageStreams,
      leaseSync: c.dhcp.leaseSync,
    };
    for (const f of RESTART_FIELDS) {
      fields[f.key] = {
        label: f.label,
        flag: f.flag,
        value: restart[f.key],
        source: this.given.has(f.key) ? "command line" : "default",
        editable: "restart",
        reason: `set with ${f.flag} when drover serve starts; restart it to change`,
      };
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
      next = resolveWithFields(withSaved(this.cli, this.given, loaded.values), this.o.dataDir, this.hosts());
      if (this.apply && JSON.stringify(next) !== JSON.stringify(this.cfg)) await this.apply(next, this.cfg);
    } catch (e) {
      this.warning =
        `the saved settings (${loaded.changed ? `changed by ${loaded.changed.by}` : "changed elsewhere"}) are not in effect: ` +
        `${(e as Error).message}; the previous settings stay in effect: fix the field on the Settings page`;
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
      if (this.given.has(f.key)) throw conflict(`${k}: ${fixedReason(f, this.cli[f.key])}`);
      if (v === null) delete values[f.key];
      else (values as Record<string, unknown>)[f.key] = v;
    }
    const next = resolveWithFields(withSaved(this.cli, this.given, values), this.o.dataDir, this.hosts());
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
