import { streamSSE } from "hono/streaming";
import { z } from "zod";
import { type Conf, SECRET_MASK, maskSecrets } from "../../domain/conf";
import { expandHostlists } from "../../domain/hostlist";
import type { BootBusEvent } from "../../services/events";
import type { ApiDeps } from "./context";
import { type ApiRouter, names, param } from "./router";

/** A change to a node or profile: `set` deep-merges (nodes.conf shape, camelCase keys), `unset` removes paths. */
const patch = z.object({
  set: z.record(z.string(), z.unknown()).optional(),
  unset: z.array(z.array(z.string().min(1)).min(1)).optional(),
  allowMissingImage: z.boolean().optional(),
});

export interface NodeSummary {
  name: string;
  profiles: string[];
  image?: string;
  ipaddr?: string;
  hwaddr?: string;
  comment?: string;
  cluster?: string;
  discoverable?: boolean;
}

/**
 * The BMC password and the asset key never leave the server through the API (the page's password field is
 * write-only): they are shown as a mask, so the page can still say that one is set and where it comes from.
 */
const masked = (p: { own: Conf; conf: Conf; provenance: readonly { secret?: boolean; value?: unknown }[] }) => ({
  own: maskSecrets(p.own),
  conf: maskSecrets(p.conf),
  provenance: p.provenance.map((x) => (x.secret && x.value !== undefined ? { ...x, value: SECRET_MASK } : x)),
});

const list = (v: string | string[]) => expandHostlists(Array.isArray(v) ? v : v.split(/[\s,]+(?![^[]*\])/).filter(Boolean));

export function nodeRoutes(r: ApiRouter, deps: ApiDeps) {
  // The table's rows for 10,000 nodes: built from the node snapshot (only changed nodes are resolved again)
  // and kept as JSON until a node or profile changes.
  const summaries = new WeakMap<object, string>();
  const summaryJson = () => {
    const resolved = deps.snapshot.current().resolved;
    let json = summaries.get(resolved);
    if (!json) {
      const rows: NodeSummary[] = [];
      for (const n of resolved.values()) {
        const c = n.conf;
        const devs = c.networkDevices ?? {};
        const primary = devs[c.primaryNetwork ?? ""] ?? Object.values(devs)[0];
        rows.push({
          name: n.name,
          profiles: [...n.profiles],
          ...(c.image ? { image: c.image } : {}),
          ...(primary?.ipaddr ? { ipaddr: primary.ipaddr } : {}),
          ...(primary?.hwaddr ? { hwaddr: primary.hwaddr } : {}),
          ...(c.comment ? { comment: c.comment } : {}),
          ...(c.cluster ? { cluster: c.cluster } : {}),
          ...(c.discoverable ? { discoverable: true } : {}),
        });
      }
      rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      json = JSON.stringify(rows);
      summaries.set(resolved, json);
    }
    return json;
  };

  // ---- nodes ----
  r.add({ method: "get", path: "/nodes", tag: "nodes", summary: "every node, one summary row each (name, profiles, image, address, MAC)" }, (c) =>
    c.body(summaryJson(), 200, { "content-type": "application/json" }),
  );
  r.add(
    {
      method: "post",
      path: "/nodes",
      tag: "nodes",
      status: 201,
      summary: "add nodes: a hostlist of names (n[001-004]) and their fields; addresses increment per node",
      body: patch.extend({ names }),
    },
    (c, { body }) =>
      c.json(
        { added: deps.nodes.addNodes(list(body.names), { set: body.set as Conf, unset: body.unset }, { allowMissingImage: body.allowMissingImage }) },
        201,
      ),
  );
  r.add(
    { method: "patch", path: "/nodes", tag: "nodes", summary: "change many nodes at once (bulk set profile, image, …)", body: patch.extend({ nodes: names }) },
    (c, { body }) =>
      c.json({ changed: deps.nodes.setNodes(list(body.nodes), { set: body.set as Conf, unset: body.unset }, { allowMissingImage: body.allowMissingImage }) }),
  );
  r.add(
    { method: "get", path: "/nodes/:name", tag: "nodes", summary: "one node: its own fields, the resolved fields with provenance, and its boot status" },
    (c) => {
      const n = deps.nodes.getNode(param(c, "name"));
      const status = deps.bootStatus.seen().find((s) => s.node === n.name) ?? { node: n.name, state: "never seen" };
      return c.json({ name: n.name, ...masked(n), profiles: n.profiles, problems: [...n.problems, ...deps.images.nodeProblems(n)], status });
    },
  );
  r.add({ method: "patch", path: "/nodes/:name", tag: "nodes", summary: "change one node's fields", body: patch }, (c, { body }) =>
    c.json({ changed: deps.nodes.setNodes([param(c, "name")], { set: body.set as Conf, unset: body.unset }, { allowMissingImage: body.allowMissingImage }) }),
  );
  r.add({ method: "delete", path: "/nodes/:name", tag: "nodes", summary: "delete nodes (a name, hostlist or glob)" }, (c) =>
    c.json({ deleted: deps.nodes.deleteNodes([param(c, "name")]) }),
  );
  r.add(
    {
      method: "get",
      path: "/nodes/:name/events",
      tag: "status",
      summary: "a node's boot event history, newest first",
      query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
    },
    (c, { query }) => c.json(deps.bootStatus.events(param(c, "name"), query.limit)),
  );
  r.add(
    {
      method: "get",
      path: "/nodes/:name/overlay",
      tag: "overlays",
      // What the node is given, secrets included: its private SSH host keys, keys and passwords templates print.
      adminOnly: true,
      summary: "the files a node gets from its system or runtime overlays, rendered (preview; nothing is cached); admins only",
      query: z.object({ kind: z.enum(["system", "runtime"]).default("system") }),
    },
    async (c, { query }) => {
      const n = deps.nodes.getNode(param(c, "name"));
      const overlays = (query.kind === "system" ? n.conf.systemOverlay : n.conf.runtimeOverlay) ?? [];
      const dec = new TextDecoder("utf-8", { fatal: true });
      // A template that cannot render for this node is an `invalid` error (400) whose message says how to fix it.
      const entries = await deps.overlays.preview(n.name, overlays);
      const files = entries.map((e) => {
        let text: string | undefined;
        if (e.type === "file" && e.data.length <= 256 * 1024) {
          try {
            text = dec.decode(e.data);
          } catch {
            text = undefined; // binary
          }
        }
        return {
          path: e.path,
          type: e.type,
          mode: e.mode,
          uid: e.uid,
          gid: e.gid,
          size: e.data.length,
          ...(text !== undefined ? { text } : {}),
          ...(e.target ? { target: e.target } : {}),
        };
      });
      return c.json({ node: n.name, kind: query.kind, overlays, files });
    },
  );

  // ---- profiles ----
  r.add({ method: "get", path: "/profiles", tag: "profiles", summary: "every profile with its own and resolved fields" }, (c) =>
    c.json(deps.nodes.listProfiles([]).map((p) => ({ name: p.name, ...masked(p), profiles: p.profiles }))),
  );
  r.add(
    {
      method: "get",
      path: "/profiles/:name",
      tag: "profiles",
      summary: "one profile with provenance, and who lists it: `users` {nodes (first 50), nodeCount, profiles}",
    },
    (c) => {
      const name = param(c, "name");
      const u = deps.nodes.profileUsers(name);
      const [p] = deps.nodes.listProfiles([name]);
      return c.json({
        name: p!.name,
        ...masked(p!),
        profiles: p!.profiles,
        users: { nodes: u.nodes.slice(0, 50), nodeCount: u.nodes.length, profiles: u.profiles },
      });
    },
  );
  r.add(
    { method: "post", path: "/profiles", tag: "profiles", status: 201, summary: "add a profile", body: patch.extend({ name: z.string().min(1) }) },
    (c, { body }) =>
      c.json({ added: deps.nodes.addProfiles([body.name], { set: body.set as Conf, unset: body.unset }, { allowMissingImage: body.allowMissingImage }) }, 201),
  );
  r.add({ method: "patch", path: "/profiles/:name", tag: "profiles", summary: "change a profile (its nodes are re-checked)", body: patch }, (c, { body }) =>
    c.json({
      changed: deps.nodes.setProfiles([param(c, "name")], { set: body.set as Conf, unset: body.unset }, { allowMissingImage: body.allowMissingImage }),
    }),
  );
  r.add(
    {
      method: "delete",
      path: "/profiles/:name",
      tag: "profiles",
      summary: "delete a profile no node uses",
      query: z.object({ force: z.stringbool().optional() }),
    },
    (c, { query }) => c.json({ deleted: deps.nodes.deleteProfiles([param(c, "name")], { force: !!query.force }) }),
  );

  // ---- boot status and the live stream ----
  r.add({ method: "get", path: "/status/nodes", tag: "status", summary: "boot status of every node seen at least once (others are 'never seen')" }, (c) =>
    c.json(deps.bootStatus.seen()),
  );
  r.add(
    {
      method: "get",
      path: "/events",
      tag: "status",
      summary:
        "Server-Sent Events: `hello` first ({at: the server's clock, heartbeatSeconds: a node is overdue after 3 missed}), then `boot` for every " +
        "recorded boot event (nodes and unknown MACs)",
      returns: "text/event-stream",
    },
    (c) =>
      streamSSE(c, async (stream) => {
        const queue: BootBusEvent[] = [];
        let wake: (() => void) | undefined;
        const off = deps.events.subscribe((e) => {
          if (queue.length < 10_000) queue.push(e); // a stalled client loses events rather than memory
          wake?.();
        });
        let closed = false;
        stream.onAbort(() => {
          closed = true;
          off();
          wake?.();
        });
        await stream.writeSSE({ event: "hello", data: JSON.stringify({ at: Date.now(), heartbeatSeconds: deps.bootStatus.heartbeatSeconds }) });
        while (!closed) {
          if (queue.length === 0) {
            // A comment every 25 s keeps proxies from closing an idle stream.
            await new Promise<void>((res) => {
              wake = res;
              setTimeout(res, 25_000);
            });
            wake = undefined;
            if (queue.length === 0 && !closed) await stream.write(": keep-alive\n\n");
            continue;
          }
          const batch = queue.splice(0, queue.length);
          for (const e of batch) await stream.writeSSE({ event: "boot", data: JSON.stringify(e) });
        }
        off();
      }),
  );

  // ---- discovery inbox ----
  r.add({ method: "get", path: "/discovery", tag: "discovery", summary: "unknown MACs that asked to boot, and the nodes marked discoverable" }, (c) =>
    c.json({ inbox: deps.inbox.list(), discoverable: deps.inbox.discoverable() }),
  );
  r.add(
    {
      method: "post",
      path: "/discovery/:mac/accept",
      tag: "discovery",
      summary: "accept an unknown MAC: as a new node (name, optional profiles/address) or bound to a discoverable node (node)",
      body: z.union([
        z.object({ node: z.string().min(1) }),
        z.object({
          name: z.string().min(1),
          profiles: z.array(z.string().min(1)).optional(),
          ipaddr: z.string().optional(),
          netmask: z.string().optional(),
          device: z.string().optional(),
        }),
      ]),
    },
    (c, { body }) => {
      const mac = param(c, "mac");
      const node = "node" in body ? deps.inbox.bind(mac, body.node) : deps.inbox.acceptAsNew(mac, body.name, body);
      return c.json({ node });
    },
  );
  r.add(
    {
      method: "post",
      path: "/discovery/:mac/ignore",
      tag: "discovery",
      summary: "ignore (or stop ignoring) an unknown MAC",
      body: z.object({ ignored: z.boolean().default(true) }),
    },
    (c, { body }) => {
      deps.inbox.ignore(param(c, "mac"), body.ignored);
      return c.json({ ok: true });
    },
  );
  r.add({ method: "delete", path: "/discovery/:mac", tag: "discovery", summary: "remove an unknown MAC from the inbox" }, (c) => {
    deps.inbox.forget(param(c, "mac"));
    return c.json({ ok: true });
  });
}
