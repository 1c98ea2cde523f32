import { afterAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/cli";

// Issue 13 item 8: `drover serve` puts an old install's images directory right when it starts, without
// waiting for an image write: images/ 0700, what killed imports and execs left removed (from source,
// loopback only, DHCP off). The rules themselves: test/unit/security/image-dirs.test.ts.
const main = join(import.meta.dir, "../../src/main.ts");
const t = tempDir("drover-serve-images-");
afterAll(() => t.cleanup());

test("drover serve's start makes images/ 0700 and removes dead .import-* and .exec-* directories, keeping live ones", async () => {
  const data = join(t.dir, "data");
  const images = join(data, "images");
  mkdirSync(join(images, ".import-rocky-deadbeef", "rootfs"), { recursive: true });
  writeFileSync(join(images, ".rocky.lock"), "999999999");
  mkdirSync(join(images, "bb", ".exec-0123abcd", "upper"), { recursive: true });
  mkdirSync(join(images, "bb", "rootfs"), { recursive: true });
  mkdirSync(join(images, "alma", ".exec-89abcdef", "upper"), { recursive: true });
  writeFileSync(join(images, ".alma.lock"), "1"); // pid 1: a live process works on alma
  chmodSync(data, 0o755);
  chmodSync(images, 0o755);

  const proc = Bun.spawn([process.execPath, main, "-d", data, "serve", "--port", "0", "--listen", "127.0.0.1", "--tftp-port", "0"], {
    env: { PATH: process.env.PATH!, HOME: t.dir },
    stdout: "ignore",
    stderr: "pipe",
  });
  let log = "";
  const reading = (async () => {
    for await (const c of proc.stderr as unknown as AsyncIterable<Uint8Array>) log += new TextDecoder().decode(c);
  })();
  try {
    const end = Date.now() + 30_000;
    while (!/HTTP on http:\/\/127\.0\.0\.1:\d+/.test(log)) {
      if (proc.exitCode !== null || Date.now() > end) throw new Error(`drover serve did not start:\n${log}`);
      await Bun.sleep(30);
    }
    expect(statSync(images).mode & 0o777).toBe(0o700);
    expect(existsSync(join(images, ".import-rocky-deadbeef"))).toBe(false);
    expect(existsSync(join(images, "bb", ".exec-0123abcd"))).toBe(false);
    expect(existsSync(join(images, "bb", "rootfs"))).toBe(true);
    expect(existsSync(join(images, "alma", ".exec-89abcdef"))).toBe(true);
    expect(log).toContain(`drover: images: made ${images} 0700`);
    expect(log).toContain("drover: images: removed what killed imports left: .import-rocky-deadbeef");
    expect(log).toContain("drover: images: removed what killed image execs left: bb/.exec-0123abcd");
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    await reading;
  }
}, 60_000);
