import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Io, UserFile } from "../../src/cli/output";
import { runCli } from "../../src/cli/program";
import { type CliResult, drover, tempDir } from "../helpers/cli";

/**
 * `drover --server URL --token … COMMAND` against a real `drover serve` (in this process, on 127.0.0.1, port 0):
 * the same output and exit codes as on the head node, the client's files and editor, the commands the head
 * node refuses, and the ways a connection fails.
 */
const head = tempDir("drover-remote-head-");
const local = tempDir("drover-remote-local-");
const client = tempDir("drover-remote-client-");
let url = "";
let token = "";
let serveLog = "";
let serving: Promise<number>;

beforeAll(async () => {
  serving = runCli(["-d", head.dir, "serve", "--port", "0", "--no-tftp", "--listen", "127.0.0.1"], {
    out: (s) => void (serveLog += s),
    err: (s) => void (serveLog += s),
    isTTY: false,
    env: {},
  });
  const end = Date.now() + 20_000;
  let m: RegExpMatchArray | null = null;
  while (!(m = /HTTP on http:\/\/127\.0\.0\.1:(\d+)/.exec(serveLog))) {
    if (Date.now() > end) throw new Error(`drover serve did not start:\n${serveLog}`);
    await Bun.sleep(20);
  }
  url = `http://127.0.0.1:${m[1]}`;
  const t = await drover(head.dir, "user", "token", "create", "laptop");
  expect(t.code).toBe(0);
  token = t.out.trim();
}, 30_000);

afterAll(async () => {
  process.emit("SIGTERM");
  await serving;
  head.cleanup();
  local.cleanup();
  client.cleanup();
});

/** A remote command with a capturing terminal; `io` overrides parts of it (prompt, readFile, env …). */
async function remote(args: string[], io: Partial<Io> = {}, auth: string[] = ["--token", token]): Promise<CliResult & { prompts: string[] }> {
  let out = "";
  let err = "";
  const prompts: string[] = [];
  const code = await runCli(["--server", url, ...auth, ...args], {
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    isTTY: false,
    env: { EDITOR: "false" },
    ...io,
    ...(io.prompt ? { prompt: (q: string) => (prompts.push(q), io.prompt!(q)) } : {}),
  });
  return { code, out, err, prompts };
}

const strip = (r: CliResult) => ({ code: r.code, out: r.out, err: r.err });

describe("the same command code, remotely", () => {
  test("node add and node list --json print what they print on the head node", async () => {
    const add = ["node", "add", "n[01-03]", "--ipaddr", "10.0.0.11/24", "--comment", "rack 1"];
    const r1 = await remote(add);
    const l1 = await drover(local.dir, ...add);
    expect(strip(r1)).toEqual(strip(l1));
    expect(r1.code).toBe(0);
    const r2 = await remote(["node", "list", "--json"]);
    const l2 = await drover(local.dir, "node", "list", "--json");
    expect(strip(r2)).toEqual(strip(l2));
    expect(JSON.parse(r2.out).map((n: { name: string }) => n.name)).toEqual(["n01", "n02", "n03"]);
    const r3 = await remote(["node", "list", "-a", "n01"]);
    expect(strip(r3)).toEqual(strip(await drover(local.dir, "node", "list", "-a", "n01")));
  });

  test("what a remote command changes is in the head node's data dir", async () => {
    const l = await drover(head.dir, "node", "list");
    expect(l.out).toMatch(/n01[\s\S]*n02[\s\S]*n03/);
  });

  test("failing commands exit with the same code and message", async () => {
    for (const args of [
      ["node", "delete", "-y", "nosuch"], // not found: 3
      ["node", "add", "m1", "--ipaddr", "10.0.0.5"], // invalid: 2
      ["node", "add", "n01"], // conflict: 4
      ["node", "frobnicate"], // usage: 2
    ]) {
      const r = await remote(args);
      const l = await drover(local.dir, ...args);
      expect({ args, ...strip(r) }).toEqual({ args, ...strip(l) });
      expect(r.code).not.toBe(0);
    }
  });

  test("help comes from the head node's command, root help from here", async () => {
    const r = await remote(["node", "add", "--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toBe((await drover(local.dir, "node", "add", "--help")).out);
    const root = await remote(["--help"]);
    expect(root.out).toContain("--server <url>");
    expect(root.out).toContain("--token-file <file>");
  });
});

describe("the client's side of a command", () => {
  test("node import reads the file through the client's readFile (here an in-memory file)", async () => {
    const asked: string[] = [];
    const files: Record<string, string> = { "/only/on/the/laptop/nodes.conf": "nodes:\n  imp1:\n    comment: from the laptop\n" };
    const readFile = async (p: string): Promise<UserFile> => {
      asked.push(p);
      if (!(p in files)) throw Object.assign(new Error(`${p}: no such file`), { code: "ENOENT" });
      return { data: new TextEncoder().encode(files[p]) };
    };
    const r = await remote(["node", "import", "/only/on/the/laptop/nodes.conf"], { readFile });
    expect(strip(r)).toEqual({ code: 0, out: "Imported 0 profiles and 1 node from /only/on/the/laptop/nodes.conf\n", err: "" });
    expect(asked).toEqual(["/only/on/the/laptop/nodes.conf"]);
    expect((await drover(head.dir, "node", "list", "--json", "imp1")).out).toContain("from the laptop");
    const missing = await remote(["node", "import", "/nope.conf"], { readFile });
    expect(strip(missing)).toEqual({ code: 2, out: "", err: "drover: cannot read /nope.conf: ENOENT\n" });
    expect(strip(missing)).toEqual(strip(await drover(local.dir, "node", "import", "/nope.conf")));
  });

  test("node import of a real file on the client, and a missing one, behave as locally", async () => {
    const f = join(client.dir, "more.conf");
    writeFileSync(f, "nodes:\n  imp2: {}\n");
    expect(strip(await remote(["node", "import", f]))).toEqual(strip(await drover(local.dir, "node", "import", f)));
    expect((await drover(head.dir, "node", "list", "imp2")).code).toBe(0);
  });

  test("overlay import sends the client's bytes and mode", async () => {
    const readFile = async (): Promise<UserFile> => ({ data: new TextEncoder().encode("#!/bin/sh\necho hi\n"), mode: 0o755 });
    const r = await remote(["overlay", "import", "site", "/laptop/hello.sh", "usr/local/bin/hello"], { readFile });
    expect(strip(r)).toEqual({ code: 0, out: "imported /laptop/hello.sh as usr/local/bin/hello in overlay site\n", err: "" });
    const show = await drover(head.dir, "overlay", "show", "site", "usr/local/bin/hello");
    expect(show.out).toBe("#!/bin/sh\necho hi\n");
    const ls = await drover(head.dir, "overlay", "list", "site", "-a", "-l");
    expect(ls.out).toMatch(/rwxr-xr-x.*usr\/local\/bin\/hello|755.*usr\/local\/bin\/hello/);
    const missing = await remote(["overlay", "import", "site", join(client.dir, "nope")]);
    expect(missing.code).toBe(3);
    expect(missing.err).toContain("does not exist on your machine");
  });

  test("node edit runs the client's $EDITOR (the head node never sees EDITOR)", async () => {
    await remote(["node", "set", "n02", "--comment", "old", "-y"]);
    const editor = join(client.dir, "editor.sh");
    writeFileSync(editor, `#!/bin/sh\nsed -i 's/comment: old/comment: edited on the laptop/' "$1"\n`);
    chmodSync(editor, 0o755);
    const r = await remote(["node", "edit", "n02"], { env: { EDITOR: editor } });
    expect(strip(r)).toEqual({ code: 0, out: "Saved.\n", err: "" });
    expect((await drover(head.dir, "node", "list", "--json", "n02")).out).toContain("edited on the laptop");
    // The client's editor failing is the same error as locally.
    const failed = await remote(["node", "edit", "n02"], { env: { EDITOR: "false" } });
    expect(strip(failed)).toEqual({ code: 2, out: "", err: "drover: the editor (false) exited with status 1; nothing was changed\n" });
  });

  test("a delete confirmation is asked on the client's terminal", async () => {
    const no = await remote(["node", "delete", "n03"], { isTTY: true, prompt: async () => "n" });
    expect(no.prompts).toEqual(["Delete 1 node (n03)? [y/N] "]);
    expect(strip(no)).toEqual({ code: 0, out: "Nothing deleted.\n", err: "" });
    const yes = await remote(["node", "delete", "n03"], { isTTY: true, prompt: async () => "y" });
    expect(strip(yes)).toEqual({ code: 0, out: "Deleted 1 node: n03\n", err: "" });
    expect((await drover(head.dir, "node", "list", "n03")).code).toBe(3);
  });
});

describe("what the head node refuses", () => {
  test.each([
    [["serve"], /'drover serve' cannot run through --server/],
    [["image", "exec", "img", "--", "true"], /'drover image exec' cannot run through --server: .*ssh to it/],
    [["container", "shell", "img"], /'drover image shell' cannot run through --server/],
    [["node", "console", "n01"], /'drover node console' cannot run through --server: .*ssh to the head node and run 'drover node console'/],
    [["user", "passwd", "--random"], /'drover user passwd' cannot run through --server: accounts are managed on the head node/],
    [
      ["image", "import", "docker-archive:/x.tar", "img"],
      /registry references \(docker:\/\/…\) only: .*copy the archive to the head node .* or push it to a registry/,
    ],
    [["image", "import", "/srv/rootfs", "img"], /registry references/],
    [["node", "export", "-o", "/tmp/drover-remote-export"], /redirect the output instead/],
  ])("%p", async (args, message) => {
    const r = await remote(args as string[]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message as RegExp);
    expect(r.err.startsWith("drover: ")).toBe(true);
  });

  test("remote options cannot be smuggled to the head node", async () => {
    const ws = await rawSocket();
    const msgs = collect(ws);
    ws.send(JSON.stringify({ t: "run", argv: ["--server", "http://127.0.0.1:1", "--token", "x", "node", "list"], isTTY: false, env: {} }));
    const closed = await closedOf(ws);
    expect(closed.code).toBe(1000);
    expect(msgs.some((m) => m.t === "err" && /cannot be given to a command run through --server/.test(m.s ?? ""))).toBe(true);
    expect(msgs.at(-1)).toEqual({ t: "exit", code: 2 });
  });
});

describe("connecting", () => {
  test("--token-file and DROVER_TOKEN work; a bare host:port is http", async () => {
    const f = join(client.dir, "token");
    writeFileSync(f, `${token}\n`, { mode: 0o600 });
    const viaFile = await runCli(["--server", url.replace("http://", ""), "--token-file", f, "node", "list", "n01"], {
      out: () => {},
      err: () => {},
      isTTY: false,
      env: {},
    });
    expect(viaFile).toBe(0);
    let out = "";
    const viaEnv = await runCli(["node", "list", "n01"], {
      out: (s) => void (out += s),
      err: () => {},
      isTTY: false,
      env: { DROVER_SERVER: url, DROVER_TOKEN: token },
    });
    expect(viaEnv).toBe(0);
    expect(out).toContain("n01");
  });

  test("usage errors: no token, a data dir with --server", async () => {
    const none = await remote(["node", "list"], {}, []);
    expect(none.code).toBe(2);
    expect(none.err).toContain("drover user token create NAME");
    let err = "";
    const both = await runCli(["-d", head.dir, "--server", url, "--token", token, "node", "list"], {
      out: () => {},
      err: (s) => void (err += s),
      isTTY: false,
      env: {},
    });
    expect(both).toBe(2);
    expect(err).toContain("give one of them");
  });

  test("a revoked token is refused with what to do", async () => {
    const t = (await drover(head.dir, "user", "token", "create", "old")).out.trim();
    expect((await remote(["node", "list"], {}, ["--token", t])).code).toBe(0);
    expect((await drover(head.dir, "user", "token", "revoke", "old")).code).toBe(0);
    const r = await remote(["node", "list"], {}, ["--token", t]);
    expect(r.code).not.toBe(0);
    expect(r.err).toBe(`drover: ${url} refused the token: unknown or revoked; create one on the head node with 'drover user token create NAME'\n`);
  });

  test("a browser session cookie cannot drive /api/v1/cli (403)", async () => {
    const pw = (await drover(head.dir, "user", "passwd", "--random")).out.match(/: (\S+)\n$/)![1]!;
    const login = await fetch(`${url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: "admin", password: pw }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const r = await fetch(`${url}/api/v1/cli`, { headers: { cookie } });
    expect(r.status).toBe(403);
    expect(((await r.json()) as { error: string }).error).toContain("need an API token");
    const ws = new (WebSocket as unknown as new (u: string, o: object) => WebSocket)(`${url.replace("http", "ws")}/api/v1/cli`, { headers: { cookie } });
    let opened = false;
    ws.onopen = () => (opened = true);
    await closedOf(ws);
    expect(opened).toBe(false);
    // With a token but without the WebSocket upgrade: a clear 426.
    const plain = await fetch(`${url}/api/v1/cli`, { headers: { authorization: `Bearer ${token}` } });
    expect(plain.status).toBe(426);
  });

  test("an unreachable server: a clear message and exit 1", async () => {
    let unreachable = "";
    const r = await runCli(["--server", "http://127.0.0.1:1", "--token", "drv_x", "node", "list"], {
      out: () => {},
      err: (s) => void (unreachable += s),
      isTTY: false,
      env: {},
    });
    expect(r).toBe(1);
    expect(unreachable).toMatch(/^drover: cannot reach drover at http:\/\/127\.0\.0\.1:1: .* — is drover serve running there\?\n$/);
  });

  test("a refusal the client cannot name itself (e.g. --api-subnet) shows the server's reason", async () => {
    const fake = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => Response.json({ error: "the API is not open to 127.0.0.1; see drover serve --api-subnet" }, { status: 403 }),
    });
    try {
      let err = "";
      const code = await runCli(["--server", `http://127.0.0.1:${fake.port}`, "--token", "drv_x", "node", "list"], {
        out: () => {},
        err: (s) => void (err += s),
        isTTY: false,
        env: {},
      });
      expect(code).toBe(2);
      expect(err).toBe(`drover: http://127.0.0.1:${fake.port} refused the command: the API is not open to 127.0.0.1; see drover serve --api-subnet\n`);
    } finally {
      fake.stop(true);
    }
  });

  test("a connection that drops mid-command: exit 1, and the command may have run", async () => {
    const fake = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response("no", { status: 400 })),
      websocket: {
        message(ws) {
          ws.send(JSON.stringify({ t: "out", s: "working…\n" }));
          ws.close(1011, "server going away");
        },
      },
    });
    try {
      let out = "";
      let err = "";
      const code = await runCli(["--server", `http://127.0.0.1:${fake.port}`, "--token", "drv_x", "node", "add", "z1"], {
        out: (s) => void (out += s),
        err: (s) => void (err += s),
        isTTY: false,
        env: {},
      });
      expect(code).toBe(1);
      expect(out).toBe("working…\n");
      expect(err).toContain("lost before the command finished");
      expect(err).toContain("may have completed on the server");
    } finally {
      fake.stop(true);
    }
  });
});

describe("protocol violations close the socket and leave the server running", () => {
  test.each([
    ["not JSON", "hello", /not JSON/],
    ["an answer before run", JSON.stringify({ t: "answer", id: 1, value: "y" }), /first message must be/],
    ["an unknown type", JSON.stringify({ t: "shell", cmd: "id" }), /Invalid discriminator|bad 'shell' message/],
    ["a wrong field", JSON.stringify({ t: "run", argv: "node list", isTTY: false, env: {} }), /bad 'run' message: argv/],
    ["a binary frame", new Uint8Array([1, 2, 3]), /binary/],
  ])("%s", async (_name, frame, reason) => {
    const ws = await rawSocket();
    ws.send(frame as string);
    const c = await closedOf(ws);
    expect(c.code).toBe(1008);
    expect(c.reason).toMatch(reason as RegExp);
  });

  test("a second run, and answers nobody asked for", async () => {
    const ws = await rawSocket();
    const msgs = collect(ws);
    ws.send(JSON.stringify({ t: "run", argv: ["node", "delete", "n01"], isTTY: true, env: {} }));
    while (!msgs.some((m) => m.t === "prompt")) await Bun.sleep(10);
    ws.send(JSON.stringify({ t: "run", argv: ["node", "list"], isTTY: false, env: {} }));
    const c = await closedOf(ws);
    expect(c).toEqual({ code: 1008, reason: "one command per connection" });
    const ws2 = await rawSocket();
    collect(ws2);
    ws2.send(JSON.stringify({ t: "run", argv: ["node", "delete", "n01"], isTTY: true, env: {} }));
    ws2.send(JSON.stringify({ t: "file", id: 77, data: "aGk=" }));
    expect((await closedOf(ws2)).reason).toContain("which was not asked for");
    // Nothing was deleted, and the server still answers.
    const r = await remote(["node", "list", "n01"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("n01");
  });

  test("a client that goes away ends a command that would run forever (node status --watch)", async () => {
    const ws = await rawSocket();
    const msgs = collect(ws);
    ws.send(JSON.stringify({ t: "run", argv: ["node", "status", "-w", "-t", "0.5", "n01"], isTTY: false, env: {} }));
    while (!msgs.some((m) => m.t === "out")) await Bun.sleep(10);
    ws.close();
    const end = Date.now() + 5000;
    while (!/remote command 'node status' by admin from 127\.0\.0\.1: exit 1/.test(serveLog) && Date.now() < end) await Bun.sleep(50);
    expect(serveLog).toMatch(/remote command 'node status' by admin from 127\.0\.0\.1: exit 1/);
  });

  test("the server logs each remote command with who ran it, without its arguments", () => {
    expect(serveLog).toMatch(/drover: remote command 'node add n\[01-03\]' by admin from 127\.0\.0\.1: exit 0/);
    expect(serveLog).not.toContain("rack 1");
  });
});

/** A WebSocket to the head node with the token, open. */
async function rawSocket(): Promise<WebSocket> {
  const ws = new (WebSocket as unknown as new (u: string, o: object) => WebSocket)(`${url.replace("http", "ws")}/api/v1/cli`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("WebSocket failed"));
  });
  return ws;
}

function collect(ws: WebSocket): { t: string; s?: string; code?: number }[] {
  const msgs: { t: string; s?: string; code?: number }[] = [];
  ws.onmessage = (e) => msgs.push(JSON.parse(String(e.data)));
  return msgs;
}

function closedOf(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    ws.onclose = (e) => resolve({ code: e.code, reason: e.reason });
  });
}
