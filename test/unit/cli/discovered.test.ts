import { afterEach, beforeEach, expect, test } from "bun:test";
import { createServices } from "../../../src/app";
import { drover, tempDir } from "../../helpers/cli";

/** `drover node discovered …`: the discovery inbox from the command line, the same use cases as the page's. */
let dir = "";
let cleanup = () => {};
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  // Three unknown machines asked to boot (as the DHCP server records them).
  const svc = createServices(dir);
  const at = Date.now() - 90_000;
  svc.bootState.record({ mac: "52:54:00:00:0a:01", stage: "dhcp", at, address: "10.0.0.201" });
  svc.bootState.record({ mac: "52:54:00:00:0a:01", stage: "dhcp", at: at + 1000, address: "10.0.0.201" });
  svc.bootState.record({ mac: "52:54:00:00:0a:02", stage: "dhcp", at });
  svc.bootState.record({ mac: "52:54:00:00:0a:03", stage: "ipxe", at });
  svc.close();
});
afterEach(() => cleanup());

test("list shows what waits, with --json and --waiting; an empty inbox says so", async () => {
  const r = await drover(dir, "node", "discovered", "list");
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/^MAC\s+STATE\s+ADDRESS\s+ASKED\s+FIRST SEEN\s+LAST SEEN/);
  expect(r.out).toMatch(/52:54:00:00:0a:01\s+waiting\s+10\.0\.0\.201\s+2×\s+1m30s ago/);
  const j = JSON.parse((await drover(dir, "node", "discovered", "list", "--json")).out);
  expect(j.map((u: any) => u.mac).sort()).toEqual(["52:54:00:00:0a:01", "52:54:00:00:0a:02", "52:54:00:00:0a:03"]);
  expect(j.find((u: any) => u.mac === "52:54:00:00:0a:01")).toMatchObject({ count: 2, address: "10.0.0.201", ignored: false });
  for (const m of ["52:54:00:00:0a:01", "52:54:00:00:0a:02", "52:54:00:00:0a:03"]) expect((await drover(dir, "node", "discovered", "delete", m)).code).toBe(0);
  expect((await drover(dir, "node", "discovered", "list")).out).toBe("The discovery inbox is empty.\n");
});

test("accept as a new node with profile and address; a bad address is refused and the MAC stays", async () => {
  expect((await drover(dir, "profile", "add", "compute")).code).toBe(0);
  const bad = await drover(dir, "node", "discovered", "accept", "52:54:00:00:0a:01", "--name", "n005", "--ipaddr", "10.0.0.300");
  expect(bad.code).toBe(2);
  expect(bad.err).toContain("10.0.0.300");
  expect((await drover(dir, "node", "list", "n005")).code).not.toBe(0);
  expect((await drover(dir, "node", "discovered", "list")).out).toContain("52:54:00:00:0a:01");
  const noName = await drover(dir, "node", "discovered", "accept", "52:54:00:00:0a:01");
  expect(noName.code).toBe(2);
  expect(noName.err).toContain("--name");
  const r = await drover(dir, "node", "discovered", "accept", "52-54-00-00-0A-01", "--name", "n005", "--profile", "compute", "--ipaddr", "10.0.0.15/24");
  expect(r.code).toBe(0);
  expect(r.out).toBe("52-54-00-00-0A-01 is now node n005 (10.0.0.15/24)\n");
  const n = JSON.parse((await drover(dir, "node", "list", "n005", "--json")).out);
  expect(JSON.stringify(n)).toContain("52:54:00:00:0a:01");
  expect(JSON.stringify(n)).toContain("10.0.0.15");
  expect(JSON.stringify(n)).toContain("compute");
  expect((await drover(dir, "node", "discovered", "list")).out).not.toContain("52:54:00:00:0a:01");
  // The address is taken now: a second node cannot have it.
  const dup = await drover(dir, "node", "discovered", "accept", "52:54:00:00:0a:02", "--name", "n006", "--ipaddr", "10.0.0.15/24");
  expect(dup.code).not.toBe(0);
  expect((await drover(dir, "node", "discovered", "list")).out).toContain("52:54:00:00:0a:02");
});

test("bind to a discoverable node; ignore, unignore and delete, all or nothing", async () => {
  expect((await drover(dir, "node", "add", "spare1", "--discoverable")).code).toBe(0);
  const mixed = await drover(dir, "node", "discovered", "accept", "52:54:00:00:0a:02", "--bind", "spare1", "--name", "x");
  expect(mixed.code).toBe(2);
  expect((await drover(dir, "node", "discovered", "accept", "52:54:00:00:0a:02", "--bind", "spare1")).out).toBe("52:54:00:00:0a:02 is bound to node spare1\n");
  const ig = await drover(dir, "node", "discovered", "ignore", "52:54:00:00:0a:03", "52:54:00:00:0f:ff");
  expect(ig.code).toBe(3);
  expect(ig.err).toContain("nothing was changed");
  expect((await drover(dir, "node", "discovered", "list")).out).toMatch(/52:54:00:00:0a:03\s+waiting/);
  expect((await drover(dir, "node", "discovered", "ignore", "52:54:00:00:0a:03")).code).toBe(0);
  expect((await drover(dir, "node", "discovered", "list")).out).toMatch(/52:54:00:00:0a:03\s+ignored/);
  expect((await drover(dir, "node", "discovered", "list", "--waiting")).out).not.toContain("52:54:00:00:0a:03");
  expect((await drover(dir, "node", "discovered", "unignore", "52:54:00:00:0a:03")).code).toBe(0);
  expect((await drover(dir, "node", "discovered", "list")).out).toMatch(/52:54:00:00:0a:03\s+waiting/);
  expect((await drover(dir, "node", "discovered", "delete", "nope")).code).toBe(2);
  expect((await drover(dir, "node", "discovered", "delete", "52:54:00:00:0a:03")).code).toBe(0);
  expect((await drover(dir, "node", "discovered", "list")).out).not.toContain("52:54:00:00:0a:03");
});

test("the manual page and the shell completions know the inbox commands", async () => {
  const man = (await drover(dir, "man")).out;
  for (const v of ["list", "accept", "ignore", "unignore", "delete"]) expect(man).toContain(`drover node discovered ${v}`);
  const bash = (await drover(dir, "completion", "bash")).out;
  const cmd = `source /dev/stdin <<'EOS'\n${bash}\nEOS\nCOMP_WORDS=(drover node discovered a); COMP_CWORD=3; _drover; printf '%s\\n' "\${COMPREPLY[@]}"`;
  expect(Bun.spawnSync(["bash", "-c", cmd]).stdout.toString()).toBe("accept\n");
});
