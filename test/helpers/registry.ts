/**
 * Debian's `docker-registry` (the CNCF distribution registry) on 127.0.0.1, with a private config and
 * storage directory, for image tests:
 *
 *   const reg = await startRegistry();                 // or { htpasswd: { user: "pw" } } for Basic auth
 *   skopeo copy … docker://${reg.host}/repo:tag --dest-tls-verify=false
 *   reg.stop();
 *
 * Stopped by PID. Throws RegistryUnavailable when the binary is missing (apt-get install docker-registry).
 */
import { type Subprocess, spawn, spawnSync } from "bun";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export class RegistryUnavailable extends Error {}

export interface TestRegistry {
  /** 127.0.0.1:PORT */
  host: string;
  port: number;
  dir: string;
  stop(): void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function startRegistry(opts: { htpasswd?: Record<string, string> } = {}): Promise<TestRegistry> {
  if (spawnSync(["sh", "-c", "command -v docker-registry"]).exitCode !== 0)
    throw new RegistryUnavailable("docker-registry is not installed (apt-get install docker-registry)");
  const dir = mkdtempSync(join(tmpdir(), "drover-registry-"));
  const port = await freePort();
  let auth = "";
  if (opts.htpasswd) {
    const lines = await Promise.all(
      Object.entries(opts.htpasswd).map(async ([u, p]) => `${u}:${(await Bun.password.hash(p, { algorithm: "bcrypt", cost: 5 })).replace(/^\$2b\$/, "$2y$")}`),
    );
    writeFileSync(join(dir, "htpasswd"), `${lines.join("\n")}\n`);
    auth = `auth:\n  htpasswd:\n    realm: drover-test\n    path: ${join(dir, "htpasswd")}\n`;
  }
  writeFileSync(
    join(dir, "config.yml"),
    `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir, "storage")}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
${auth}`,
  );
  const proc: Subprocess = spawn(["docker-registry", "serve", join(dir, "config.yml")], {
    stdout: "ignore",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  const stop = () => {
    try {
      process.kill(proc.pid, "SIGTERM");
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v2/`);
      if (r.status === 200 || r.status === 401) return { host: `127.0.0.1:${port}`, port, dir, stop };
    } catch {}
    if (proc.exitCode !== null) break;
    await Bun.sleep(100);
  }
  const err = proc.stderr instanceof ReadableStream ? await new Response(proc.stderr).text().catch(() => "") : "";
  stop();
  throw new Error(`docker-registry did not start: ${err.slice(0, 500)}`);
}
