import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { tempDir } from "../helpers/cli";

// `drover serve --log-format json` (from source, loopback only): every line of stderr is one JSON object,
// and a change through the API is logged with who made it.
const main = join(import.meta.dir, "../../src/main.ts");
const t = tempDir("drover-log-");
afterAll(() => t.cleanup());

async function serve(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(
    [
      process.execPath,
      main,
      "-d",
      join(t.dir, `d${args.join("")}`.replace(/\W/g, "")),
      "serve",
      "--port",
      "0",
      "--listen",
      "127.0.0.1",
      "--tftp-port",
      "0",
      ...args,
    ],
    {
      env: { PATH: process.env.PATH!, HOME: t.dir, ...env },
      stdout: "ignore",
      stderr: "pipe",
    },
  );
  let log = "";
  void (async () => {
    const r = proc.stderr.getReader();
    for (;;) {
      const { value, done } = await r.read();
      if (done) return;
      log += new TextDecoder().decode(value);
    }
  })();
  const wait = async (re: RegExp) => {
    const end = Date.now() + 20_000;
    while (!re.test(log)) {
      if (proc.exitCode !== null || Date.now() > end) throw new Error(`no ${re} in:\n${log}`);
      await Bun.sleep(30);
    }
  };
  return { proc, log: () => log, wait };
}

describe("drover serve logs", () => {
  test("--log-format json: parseable lines with time, level, component and msg; API changes logged", { timeout: 30_000 }, async () => {
    const s = await serve(["--log-format", "json"]);
    try {
      await s.wait(/DHCP is off until/);
      const port = Number(/HTTP on http:\/\/127\.0\.0\.1:(\d+)/.exec(s.log())![1]);
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user: "admin", password: "wrong" }),
      });
      expect(res.status).toBe(401);
      await s.wait(/"component":"api","msg":"POST \/api\/v1\/auth\/login by anonymous from 127\.0\.0\.1: 401 refused/);
      const lines = s.log().trimEnd().split("\n");
      for (const l of lines) {
        const o = JSON.parse(l);
        expect(Object.keys(o).slice(0, 4)).toEqual(["time", "level", "component", "msg"]);
        expect(Number.isNaN(Date.parse(o.time))).toBe(false);
      }
      expect(lines.map((l) => JSON.parse(l))).toContainEqual(
        expect.objectContaining({ level: "info", component: "drover", msg: expect.stringMatching(/^HTTP on http:\/\/127\.0\.0\.1:/) }),
      );
      expect(lines.map((l) => JSON.parse(l))).toContainEqual(expect.objectContaining({ level: "warn", component: "api" }));
    } finally {
      s.proc.kill("SIGKILL");
    }
  });

  test("text under journald: <N> priorities, no timestamps; --log-level warn drops info", async () => {
    const s = await serve(["--log-level", "warn"], { JOURNAL_STREAM: "8:1234" });
    const j = await serve([], { JOURNAL_STREAM: "8:1234" });
    try {
      await j.wait(/DHCP is off until/);
      expect(j.log()).toMatch(/^<6>drover: HTTP on http:\/\/127\.0\.0\.1:\d+/m);
      const port = Number(/HTTP on http:\/\/127\.0\.0\.1:(\d+)/.exec(j.log())![1]);
      // --log-level warn: nothing at info, so wait for /readyz rather than a line.
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      await Bun.sleep(300);
      expect(s.log()).not.toMatch(/HTTP on/);
    } finally {
      s.proc.kill("SIGKILL");
      j.proc.kill("SIGKILL");
    }
  });

  test("a bad --log-level is refused", async () => {
    const s = await serve(["--log-level", "loud"]);
    expect(await s.proc.exited).not.toBe(0);
    await Bun.sleep(50);
    expect(s.log()).toMatch(/--log-level must be one of/);
  });
});
