import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { droverWithEnv, tempDir } from "../../helpers/cli";
import { runTable } from "./table";

describe("profile commands", () => {
  runTable([
    { name: "the default profile exists from the first start", run: ["profile", "list"], out: /default\s+--\s+This profile is automatically included/ },
    {
      name: "add with fields",
      run: ["profile", "add", "compute", "--kernelargs", "console=ttyS0", "--netmask", "255.255.0.0", "--gateway", "10.0.0.1"],
      state: (d) =>
        expect(d.nodeprofiles.compute).toEqual({
          kernel: { args: ["console=ttyS0"] },
          "network devices": { default: { netmask: "255.255.0.0", gateway: "10.0.0.1" } },
        }),
    },
    { name: "node-only flags are not offered on profiles", run: ["profile", "add", "p", "--discoverable"], code: 2, err: /unknown option '--discoverable'/ },
    { name: "duplicate profile", given: [["profile", "add", "p"]], run: ["profile", "add", "p"], code: 4 },
    {
      name: "nested profiles",
      given: [["profile", "add", "a"]],
      run: ["profile", "add", "b", "--profile", "a"],
      state: (d) => expect(d.nodeprofiles.b.profiles).toEqual(["a"]),
    },
    {
      name: "a cycle is refused",
      given: [
        ["profile", "add", "a"],
        ["profile", "add", "b", "--profile", "a"],
      ],
      run: ["profile", "set", "a", "--profile", "b"],
      code: 2,
      err: /cycle: a → b → a/,
    },
    { name: "a self reference is refused", given: [["profile", "add", "a"]], run: ["profile", "set", "a", "--profile", "a"], code: 2, err: /cycle/ },
    {
      name: "removing a profile's netmask that nodes rely on is refused",
      given: [
        ["profile", "add", "net", "--netmask", "255.255.255.0"],
        ["node", "add", "n1", "--profile", "net", "--ipaddr", "10.0.0.1"],
      ],
      run: ["profile", "unset", "net", "--netmask"],
      code: 2,
      err: /node 'n1'.*no netmask/,
    },
    {
      name: "a profile change re-checks node addresses (IP from a profile collides)",
      given: [
        ["profile", "add", "p"],
        ["node", "add", "n1", "--profile", "p"],
        ["node", "add", "n2", "--profile", "p"],
      ],
      run: ["profile", "set", "p", "--ipmiaddr", "10.0.0.9/24"],
      code: 4,
      err: /10.0.0.9 of node 'n2' \(ipmi\) is already used by node 'n1'/,
    },
    {
      name: "delete refuses while in use",
      given: [
        ["profile", "add", "p"],
        ["node", "add", "n1", "--profile", "p"],
      ],
      run: ["profile", "delete", "p"],
      code: 5,
      err: /used by node n1/,
    },
    {
      name: "delete --force",
      given: [
        ["profile", "add", "p"],
        ["node", "add", "n1", "--profile", "p"],
      ],
      run: ["profile", "delete", "p", "--force"],
      state: (d) => expect(d.nodeprofiles.p).toBeUndefined(),
    },
    { name: "delete unused", given: [["profile", "add", "p"]], run: ["profile", "delete", "p"], out: /Deleted profile: p/ },
    {
      name: "list -a",
      given: [
        ["profile", "add", "a", "--init", "/bin/sh"],
        ["profile", "add", "b", "--profile", "a"],
      ],
      run: ["profile", "list", "-a", "b"],
      out: /b\s+Init\s+a\s+\/bin\/sh/,
    },
    { name: "list --json", run: ["profile", "list", "--json"], out: /"name": "default"/ },
    { name: "set no match", run: ["profile", "set", "zz", "--comment", "x"], code: 3 },
  ]);
});

describe("edit commands", () => {
  let dir = "";
  let cleanup = () => {};
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  test("node edit applies a valid change", async () => {
    await droverWithEnv(dir, {}, "node", "add", "n1", "--comment", "old");
    const r = await droverWithEnv(dir, { EDITOR: "sed -i s/comment:\\ old/comment:\\ new/" }, "node", "edit", "n1");
    expect(r.code).toBe(0);
    expect(r.out).toBe("Saved.\n");
    expect((await droverWithEnv(dir, {}, "node", "list", "-a", "n1")).out).toMatch(/Comment\s+--\s+new/);
  });

  test("node edit with an invalid result writes nothing", async () => {
    await droverWithEnv(dir, {}, "node", "add", "n1", "--hwaddr", "52:54:00:00:00:01");
    const r = await droverWithEnv(dir, { EDITOR: "sed -i s/52:54:00:00:00:01/nonsense/" }, "node", "edit", "n1");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not a MAC address/);
    expect((await droverWithEnv(dir, {}, "node", "list", "-n")).out).toMatch(/52:54:00:00:00:01/);
  });

  test("node edit unchanged", async () => {
    await droverWithEnv(dir, {}, "node", "add", "n1");
    const r = await droverWithEnv(dir, { EDITOR: "true" }, "node", "edit", "n1");
    expect(r.out).toBe("No changes.\n");
  });

  test("profile edit", async () => {
    const r = await droverWithEnv(dir, { EDITOR: "sed -i s#/sbin/init#/bin/init#" }, "profile", "edit", "default");
    expect(r.code).toBe(0);
    expect((await droverWithEnv(dir, {}, "profile", "list", "-a", "default")).out).toMatch(/Init\s+--\s+\/bin\/init/);
  });

  test("a failing editor changes nothing", async () => {
    const r = await droverWithEnv(dir, { EDITOR: "false" }, "profile", "edit", "default");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/editor \(false\) exited with status 1/);
  });
});

test("version", async () => {
  const t = tempDir();
  const r = await droverWithEnv(t.dir, {}, "version", "--json");
  t.cleanup();
  expect(JSON.parse(r.out)).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
});
