// Issue 13 item 2: an iPXE template is named, never a path — not from the CLI/API, not from an imported
// nodes.conf, and not from a name already in the database.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BootService } from "../../../src/boot/service";
import { isTemplateName } from "../../../src/domain/validate";
import { parseNodesConf } from "../../../src/domain/nodesconf";
import { createApp } from "../../../src/http/app";
import { NodeService } from "../../../src/services/nodes";
import { sqliteBootStateStore } from "../../../src/store/boot-store";
import { openMemoryStore } from "../../../src/store/db";
import { sqliteNodeStore } from "../../../src/store/node-store";
import { tempDir } from "../../helpers/cli";

const t = tempDir("drover-tpl-");
afterAll(() => t.cleanup());
const MAC = "52:54:00:00:00:01";

function world() {
  const store = openMemoryStore();
  const nodes = new NodeService(sqliteNodeStore(store.db));
  nodes.initialize();
  const sites = join(t.dir, "ipxe");
  mkdirSync(sites, { recursive: true });
  const boot = new BootService(nodes, sqliteBootStateStore(store.db), undefined, undefined, { discovery: false, ipxeTemplateDir: sites }, () => {});
  const app = createApp({ startedAt: new Date(0), stats: () => nodes.counts(), services: () => ({}), boot });
  return { nodes, store, app };
}

test("template names: letters, digits, '_', '.', '-'; no path, no leading dot", () => {
  for (const ok of ["default", "dracut", "site-2.v1", "a_b"]) expect(isTemplateName(ok)).toBe(true);
  for (const bad of ["../../../../tmp/x", "/etc/passwd", "a/b", "..", ".hidden", "", "a\u0000b", "a b", "x".repeat(65), "a\\b"])
    expect(isTemplateName(bad)).toBe(false);
});

test("node set --ipxe with a path is refused", () => {
  const w = world();
  w.nodes.addNodes(["n1"], { set: { networkDevices: { default: { hwaddr: MAC } } } });
  expect(() => w.nodes.setNodes(["n1"], { set: { ipxe: "../../../../tmp/x" } })).toThrow(/is not a template name/);
  expect(() => w.nodes.addNodes(["n2"], { set: { ipxe: "/tmp/x" } })).toThrow(/is not a template name/);
  expect(() => w.nodes.setProfiles(["default"], { set: { ipxe: "../x" } })).toThrow(/is not a template name/);
});

test("an imported nodes.conf with a template path is refused", () => {
  const w = world();
  const nc = parseNodesConf(
    `nodeprofiles:\n  default: {}\nnodes:\n  n1:\n    ipxe template: ../../../../tmp/x\n    network devices:\n      default:\n        hwaddr: ${MAC}\n`,
  );
  expect(() => w.nodes.importConf(nc)).toThrow(/is not a template name/);
  expect(w.nodes.listNodes()).toHaveLength(0);
});

test("a path already stored as a node's template is not read from disk", async () => {
  const w = world();
  w.nodes.addNodes(["n1"], { set: { networkDevices: { default: { hwaddr: MAC } } } });
  // A file outside the template directory that an older drover would have rendered.
  writeFileSync(join(t.dir, "secret.ipxe"), "#!ipxe\necho SECRET <%= it.node %>\n");
  const row = w.store.sqlite.query("SELECT conf FROM nodes WHERE name = 'n1'").get() as { conf: string };
  const conf = JSON.parse(row.conf);
  conf.ipxe = "../secret";
  w.store.sqlite.query("UPDATE nodes SET conf = ? WHERE name = 'n1'").run(JSON.stringify(conf));
  const r = await w.app.request("http://10.0.0.1:9873/ipxe/52-54-00-00-00-01", { headers: { host: "10.0.0.1:9873" } });
  const text = await r.text();
  expect(text).not.toContain("SECRET");
  expect(text).toContain("is not an iPXE template name");
});
