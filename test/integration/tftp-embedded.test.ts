/**
 * The iPXE binaries are inside the compiled executable: compile a small entry that serves
 * embeddedIpxeFiles() over TFTP with `Bun.build({ compile })` (as build.ts does), run it from an empty
 * directory, and fetch each binary with curl. The paths it reports must be inside Bun's embedded file
 * system ($bunfs), not on disk.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const CURL = Bun.spawnSync(["which", "curl"]).exitCode === 0;
if (!CURL) console.warn("tftp embedded: skipped: needs curl (apt-get install curl)");
const repo = join(import.meta.dir, "../..");
const work = mkdtempSync(join(tmpdir(), "drover-embed-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

test.skipIf(!CURL)(
  "a compiled executable serves the embedded iPXE binaries without the assets directory",
  async () => {
    const entry = join(work, "entry.ts");
    writeFileSync(
      entry,
      `import { embeddedIpxeFiles } from ${JSON.stringify(join(repo, "src/boot/files.ts"))};
import { embeddedIpxe } from ${JSON.stringify(join(repo, "assets/ipxe/embedded.ts"))};
import { startTftpServer } from ${JSON.stringify(join(repo, "src/protocols/tftp/server.ts"))};
const srv = await startTftpServer({ port: 0, address: "127.0.0.1" }, embeddedIpxeFiles(), () => {});
console.log("PATHS " + JSON.stringify(embeddedIpxe));
console.log("READY " + srv.port);
`,
    );
    const exe = join(work, "embedded-tftp");
    // As build.ts does: the TFTP data plane thread is an extra entrypoint.
    const built = await Bun.build({ entrypoints: [entry, join(repo, "src/protocols/tftp/dataplane.ts")], compile: { outfile: exe }, minify: true });
    expect(built.success).toBe(true);

    const runDir = mkdtempSync(join(work, "run-"));
    const p = Bun.spawn([exe], { cwd: runDir, stdout: "pipe", stderr: "inherit" });
    try {
      const reader = p.stdout.getReader();
      let out = "";
      while (!out.includes("READY")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += new TextDecoder().decode(value);
      }
      const port = Number(/READY (\d+)/.exec(out)?.[1]);
      const paths = JSON.parse(/PATHS (.*)/.exec(out)?.[1] ?? "{}") as Record<string, string>;
      expect(Object.keys(paths).sort()).toEqual(["ipxe-arm64.efi", "ipxe.efi", "ipxe.pxe", "snponly.efi", "undionly.kpxe"]);
      for (const path of Object.values(paths)) expect(path).toContain("$bunfs");
      for (const name of Object.keys(paths)) {
        const c = Bun.spawn(["curl", "-s", "--max-time", "20", "--tftp-blksize", "1468", "-o", "-", `tftp://127.0.0.1:${port}/${name}`], { stdout: "pipe" });
        const body = Buffer.from(await new Response(c.stdout).arrayBuffer());
        expect(await c.exited).toBe(0);
        expect(body.equals(readFileSync(join(repo, "assets/ipxe", name)))).toBe(true);
      }
    } finally {
      p.kill();
      await p.exited;
    }
  },
  120_000,
);
