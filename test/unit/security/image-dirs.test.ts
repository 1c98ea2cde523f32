// Issue 13 item 8 (images): a killed `image import` left a 390 MB `.import-*` directory that nothing
// removed, and a setuid file in an image stayed reachable by local users through a data dir others can
// traverse. The next image write removes what a dead import left (never a live one's), and the images
// directory is 0700.
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createServices } from "../../../src/app";
import { tempDir } from "../../helpers/cli";

test("a dead import's .import-* directory goes at the next import; a live one's stays; images/ is 0700", async () => {
  const { dir, cleanup } = tempDir();
  const svc = createServices(dir);
  try {
    const images = join(dir, "images");
    mkdirSync(images, { recursive: true, mode: 0o755 });
    const stale = join(images, ".import-rocky-10-deadbeef");
    mkdirSync(join(stale, "rootfs", "usr", "bin"), { recursive: true });
    writeFileSync(join(stale, "rootfs", "usr", "bin", "big"), new Uint8Array(1 << 20));
    // Killed mid-way: its lock names a process that is gone.
    writeFileSync(join(images, ".rocky-10.lock"), "999999999");
    // Another process (pid 1 is alive and is not us) is importing 'alma' right now.
    const live = join(images, ".import-alma-cafebabe");
    mkdirSync(join(live, "rootfs"), { recursive: true });
    writeFileSync(join(images, ".alma.lock"), "1");
    // The import itself fails (no such archive); the clean-up has run before it.
    const err = await svc.images.import(join(dir, "no-such.tar"), "other").then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeDefined();
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(statSync(images).mode & 0o777).toBe(0o700);
    // Nothing of the failed import is left either.
    expect(svc.images.sweepImports()).toEqual([]);
  } finally {
    svc.close();
    cleanup();
  }
});
