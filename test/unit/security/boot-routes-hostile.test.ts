// Issue 13 item 8 (boot routes): a foreign host set a node to `error` through /callback with raw HTML, and a
// bad %-escape on /boot/ gave a 500 with a stack trace.
import { expect, test } from "bun:test";
import { memoryBootFiles } from "../../../src/boot/files";
import { BootService } from "../../../src/boot/service";
import { createApp } from "../../../src/http/app";
import { BootStatusService } from "../../../src/services/boot-status";
import { NodeService } from "../../../src/services/nodes";
import { sqliteBootStateStore } from "../../../src/store/boot-store";
import { openMemoryStore } from "../../../src/store/db";
import { sqliteNodeStore } from "../../../src/store/node-store";

function world() {
  const store = openMemoryStore();
  const nodes = new NodeService(sqliteNodeStore(store.db));
  nodes.initialize();
  nodes.addNodes(["n1"], { set: { networkDevices: { default: { hwaddr: "52:54:00:00:00:01", ipaddr: "10.0.0.11/24" } } } });
  const state = sqliteBootStateStore(store.db);
  const boot = new BootService(nodes, state, undefined, undefined, { discovery: false }, () => {});
  const app = createApp({
    startedAt: new Date(0),
    stats: () => nodes.counts(),
    services: () => ({}),
    boot,
    bootFiles: memoryBootFiles({ "ipxe.efi": new Uint8Array(10) }),
  });
  const get = (path: string, address: string) =>
    app.request(`http://10.0.0.1:9873${path}`, { headers: { host: "10.0.0.1:9873" } }, { requestIP: () => ({ address, port: 40000, family: "IPv4" }) });
  return { get, status: new BootStatusService(nodes, state), state };
}

test("/callback from a foreign host cannot set a node to error; the node itself can, and its text is escaped", async () => {
  const w = world();
  const html = encodeURIComponent(`<img src=x onerror=alert(1)>${"A".repeat(5000)}`);
  const r = await w.get(`/callback/52-54-00-00-00-01?stage=error&detail=${html}`, "10.0.0.66");
  expect(r.status).toBe(404);
  expect(w.status.list()[0]?.state).not.toBe("error");
  expect(w.state.events("n1", 10)).toHaveLength(0);
  expect((await w.get(`/callback/52-54-00-00-00-01?stage=error&detail=${html}`, "10.0.0.11")).status).toBe(200);
  const e = w.state.events("n1", 1)[0]!;
  expect(e.stage).toBe("error");
  expect(e.detail).not.toContain("<");
  expect(e.detail!.startsWith("&#60;img src=x onerror=alert(1)&#62;")).toBe(true);
  expect(e.detail!.length).toBeLessThanOrEqual(200);
});

test("bad %-escapes on /boot/ are a 400, not a 500 with a stack trace", async () => {
  const w = world();
  for (const bad of ["/boot/%", "/boot/%E0%A4%A", "/boot/%zz", "/boot/ipxe%2"]) {
    const r = await w.get(bad, "10.0.0.11");
    expect({ bad, status: r.status }).toEqual({ bad, status: 400 });
    expect(await r.text()).not.toContain("at ");
  }
  expect((await w.get("/boot/ipxe.efi", "10.0.0.11")).status).toBe(200);
});
