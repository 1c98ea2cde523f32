import { resolve } from "../domain/cascade";
import type { Conf } from "../domain/conf";
import type { NodeStore, StoreRevision } from "./ports";

/** A node after the cascade, as the snapshot holds it. */
export interface SnapshotNode {
  name: string;
  conf: Conf;
  profiles: readonly string[];
}

/** Every node and profile at one moment. Never changed once handed out, except `changedFrom` (below). */
export interface NodeView {
  readonly profiles: ReadonlyMap<string, Conf>;
  /**
   * Every node after the cascade. A new map whenever anything changed, so readers may keep what they
   * derive from it by its identity (the API's node table); an unchanged node keeps its object.
   */
  readonly resolved: ReadonlyMap<string, SnapshotNode>;
  /**
   * When this view was made from `base` by re-resolving a few changed nodes (none added or removed, no
   * profile changed): their names, so a reader that derived something from `base` updates only those.
   * Dropped once a newer view exists.
   */
  changedFrom?: { base: NodeView; names: readonly string[] };
}

interface State {
  version?: string;
  /** The store's change counters when this state was read. */
  rev: StoreRevision;
  /** Nodes' own documents, as read, and as JSON (what tells a changed document). */
  own: Map<string, Conf>;
  nodeJson: Map<string, string>;
  profilesJson: string;
  profiles: Map<string, Conf>;
  view: NodeView;
  /** MAC → node name, built on the first byMac() of this state and kept up to date by applyChanges. */
  macs?: Map<string, string>;
}

/**
 * The app-wide node cache: all nodes resolved, following writes by any process in a few milliseconds. It
 * re-resolves only the nodes whose document changed (all of them when a profile changed), found by the
 * store's change counters (StoreTx.revision, nodesWrittenSince), so a poll over 10,000 nodes reads none of
 * them. Used by the overlays (their peer views), the API's node table and the HTTP boot routes (which node
 * a MAC is), so a boot request resolves its node once.
 */
export class NodeSnapshot {
  private state?: State;

  constructor(
    private readonly o: {
      nodeStore: NodeStore;
      /**
       * A cheap value that changes whenever anything may have been written (the composition root derives it
       * from SQLite). Without it every call asks the store for its change counters (one small read).
       */
      version?: () => string;
    },
  ) {}

  /** The nodes now. */
  current(): NodeView {
    const version = this.o.version?.();
    const prev = this.state;
    if (prev && version !== undefined && prev.version === version) return prev.view;
    // What changed since the last look, by the store's change counters: only the nodes written since then
    // are read. A profile change or a deletion reads everything again (and re-resolves what differs).
    const seen = this.o.nodeStore.read((tx) => {
      const rev = tx.revision();
      if (!prev || rev.profiles !== prev.rev.profiles || rev.nodeDeletes !== prev.rev.nodeDeletes)
        return { rev, all: { nodes: tx.nodes(), profiles: tx.profiles() } };
      return { rev, docs: rev.nodes === prev.rev.nodes ? new Map<string, Conf>() : tx.nodes(tx.nodesWrittenSince(prev.rev.nodes)) };
    });
    let all = seen.all;
    let rev = seen.rev;
    if (!all) {
      const quick = this.applyChanges(prev!, seen.docs!, rev, version);
      if (quick) return quick;
      // A node was added: the general path, on one consistent reading.
      ({ rev, all } = this.o.nodeStore.read((tx) => ({ rev: tx.revision(), all: { nodes: tx.nodes(), profiles: tx.profiles() } })));
    }
    const { nodes, profiles } = all;
    const profilesJson = JSON.stringify([...profiles.entries()]);
    const profilesSame = prev?.profilesJson === profilesJson;
    const nodeJson = new Map<string, string>();
    const resolved = new Map<string, SnapshotNode>();
    let changed = !prev || nodes.size !== prev.view.resolved.size;
    for (const [name, own] of nodes) {
      const old = prev?.view.resolved.get(name);
      const json = JSON.stringify(own);
      if (old && profilesSame && prev!.nodeJson.get(name) === json) {
        nodeJson.set(name, prev!.nodeJson.get(name)!);
        resolved.set(name, old);
        continue;
      }
      nodeJson.set(name, json);
      changed = true;
      const r = resolve(own, (p) => profiles.get(p));
      resolved.set(name, { name, conf: r.conf, profiles: r.profiles });
    }
    if (prev && !changed) {
      prev.version = version;
      prev.rev = rev;
      return prev.view;
    }
    if (prev) prev.view.changedFrom = undefined;
    this.state = { version, rev, own: nodes, nodeJson, profilesJson, profiles, view: { profiles, resolved } };
    return this.state.view;
  }

  /** One node after the cascade, or undefined. */
  node(name: string): SnapshotNode | undefined {
    return this.current().resolved.get(name);
  }

  /** The node that has this (normalized) MAC on one of its network devices. */
  byMac(mac: string): SnapshotNode | undefined {
    const view = this.current();
    const st = this.state!;
    if (!st.macs) {
      st.macs = new Map();
      for (const n of view.resolved.values()) addMacs(st.macs, n);
    }
    const name = st.macs.get(mac);
    return name === undefined ? undefined : view.resolved.get(name);
  }

  /**
   * The common case at scale: a few nodes changed, none was added or removed, profiles did not change.
   * Costs the changed nodes plus one O(N) copy of pointers (the new `resolved` map). Returns undefined when
   * the general path must run (a node was added).
   */
  private applyChanges(prev: State, docs: Map<string, Conf>, rev: StoreRevision, version: string | undefined): NodeView | undefined {
    for (const name of docs.keys()) if (!prev.view.resolved.has(name)) return undefined;
    prev.version = version;
    prev.rev = rev;
    let resolved: Map<string, SnapshotNode> | undefined;
    const names: string[] = [];
    for (const [name, own] of docs) {
      const j = JSON.stringify(own);
      if (prev.nodeJson.get(name) === j) continue;
      resolved ??= new Map(prev.view.resolved);
      prev.nodeJson.set(name, j);
      prev.own.set(name, own);
      const r = resolve(own, (p) => prev.profiles.get(p));
      const next = { name, conf: r.conf, profiles: r.profiles };
      if (prev.macs) {
        for (const d of Object.values(resolved.get(name)!.conf.networkDevices ?? {}))
          if (d.hwaddr && prev.macs.get(d.hwaddr) === name) prev.macs.delete(d.hwaddr);
        addMacs(prev.macs, next);
      }
      resolved.set(name, next);
      names.push(name);
    }
    if (!resolved) return prev.view;
    const base = prev.view;
    base.changedFrom = undefined;
    prev.view = { profiles: prev.profiles, resolved, changedFrom: { base, names } };
    return prev.view;
  }
}

function addMacs(macs: Map<string, string>, n: SnapshotNode) {
  for (const d of Object.values(n.conf.networkDevices ?? {})) if (d.hwaddr) macs.set(d.hwaddr, n.name);
}
