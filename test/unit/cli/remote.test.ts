import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { LOCAL_ONLY, remoteArgv } from "../../../src/cli/program";
import { remoteTarget, serverUrls } from "../../../src/cli/remote";
import { DroverError } from "../../../src/domain/errors";
import { tempDir } from "../../helpers/cli";

/** The client half of `drover --server`, without a server (test/integration/remote-cli.test.ts has one). */
describe("serverUrls", () => {
  test.each([
    ["http://head:9873", "ws://head:9873/api/v1/cli", "http://head:9873/api/v1/cli"],
    ["https://head.example.org", "wss://head.example.org/api/v1/cli", "https://head.example.org/api/v1/cli"],
    ["http://proxy/drover/", "ws://proxy/drover/api/v1/cli", "http://proxy/drover/api/v1/cli"],
    ["head:9000", "ws://head:9000/api/v1/cli", "http://head:9000/api/v1/cli"],
    ["10.0.0.1", "ws://10.0.0.1:9873/api/v1/cli", "http://10.0.0.1:9873/api/v1/cli"],
    ["wss://head:9873", "wss://head:9873/api/v1/cli", "https://head:9873/api/v1/cli"],
  ])("%s", (server, ws, http) => expect(serverUrls(server)).toEqual({ ws, http }));

  test("refuses other schemes and credentials in the URL", () => {
    expect(() => serverUrls("ftp://head")).toThrow(/use http:\/\//);
    expect(() => serverUrls("http://admin:pw@head:9873")).toThrow(/--token-file, not in the URL/);
    expect(() => serverUrls("http://[bad")).toThrow(/not a URL/);
  });
});

describe("remoteTarget", () => {
  const usage = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(DroverError);
      return (e as DroverError).message;
    }
    throw new Error("no error");
  };

  test("no server: a local command", () => {
    expect(remoteTarget({}, {})).toBeUndefined();
    expect(remoteTarget({ dataDir: "/x" }, { DROVER_TOKEN: "t" })).toBeUndefined();
  });

  test("--token, --token-file, DROVER_TOKEN; the flag wins over the environment", () => {
    const t = tempDir();
    try {
      const f = join(t.dir, "tok");
      writeFileSync(f, "drv_fromfile\n");
      expect(remoteTarget({ server: "h:1" }, { DROVER_TOKEN: "drv_env" })?.token).toBe("drv_env");
      expect(remoteTarget({ server: "h:1", token: "drv_flag" }, { DROVER_TOKEN: "drv_env" })?.token).toBe("drv_flag");
      expect(remoteTarget({ server: "h:1", tokenFile: f }, { DROVER_TOKEN: "drv_env" })?.token).toBe("drv_fromfile");
      expect(remoteTarget({}, { DROVER_SERVER: "http://h:1", DROVER_TOKEN: "drv_env" })).toEqual({
        ws: "ws://h:1/api/v1/cli",
        http: "http://h:1/api/v1/cli",
        shown: "http://h:1",
        token: "drv_env",
      });
      writeFileSync(f, "\n");
      expect(usage(() => remoteTarget({ server: "h:1", tokenFile: f }, {}))).toContain("is empty");
      expect(usage(() => remoteTarget({ server: "h:1", tokenFile: join(t.dir, "none") }, {}))).toContain("ENOENT");
    } finally {
      t.cleanup();
    }
  });

  test("usage errors say what to do", () => {
    expect(usage(() => remoteTarget({ server: "h:1" }, {}))).toContain("drover user token create NAME");
    expect(usage(() => remoteTarget({ server: "h:1", dataDir: "/d", token: "t" }, {}))).toContain("give one of them");
    expect(usage(() => remoteTarget({ dataDir: "/d" }, { DROVER_SERVER: "h:1", DROVER_TOKEN: "t" }))).toContain("DROVER_SERVER a head node");
    expect(usage(() => remoteTarget({ server: "h:1", token: "a", tokenFile: "b" }, {}))).toContain("not both");
    expect(usage(() => remoteTarget({ token: "a" }, {}))).toContain("go with --server");
  });
});

describe("remoteArgv", () => {
  test.each([
    [
      ["--server", "h", "--token", "t", "node", "list", "-a"],
      ["node", "list", "-a"],
    ],
    [
      ["--server=h", "--token-file", "f", "node", "add", "--server", "x"],
      ["node", "add", "--server", "x"],
    ],
    [
      ["node", "list"],
      ["node", "list"],
    ],
    [
      ["--token", "t", "--server", "h", "image", "exec", "i", "--", "ls", "-l"],
      ["image", "exec", "i", "--", "ls", "-l"],
    ],
  ])("%p", (argv, sent) => expect(remoteArgv(argv)).toEqual(sent));
});

test("every command the head node refuses says what to do instead", () => {
  for (const why of Object.values(LOCAL_ONLY)) expect(why).toMatch(/head node/);
});
