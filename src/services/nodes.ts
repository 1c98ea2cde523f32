import { type Resolved, findProfileCycle, resolve } from "../domain/cascade";
import { type Conf, NODE_DEFAULTS, maskSecrets } from "../domain/conf";
import { DroverError, conflict, inUse, invalid, notFound } from "../domain/errors";
import { expandHostlist, matchNames } from "../domain/hostlist";
import { addToIPv4, formatIPv4, parseIPv4, requireHostname } from "../domain/net";
import type { NodesConf } from "../domain/nodesconf";
import { type ConfPatch, applyPatch } from "../domain/patch";
import { checkResolvedNode, normalizeConf } from "../domain/validate";
import type { AddressEntry, AddressOwner, NodeStore, StoreTx } from "./ports";

export interface WriteOptions {
  /** Allow references to images that are not imported yet (a site moving in before its images). */
  allowMissingImage?: boolean;
}

export interface DiscoveryPolicy {
  /** Register unknown MACs as new nodes (when no node is discoverable). */
  register?: {
    /** Hostlist of names to take in order, e.g. n[001-999]. */
    pattern: string;
    /** Addresses to assign, in order; those already used are skipped. */
    range?: { start: string; end: string; netmask: string; gateway?: string; exclude?: string[] };
    profiles?: string[];
  };
}

export interface ResolvedNode extends Resolved {
  name: string;
  /** The node's own document, before the cascade. */
  own: Conf;
}

/** The profile every new node gets, created on first start. Mirrors Warewulf's default profile. */
export const DEFAULT_PROFILE: Conf = {
  comment: "This profile is automatically included for each node",
  runtimeOverlay: ["hosts", "ssh.authorized_keys", "syncuser"],
  systemOverlay: ["wwinit", "wwclient", "fstab", "hostname", "ssh.host_keys", "issue", "resolv", "NetworkManager", "systemd.networkd", "ifupdown"],
  kernel: { args: [...NODE_DEFAULTS.kernelArgs] },
  init: NODE_DEFAULTS.init,
  root: NODE_DEFAULTS.root,
  ipxe: NODE_DEFAULTS.ipxe,
};

/**
 * Nodes and profiles: the use cases behind `node …` and `profile …` on the CLI and the API.
 * Every write runs in one immediate transaction that re-reads what it validates against, so a
 * write either happens whole and valid or not at all, whichever process gets there first.
 */
export class NodeService {
  constructor(private readonly store: NodeStore) {}

  /** Creates the default profile the first time a data dir is used. */
  initialize(): void {
    this.store.write((tx) => {
      if (tx.getSetting("initialized")) return;
      if (!tx.profiles().has("default")) tx.putProfile("default", DEFAULT_PROFILE);
      tx.setSetting("initialized", new Date().toISOString());
    });
  }

  // ---- nodes ----

  /**
   * Adds nodes. A hostlist of names with `--ipaddr`/`--ipmiaddr` gives each node the next address.
   * New nodes get the `default` profile unless the patch names profiles.
   */
  addNodes(names: readonly string[], patch: ConfPatch, opts: WriteOptions = {}): string[] {
    if (names.length === 0) throw invalid("no node names given; e.g. drover node add n[001-004] --ipaddr 10.0.0.11/24");
    for (const n of names) requireHostname(n);
    return this.store.write((tx) => {
      const existing = new Set(tx.nodes(names).keys());
      if (existing.size)
        throw conflict(
          `node${existing.size > 1 ? "s" : ""} already exist: ${[...existing].slice(0, 10).join(", ")}${existing.size > 10 ? " …" : ""}; use 'drover ` +
            `node set' to change ${existing.size > 1 ? "them" : "it"}`,
        );
      const changes = names.map((name, i) => {
        const set = incrementAddresses(patch.set ?? {}, i);
        const base: Conf = { profiles: set.profiles ? [] : ["default"] };
        return { name, conf: applyPatch(base, { set, unset: patch.unset }) };
      });
      this.commitNodes(tx, changes, opts);
      return names.slice();
    });
  }

  setNodes(patterns: readonly string[], patch: ConfPatch, opts: WriteOptions & { all?: boolean } = {}): string[] {
    return this.store.write((tx) => {
      const names = this.match(tx, patterns, opts.all);
      const current = tx.nodes(names);
      const changes = names.map((name) => ({ name, conf: applyPatch(current.get(name)!, patch) }));
      this.commitNodes(tx, changes, opts);
      return names;
    });
  }

  deleteNodes(patterns: readonly string[]): string[] {
    return this.store.write((tx) => {
      const names = this.match(tx, patterns, false);
      tx.deleteNodes(names);
      return names;
    });
  }

  /** Replaces nodes' own documents whole (node edit, node import). Nodes not present are created. */
  replaceNodes(docs: Record<string, Conf>, opts: WriteOptions = {}): string[] {
    const names = Object.keys(docs);
    for (const n of names) requireHostname(n);
    return this.store.write((tx) => {
      this.commitNodes(
        tx,
        names.map((name) => ({ name, conf: docs[name]! })),
        opts,
      );
      return names;
    });
  }

  listNodes(patterns: readonly string[] = []): ResolvedNode[] {
    return this.store.read((tx) => {
      const profiles = tx.profiles();
      const all = tx.nodes();
      const names = matchNames([...all.keys()], patterns);
      if (patterns.length && names.length === 0) throw notFound(`no node matches ${patterns.join(" ")}; 'drover node list' shows the nodes there are`);
      return names.map((name) => ({ name, own: all.get(name)!, ...resolve(all.get(name)!, (p) => profiles.get(p)) }));
    });
  }

  /**
   * Calls fn with every node, resolved, a few hundred at a time, so that they need not all be in memory at
   * once (warming caches at start). Each chunk is its own snapshot.
   */
  eachNode(fn: (n: ResolvedNode) => void, chunk = 500): void {
    const names = this.store.read((tx) => tx.nodeNames());
    for (let i = 0; i < names.length; i += chunk) {
      const part = names.slice(i, i + chunk);
      const nodes = this.store.read((tx) => {
        const profiles = tx.profiles();
        return [...tx.nodes(part)].map(([name, own]): ResolvedNode => ({ name, own, ...resolve(own, (p) => profiles.get(p)) }));
      });
      for (const n of nodes) fn(n);
    }
  }

  getNode(name: string): ResolvedNode {
    const n = this.findNode(name);
    if (!n) throw notFound(`node '${name}' does not exist; 'drover node list' shows the nodes there are`);
    return n;
  }

  /** One node, resolved; undefined when there is none. Indexed lookups only (boot paths call this). */
  findNode(name: string): ResolvedNode | undefined {
    return this.store.read((tx) => this.resolveIn(tx, name));
  }

  /** The node that has this MAC on one of its network devices. */
  findByMac(mac: string): ResolvedNode | undefined {
    // Every MAC of every node is loaded once per store version (any node or profile write by any process
    // changes it; it is read before the index, so the index is never older than its key): an unknown MAC,
    // a pool client's every packet, is a Map miss without a transaction.
    const v = this.cachedAt();
    if (v !== undefined && this.macIndex && !this.macIndex.has(`mac:${mac}`)) return undefined;
    return this.store.read((tx) => {
      if (v !== undefined) this.macIndex ??= tx.addresses();
      const name = this.macIndex ? this.macIndex.get(`mac:${mac}`)?.node : tx.nodeByAddress("mac", mac);
      return name ? this.resolveIn(tx, name) : undefined;
    });
  }

  /**
   * A token that changes whenever nodes or profiles may have changed (NodeStore.version), for callers that
   * keep what they derived from nodes (the DHCP reservations); undefined when the store has none.
   */
  version(): string | undefined {
    return this.cachedAt();
  }

  private cacheVersion: string | undefined;
  /** Every node address (`mac:…`, `ip:…`), at cacheVersion. */
  private macIndex: Map<string, { node: string }> | undefined;
  /** Whether some node is marked discoverable, at cacheVersion. */
  private discoverable: boolean | undefined;

  /** The store's version, after dropping what was kept at an older one; undefined: the store has none. */
  private cachedAt(): string | undefined {
    const v = this.store.version?.();
    if (v !== undefined && v !== this.cacheVersion) {
      this.discoverable = undefined;
      this.macIndex = undefined;
      this.cacheVersion = v;
    }
    return v;
  }

  /** True when discovery could bind a MAC: a node is marked discoverable, or new nodes may be registered. */
  private canDiscover(policy: DiscoveryPolicy): boolean {
    if (policy.register) return true;
    if (this.cachedAt() === undefined) return true;
    this.discoverable ??= this.store.read((tx) => [...tx.nodes().values()].some((c) => c.discoverable));
    return this.discoverable;
  }

  private resolveIn(tx: StoreTx, name: string): ResolvedNode | undefined {
    const own = tx.nodes([name]).get(name);
    if (!own) return undefined;
    const profiles = tx.profiles();
    return { name, own, ...resolve(own, (p) => profiles.get(p)) };
  }

  /**
   * Discovery: an unknown MAC asked to boot. Binds it to the first node marked discoverable (by name order,
   * as Warewulf does), or, when a registration pattern is given, registers a new node with the next free
   * name and address. Runs in one immediate transaction that first re-checks the MAC, so the same MAC asking
   * twice at once yields one node. Returns the node's name, or undefined when nothing could take it.
   */
  discover(mac: string, policy: DiscoveryPolicy): string | undefined {
    // Nothing to bind to and nothing to register: answered without taking the write lock (a pool client's
    // every packet asks).
    if (!this.canDiscover(policy)) return undefined;
    return this.store.write((tx) => {
      const known = tx.nodeByAddress("mac", mac);
      if (known) return known;
      const all = tx.nodes();
      const profiles = tx.profiles();
      for (const [name, conf] of all) {
        if (!conf.discoverable) continue;
        const r = resolve(conf, (p) => profiles.get(p));
        const net = r.conf.primaryNetwork ?? Object.keys(r.conf.networkDevices ?? {})[0] ?? "default";
        const next = applyPatch(conf, { set: { networkDevices: { [net]: { hwaddr: mac } } }, unset: [["discoverable"]] });
        this.commitNodes(tx, [{ name, conf: next }], { allowMissingImage: true }, profiles);
        return name;
      }
      const reg = policy.register;
      if (!reg) return undefined;
      const name = expandHostlist(reg.pattern).find((n) => !all.has(n));
      if (!name) throw conflict(`discovery: every name of the pattern ${reg.pattern} is taken; widen it (drover serve --register-pattern)`);
      const dev: Conf["networkDevices"] = { default: { hwaddr: mac } };
      if (reg.range) {
        const taken = tx.addresses();
        const start = parseIPv4(reg.range.start)!;
        const end = parseIPv4(reg.range.end)!;
        let ip: string | undefined;
        for (let v = start; v <= end; v++) {
          if (!taken.has(`ip:${formatIPv4(v)}`) && !reg.range.exclude?.includes(formatIPv4(v))) {
            ip = formatIPv4(v);
            break;
          }
        }
        if (!ip) throw conflict(`discovery: no free address left in ${reg.range.start}-${reg.range.end}`);
        dev.default = { ...dev.default, ipaddr: ip, netmask: reg.range.netmask, ...(reg.range.gateway ? { gateway: reg.range.gateway } : {}) };
      }
      const conf: Conf = { profiles: reg.profiles ?? ["default"], networkDevices: dev, comment: `discovered ${new Date().toISOString()}` };
      this.commitNodes(tx, [{ name, conf }], { allowMissingImage: true }, profiles);
      return name;
    });
  }

  counts(): { nodes: number; profiles: number } {
    return this.store.read((tx) => ({ nodes: tx.nodeNames().length, profiles: tx.profiles().size }));
  }

  // ---- profiles ----

  addProfiles(names: readonly string[], patch: ConfPatch, opts: WriteOptions = {}): string[] {
    if (names.length === 0) throw invalid("no profile name given; e.g. drover profile add compute --kernelargs quiet");
    for (const n of names) requireHostname(n, "profile");
    return this.store.write((tx) => {
      const have = tx.profiles();
      const dup = names.filter((n) => have.has(n));
      if (dup.length) throw conflict(`profile already exists: ${dup.join(", ")}; use 'drover profile set' to change it`);
      this.commitProfiles(
        tx,
        names.map((name) => ({ name, conf: applyPatch({}, patch) })),
        opts,
      );
      return names.slice();
    });
  }

  setProfiles(patterns: readonly string[], patch: ConfPatch, opts: WriteOptions & { all?: boolean } = {}): string[] {
    return this.store.write((tx) => {
      const have = tx.profiles();
      const names = opts.all ? [...have.keys()] : matchNames([...have.keys()], patterns);
      if (names.length === 0)
        throw notFound(`no profile matches ${patterns.join(" ") || "(nothing given)"}; 'drover profile list' shows the profiles there are`);
      this.commitProfiles(
        tx,
        names.map((name) => ({ name, conf: applyPatch(have.get(name)!, patch) })),
        opts,
      );
      return names;
    });
  }

  replaceProfiles(docs: Record<string, Conf>, opts: WriteOptions = {}): string[] {
    const names = Object.keys(docs);
    for (const n of names) requireHostname(n, "profile");
    return this.store.write((tx) => {
      this.commitProfiles(
        tx,
        names.map((name) => ({ name, conf: docs[name]! })),
        opts,
      );
      return names;
    });
  }

  deleteProfiles(patterns: readonly string[], opts: { force?: boolean } = {}): string[] {
    return this.store.write((tx) => {
      const have = tx.profiles();
      const names = matchNames([...have.keys()], patterns);
      if (names.length === 0) throw notFound(`no profile matches ${patterns.join(" ")}`);
      const users: string[] = [];
      for (const [n, c] of tx.nodes()) if (c.profiles?.some((p) => names.includes(p))) users.push(`node ${n}`);
      for (const [p, c] of have) if (!names.includes(p) && c.profiles?.some((x) => names.includes(x))) users.push(`profile ${p}`);
      if (users.length && !opts.force) {
        throw inUse(
          `profile ${names.join(", ")} is used by ${users.slice(0, 8).join(", ")}${users.length > 8 ? ` and ${users.length - 8} more` : ""}; remove ` +
            `it from them first (drover node set N --profile …)`,
        );
      }
      for (const n of names) tx.deleteProfile(n);
      return names;
    });
  }

  /** The nodes and profiles that list a profile directly (what `profile delete` refuses for), sorted. */
  profileUsers(name: string): { nodes: string[]; profiles: string[] } {
    return this.store.read((tx) => {
      const have = tx.profiles();
      if (!have.has(name)) throw notFound(`profile '${name}' does not exist; 'drover profile list' shows the profiles there are`);
      const nodes: string[] = [];
      const profiles: string[] = [];
      for (const [n, c] of tx.nodes()) if (c.profiles?.includes(name)) nodes.push(n);
      for (const [p, c] of have) if (p !== name && c.profiles?.includes(name)) profiles.push(p);
      return { nodes: nodes.sort(), profiles: profiles.sort() };
    });
  }

  listProfiles(patterns: readonly string[] = []): ResolvedNode[] {
    return this.store.read((tx) => {
      const profiles = tx.profiles();
      const names = matchNames([...profiles.keys()].sort(), patterns);
      if (patterns.length && names.length === 0) throw notFound(`no profile matches ${patterns.join(" ")}`);
      return names.map((name) => ({ name, own: profiles.get(name)!, ...resolve(profiles.get(name)!, (p) => profiles.get(p), false) }));
    });
  }

  // ---- nodes.conf ----

  exportConf(patterns: readonly string[] = [], showSecrets = false): NodesConf {
    return this.store.read((tx) => {
      const all = tx.nodes();
      const names = matchNames([...all.keys()], patterns);
      const hide = (c: Conf) => (showSecrets ? c : maskSecrets(c, "remove"));
      return {
        profiles: Object.fromEntries([...tx.profiles()].map(([n, c]) => [n, hide(c)])),
        nodes: Object.fromEntries(names.map((n) => [n, hide(all.get(n)!)])),
      };
    });
  }

  /** Imports profiles then nodes in one transaction: all of it, or nothing. */
  importConf(nc: NodesConf, opts: WriteOptions = {}): { profiles: string[]; nodes: string[] } {
    for (const n of Object.keys(nc.nodes)) requireHostname(n);
    for (const n of Object.keys(nc.profiles)) requireHostname(n, "profile");
    return this.store.write((tx) => {
      const profiles = Object.entries(nc.profiles).map(([name, conf]) => ({ name, conf }));
      this.commitProfiles(tx, profiles, opts);
      const nodes = Object.entries(nc.nodes).map(([name, conf]) => ({ name, conf }));
      this.commitNodes(tx, nodes, opts);
      return { profiles: profiles.map((p) => p.name), nodes: nodes.map((n) => n.name) };
    });
  }

  // ---- internals ----

  private match(tx: StoreTx, patterns: readonly string[], all = false): string[] {
    const names = tx.nodeNames();
    if (all) return names;
    if (patterns.length === 0) throw invalid("no nodes given: name them (n[01-04], n*) or pass --all");
    const hit = matchNames(names, patterns);
    if (hit.length === 0) throw notFound(`no node matches ${patterns.join(" ")}; 'drover node list' shows the nodes there are`);
    return hit;
  }

  private commitProfiles(tx: StoreTx, changes: { name: string; conf: Conf }[], opts: WriteOptions) {
    const problems: string[] = [];
    // The details carry one line per problem (the page puts each beside its field), the message the summary.
    const split = new Map<string, string[]>();
    const profiles = tx.profiles();
    const normalized = changes.map(({ name, conf }) => {
      try {
        return { name, conf: normalizeConf(conf, "profile", name) };
      } catch (e) {
        if (e instanceof DroverError) problems.push(e.message);
        else throw e;
        if (e.details.length)
          split.set(
            e.message,
            e.details.map((d) => `profile '${name}': ${d}`),
          );
        return { name, conf };
      }
    });
    if (problems.length)
      throw invalid(
        problems.join("\n"),
        problems.flatMap((p) => split.get(p) ?? [p]),
      );
    for (const c of normalized) profiles.set(c.name, c.conf);
    for (const c of normalized) {
      for (const ref of c.conf.profiles ?? []) {
        const n = ref.replace(/^~/, "");
        if (!profiles.has(n)) problems.push(`profile '${c.name}' refers to profile '${n}', which does not exist`);
      }
      const cycle = findProfileCycle(c.name, (p) => profiles.get(p));
      if (cycle) problems.push(`profile '${c.name}' would form a cycle: ${cycle.join(" → ")}`);
      this.checkImage(tx, `profile '${c.name}'`, c.conf.image, opts, problems);
    }
    if (problems.length) throw invalid(problems.join("\n"), problems);
    for (const c of normalized) tx.putProfile(c.name, c.conf);
    // Nodes that use a changed profile resolve differently now: re-check them and refresh their addresses.
    const changed = new Set(normalized.map((c) => c.name));
    const affected: { name: string; conf: Conf }[] = [];
    for (const [name, conf] of tx.nodes()) {
      const r = resolve(conf, (p) => profiles.get(p));
      if (r.profiles.some((p) => changed.has(p))) affected.push({ name, conf });
    }
    if (affected.length) this.commitNodes(tx, affected, { ...opts, allowMissingImage: true }, profiles);
  }

  private commitNodes(tx: StoreTx, changes: { name: string; conf: Conf }[], opts: WriteOptions, profilesIn?: Map<string, Conf>) {
    const problems: string[] = [];
    // The details carry one line per problem (the page puts each beside its field), the message the summary.
    const split = new Map<string, string[]>();
    const profiles = profilesIn ?? tx.profiles();
    const addresses = tx.addresses();
    const changing = new Set(changes.map((c) => c.name));
    // Addresses held by nodes outside this change stay claimed; those of changing nodes are re-claimed below.
    const claimed = new Map<string, AddressOwner>();
    for (const [k, v] of addresses) if (!changing.has(v.node)) claimed.set(k, v);
    const out: { name: string; conf: Conf; addresses: AddressEntry[] }[] = [];
    for (const { name, conf: raw } of changes) {
      let conf: Conf;
      try {
        conf = normalizeConf(raw, "node", name);
      } catch (e) {
        if (!(e instanceof DroverError)) throw e;
        problems.push(e.message);
        if (e.details.length)
          split.set(
            e.message,
            e.details.map((d) => `node '${name}': ${d}`),
          );
        continue;
      }
      for (const ref of conf.profiles ?? []) {
        const n = ref.replace(/^~/, "");
        if (!profiles.has(n)) problems.push(`node '${name}' refers to profile '${n}', which does not exist; create it with 'drover profile add ${n}'`);
      }
      const r = resolve(conf, (p) => profiles.get(p));
      problems.push(...checkResolvedNode(name, r.conf));
      this.checkImage(tx, `node '${name}'`, r.conf.image, opts, problems);
      const addrs = addressesOf(r.conf);
      for (const a of addrs) {
        const key = `${a.kind}:${a.value}`;
        const held = claimed.get(key);
        if (held) {
          const what = a.kind === "mac" ? "MAC" : "IP address";
          problems.push(`${what} ${a.value} of node '${name}' (${a.owner}) is already used by node '${held.node}' (${held.owner})`);
        } else claimed.set(key, { node: name, owner: a.owner });
      }
      out.push({ name, conf, addresses: addrs });
    }
    if (problems.length) {
      const shown = problems.slice(0, 20);
      if (problems.length > 20) shown.push(`… and ${problems.length - 20} more problems`);
      const isConflict = problems.every((p) => p.includes("is already used by"));
      throw (isConflict ? conflict : invalid)(
        shown.join("\n"),
        problems.flatMap((p) => split.get(p) ?? [p]),
      );
    }
    tx.putNodes(out);
  }

  private imageCache = new WeakMap<StoreTx, Set<string>>();
  private checkImage(tx: StoreTx, who: string, image: string | undefined, opts: WriteOptions, problems: string[]) {
    if (!image || opts.allowMissingImage) return;
    let names = this.imageCache.get(tx);
    if (!names) this.imageCache.set(tx, (names = tx.imageNames()));
    if (!names.has(image)) {
      problems.push(`${who} uses image '${image}', which is not imported; import it first (drover image import SOURCE ${image}) or pass --allow-missing-image`);
    }
  }
}

/** The addresses a resolved node claims: MACs of its network devices, their IPv4/IPv6 addresses, its BMC address. */
export function addressesOf(conf: Conf): AddressEntry[] {
  const out: AddressEntry[] = [];
  for (const [net, dev] of Object.entries(conf.networkDevices ?? {})) {
    if (dev.hwaddr) out.push({ kind: "mac", value: dev.hwaddr, owner: net });
    if (dev.ipaddr) out.push({ kind: "ip", value: dev.ipaddr, owner: net });
    if (dev.ipaddr6) out.push({ kind: "ip", value: dev.ipaddr6.split("/")[0]!.toLowerCase(), owner: net });
  }
  if (conf.ipmi?.ipaddr) out.push({ kind: "ip", value: conf.ipmi.ipaddr, owner: "ipmi" });
  // The same address twice on one node (two devices) is a duplicate too.
  return out;
}

/** For the i-th node of a hostlist: IPv4 addresses in the patch advance by i (Warewulf's behaviour). */
function incrementAddresses(set: Conf, i: number): Conf {
  if (i === 0) return set;
  const c = structuredClone(set);
  for (const dev of Object.values(c.networkDevices ?? {})) {
    if (dev.ipaddr) {
      const [ip, prefix] = dev.ipaddr.split("/");
      dev.ipaddr = addToIPv4(ip!, i) + (prefix !== undefined ? `/${prefix}` : "");
    }
  }
  if (c.ipmi?.ipaddr) {
    const [ip, prefix] = c.ipmi.ipaddr.split("/");
    c.ipmi.ipaddr = addToIPv4(ip!, i) + (prefix !== undefined ? `/${prefix}` : "");
  }
  return c;
}
