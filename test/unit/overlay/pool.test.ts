import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readArtifact } from "../../../src/boot/artifact";
import { isRefusal } from "../../../src/boot/service";
import type { Conf } from "../../../src/domain/conf";
import { OverlayService } from "../../../src/services/overlays";
import { FIXTURE_NODES, SERVER, type World, world } from "./world";

// `overlay build` on build threads: the same archives as on the calling thread, errors reported per node
// as they would be there, jobs a thread cannot do alone built by the caller, and a thread that dies
// failing the batch with the node and the template it was in (never a hang).

let w: World | undefined;
afterEach(() => w?.cleanup());

const OVERLAYS = {
  systemOverlay: ["wwinit", "wwclient", "hostname", "issue", "NetworkManager", "site"],
  runtimeOverlay: ["hosts", "ssh.authorized_keys", "syncuser"],
};

/** The fixture nodes and 30 more like n-static, so a batch has enough archives for both threads. */
function many(): Record<string, Conf> {
  const nodes: Record<string, Conf> = { ...FIXTURE_NODES };
  for (let i = 0; i < 30; i++) {
    const n = String(i + 20);
    nodes[`n${n}`] = {
      profiles: [],
      image: "rocky",
      tags: { rack: `r${i % 3}` },
      networkDevices: { default: { device: "eth0", hwaddr: `52:54:00:00:01:${n}`, ipaddr: `10.0.0.${n}`, netmask: "255.255.255.0" } },
    };
  }
  return nodes;
}

function service(x: World, threads: number, cache: string): OverlayService {
  return new OverlayService(serviceOpts(x, threads, cache));
}

function serviceOpts(x: World, threads: number, cache: string): ConstructorParameters<typeof OverlayService>[0] {
  return {
    dataDir: join(x.dir, "data"),
    cacheDir: join(x.dir, cache),
    nodeStore: x.nodeStore,
    imageRoot: (n) => (n === "rocky" ? x.imageRoot : undefined),
    server: SERVER,
    headRoot: x.headRoot,
    buildThreads: threads,
    poolMinJobs: 1,
  };
}

function siteTemplate(x: World, path: string, text: string) {
  const dir = join(x.dir, "data", "overlays", "site", path.slice(0, path.lastIndexOf("/")));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(x.dir, "data", "overlays", "site", path), text);
}

describe("build threads", () => {
  test("build the same archives, byte for byte, as the calling thread", async () => {
    w = world(many());
    w.nodes.setNodes(Object.keys(many()), { set: OVERLAYS }, { allowMissingImage: true });
    siteTemplate(w, "etc/rack.eta", "rack <%= it.opt(it.node.tags, 'rack', 'none') %> of <%= it.allNodes.length %>\n");
    const threaded = service(w, 2, "cache-2");
    const single = service(w, 1, "cache-1");
    const a = await threaded.build();
    const b = await single.build();
    expect(a.filter((r) => r.status !== "built")).toEqual([]);
    expect(a).toEqual(b);
    for (const n of Object.keys(many()))
      for (const kind of ["system", "runtime"] as const) {
        const x = await threaded.archive(kind, n);
        const y = await single.archive(kind, n);
        if (isRefusal(x) || isRefusal(y)) throw new Error("refused");
        expect(x.etag).toBe(y.etag);
        expect(readArtifact(x)).toEqual(readArtifact(y));
      }
    // Built by a batch: a second build finds everything current.
    expect((await threaded.build()).every((r) => r.status === "fresh")).toBe(true);
  });

  test("a template's error is that node's outcome, with the message the calling thread gives", async () => {
    w = world(many());
    w.nodes.setNodes(Object.keys(many()), { set: OVERLAYS }, { allowMissingImage: true });
    siteTemplate(w, "etc/rack.eta", "line one\nrack <%= it.node.tags.rack %>\n");
    const a = await service(w, 2, "cache-2").build();
    const b = await service(w, 1, "cache-1").build();
    const errors = a.filter((r) => r.status === "error");
    expect(errors.map((r) => r.node).sort()).toEqual(["n-dhcp", "n-seed", "n-static"]);
    expect(errors[0]!.message).toBe("overlay site, template etc/rack.eta line 2, node n-dhcp: it.node.tags.rack is not defined");
    expect(a).toEqual(b);
  });

  test("a job a thread cannot do alone (a template reads another image) is built by the caller", async () => {
    const nodes = structuredClone(many());
    for (const c of Object.values(nodes)) delete c.image;
    w = world(nodes);
    w.nodes.setNodes(Object.keys(nodes), { set: { systemOverlay: ["hostname", "site"], runtimeOverlay: [] } }, { allowMissingImage: true });
    siteTemplate(w, "etc/from-image.eta", "<%= it.includeFrom('/etc/group', { image: 'rocky' }).split('\\n')[0] %>\n");
    const out = await service(w, 2, "cache-2").build();
    expect(out.filter((r) => r.status !== "built")).toEqual([]);
  });

  test("a template that does not end fails only its node, naming overlay, template and node; the rest is built, not a hang", async () => {
    w = world(many());
    w.nodes.setNodes(Object.keys(many()), { set: OVERLAYS }, { allowMissingImage: true });
    // A template can no longer end its thread (process is not in its scope): it can only run too long.
    siteTemplate(w, "etc/boom.eta", "<% if (it.node.name === 'n35') for (;;) {} %>ok\n");
    const o = new OverlayService({ ...serviceOpts(w, 2, "cache-2"), templateTimeoutMs: 300 });
    // Not a hang: the test's own time limit. Which guard stops the loop depends on the machine's load (the
    // render's watchdog at 300 ms, or the pool's backstop at twice that), never the message's start.
    const out = await o.build();
    const errors = out.filter((r) => r.status === "error");
    expect(errors).toEqual([
      {
        node: "n35",
        kind: "system",
        status: "error",
        message: expect.stringMatching(/^overlay site, template etc\/boom\.eta, node n35: did not finish within (300|600) ms and was stopped/),
      },
    ]);
    expect(out.filter((r) => r.status === "built").length).toBe(out.length - 1);
    siteTemplate(w, "etc/boom.eta", "ok\n");
    expect((await o.build()).filter((r) => r.status === "error")).toEqual([]);
    o.close();
  }, 20_000);
});
