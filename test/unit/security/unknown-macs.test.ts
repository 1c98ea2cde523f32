// Issue 13 item 7: 20,000 `GET /ipxe/<random MAC>` made 20,000 rows, and with discovery on, HTTP requests
// from anywhere registered nodes. The inbox is now bounded and aged out; discovery runs only from DHCP
// (test/unit/boot/boot-routes.test.ts, "discovery").
import { expect, test } from "bun:test";
import { BootService } from "../../../src/boot/service";
import { createApp } from "../../../src/http/app";
import { NodeService } from "../../../src/services/nodes";
import { UNKNOWN_DAYS, UNKNOWN_MAX, sqliteBootStateStore } from "../../../src/store/boot-store";
import { openMemoryStore } from "../../../src/store/db";
import { sqliteNodeStore } from "../../../src/store/node-store";

const hex = (i: number) =>
  `02-00-00-${((i >> 16) & 255).toString(16).padStart(2, "0")}-${((i >> 8) & 255).toString(16).padStart(2, "0")}-${(i & 255).toString(16).padStart(2, "0")}`;

test(`5,000 requests for random MACs keep at most ${UNKNOWN_MAX} in the inbox; ignored ones stay; old ones age out`, async () => {
  const store = openMemoryStore();
  const nodes = new NodeService(sqliteNodeStore(store.db));
  nodes.initialize();
  const state = sqliteBootStateStore(store.db);
  const boot = new BootService(nodes, state, undefined, undefined, { discovery: true, register: { pattern: "x[0001-9999]" } }, () => {});
  const app = createApp({ startedAt: new Date(0), stats: () => nodes.counts(), services: () => ({}), boot });
  // An admin's decision before the flood: this MAC is ignored.
  state.record({ mac: "52:54:00:aa:aa:aa", stage: "dhcp", at: Date.now() });
  state.ignoreUnknown("52:54:00:aa:aa:aa", true);
  for (let i = 0; i < 5000; i++) {
    const r = await app.request(`http://10.0.0.1:9873/ipxe/${hex(i)}`, { headers: { host: "10.0.0.1:9873" } });
    expect(r.status).toBe(200);
  }
  const inbox = state.unknown();
  expect(inbox.filter((u) => !u.ignored)).toHaveLength(UNKNOWN_MAX);
  expect(inbox.some((u) => u.mac === "02:00:00:00:13:87")).toBe(true); // the newest (4999) are kept
  expect(inbox.find((u) => u.mac === "52:54:00:aa:aa:aa")?.ignored).toBe(true);
  expect(nodes.counts().nodes).toBe(0); // and no node was registered by HTTP
  // A week later, the next sighting drops what was not seen since.
  state.record({ mac: "52:54:00:bb:bb:bb", stage: "dhcp", at: Date.now() + (UNKNOWN_DAYS * 86_400_000 + 1000) });
  expect(
    state
      .unknown()
      .filter((u) => !u.ignored)
      .map((u) => u.mac),
  ).toEqual(["52:54:00:bb:bb:bb"]);
  store.close();
}, 60_000);
