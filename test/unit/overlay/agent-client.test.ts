/**
 * The node agent (wwclient overlay's /drover/agent) against a stand-in server on loopback, with each HTTP
 * client it can use: curl, and perl (a minimal Debian has neither curl nor wget, but always perl-base).
 * Both must ask for the runtime overlay from a privileged source port, send If-None-Match, unpack and apply
 * a 200, keep the file on a 304, and report booted/heartbeat callbacks.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const AGENT = join(import.meta.dir, "../../../src/overlay/builtin/wwclient/drover/agent");
const MAC = "52:54:00:aa:00:01";
const root = process.getuid?.() === 0;

const dir = mkdtempSync(join(tmpdir(), "drover-agent-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The runtime overlay: one file, as a gzip'd newc cpio (what drover serves).
const src = join(dir, "src");
mkdirSync(join(src, "etc"), { recursive: true });
writeFileSync(join(src, "etc/hosts"), "10.0.0.1 head\n10.0.0.2 c1\n");
const pack = Bun.spawnSync(["sh", "-c", "find . | cpio -o -H newc --quiet | gzip -c"], { cwd: src });
const archive = new Uint8Array(pack.stdout);

const seen: { path: string; port: number; inm: string | null; ua: string | null }[] = [];
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req, s) {
    const u = new URL(req.url);
    const port = s.requestIP(req)?.port ?? 0;
    seen.push({ path: u.pathname + u.search, port, inm: req.headers.get("if-none-match"), ua: req.headers.get("user-agent") });
    if (u.pathname.startsWith("/runtime/")) {
      if (port >= 1024) return new Response("runtime overlay refused: the request came from an unprivileged port", { status: 403 });
      if (req.headers.get("if-none-match") === '"v1"') return new Response(null, { status: 304, headers: { ETag: '"v1"' } });
      return new Response(archive, { headers: { ETag: '"v1"', "Content-Type": "application/gzip" } });
    }
    if (u.pathname.startsWith("/callback/")) return new Response("ok\n");
    return new Response("not found", { status: 404 });
  },
});
afterAll(() => server.stop(true));

/** Runs the agent without blocking this process (the stand-in server answers from the same event loop). */
async function agent(args: string[], env: Record<string, string | undefined>) {
  const p = Bun.spawn(["sh", AGENT, ...args], { env, stdout: "pipe", stderr: "pipe" });
  const [stderr] = await Promise.all([new Response(p.stderr).text(), new Response(p.stdout).text()]);
  return { exitCode: await p.exited, stderr };
}

function clients(): string[] {
  const have = (c: string) => Bun.spawnSync(["sh", "-c", `command -v ${c}`]).exitCode === 0;
  return ["curl", "perl"].filter(have);
}

describe.skipIf(!root)("the node agent's HTTP clients (root: privileged source ports)", () => {
  for (const client of clients()) {
    test(`${client}: runtime overlay from a privileged port, applied; then 304 with If-None-Match; callbacks`, async () => {
      const base = join(dir, client);
      const nodeRoot = join(base, "root");
      mkdirSync(join(nodeRoot, "etc"), { recursive: true });
      writeFileSync(join(nodeRoot, "etc/hosts"), "127.0.0.1 localhost\n");
      const conf = join(base, "agent.conf");
      writeFileSync(conf, `DROVER_URL='http://127.0.0.1:${server.port}'\nDROVER_MAC='${MAC}'\nDROVER_INTERVAL=60\n`);
      const env = { ...process.env, DROVER_AGENT_CONF: conf, DROVER_AGENT_ROOT: nodeRoot, DROVER_AGENT_STATE: join(base, "state"), DROVER_AGENT_HTTP: client };
      const before = seen.length;
      const r1 = await agent(["--once"], env);
      expect(r1.stderr).toContain("updated etc/hosts");
      expect(r1.exitCode).toBe(0);
      expect(readFileSync(join(nodeRoot, "etc/hosts"), "utf8")).toBe("10.0.0.1 head\n10.0.0.2 c1\n");
      const r2 = await agent(["--once"], env);
      expect(r2.exitCode).toBe(0);
      expect(r2.stderr).not.toContain("updated");
      const mine = seen.slice(before);
      const runtime = mine.filter((s) => s.path.startsWith("/runtime/"));
      expect(runtime.length).toBe(2);
      for (const s of runtime) expect(s.port).toBeLessThan(1024);
      // The client asked for is the one used (curl names itself; the perl client sends no User-Agent).
      for (const s of mine) expect(s.ua?.startsWith("curl/") ?? false).toBe(client === "curl");
      expect(runtime[1]!.inm).toBe('"v1"');
      expect(mine.filter((s) => s.path.startsWith(`/callback/${MAC}?stage=heartbeat`)).length).toBe(2);
      const cb = await agent(["--callback", "booted"], env);
      expect(cb.exitCode).toBe(0);
      expect(seen.at(-1)!.path).toStartWith(`/callback/${MAC}?stage=booted`);
    });
  }
});
