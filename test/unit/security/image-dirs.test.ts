// Issue 13 item 8 (images): a killed `image import` left a 390 MB `.import-*` directory that nothing
// removed, and a setuid file in an image stayed reachable by local users through a data dir others can
// traverse. The next image write removes what a dead import left (never a live one's), and the images
// directory is 0700; `drover serve` does both when it starts (ImageService.open; the serve side is in
// test/integration/serve-images.test.ts). A killed `image exec` left its `.exec-*` session directory
// (overlay layers) in the image's directory: swept the same way, never one in use.
import { expect, test } from "bun:test";
import { spawnSync } from "bun";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
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

/** A data dir's images/ as an old install left it: 0755, dead and live imports, dead and live exec sessions. */
function leftovers(dir: string) {
  const images = join(dir, "images");
  mkdirSync(images, { recursive: true });
  chmodSync(images, 0o755);
  const deadImport = join(images, ".import-rocky-10-deadbeef");
  mkdirSync(join(deadImport, "rootfs"), { recursive: true });
  writeFileSync(join(images, ".rocky-10.lock"), "999999999");
  const liveImport = join(images, ".import-alma-cafebabe");
  mkdirSync(join(liveImport, "rootfs"), { recursive: true });
  writeFileSync(join(images, ".alma.lock"), "1");
  // An exec killed mid-way in 'bb' (its lock names a process that is gone) left upper/work/merged.
  const deadSession = join(images, "bb", ".exec-0123abcd");
  mkdirSync(join(deadSession, "upper", "etc"), { recursive: true });
  mkdirSync(join(deadSession, "work"), { recursive: true });
  mkdirSync(join(deadSession, "merged"), { recursive: true });
  writeFileSync(join(deadSession, "upper", "etc", "big"), new Uint8Array(1 << 20));
  mkdirSync(join(images, "bb", "rootfs"), { recursive: true });
  writeFileSync(join(images, ".bb.lock"), "999999999");
  // 'alma' is being worked on by a live process (pid 1): its session stays.
  const liveSession = join(images, "alma", ".exec-89abcdef");
  mkdirSync(join(liveSession, "upper"), { recursive: true });
  return { images, deadImport, liveImport, deadSession, liveSession };
}

test("open() (drover serve's start) makes images/ 0700 and sweeps dead imports and exec sessions without an image write", () => {
  const { dir, cleanup } = tempDir();
  const svc = createServices(dir);
  try {
    const l = leftovers(dir);
    const lines = svc.images.open();
    expect(statSync(l.images).mode & 0o777).toBe(0o700);
    expect(existsSync(l.deadImport)).toBe(false);
    expect(existsSync(l.deadSession)).toBe(false);
    expect(existsSync(join(l.images, "bb", "rootfs"))).toBe(true);
    expect(existsSync(l.liveImport)).toBe(true);
    expect(existsSync(l.liveSession)).toBe(true);
    expect(lines).toEqual([
      `made ${l.images} 0700 (others could reach the files of its images)`,
      "removed what killed imports left: .import-rocky-10-deadbeef",
      "removed what killed image execs left: bb/.exec-0123abcd",
    ]);
    // Nothing left to do the second time.
    expect(svc.images.open()).toEqual([]);
  } finally {
    svc.close();
    cleanup();
  }
});

test("an image write sweeps dead exec sessions too", async () => {
  const { dir, cleanup } = tempDir();
  const svc = createServices(dir);
  try {
    const l = leftovers(dir);
    await svc.images.import(join(dir, "no-such.tar"), "other").catch(() => {});
    expect(existsSync(l.deadSession)).toBe(false);
    expect(existsSync(l.liveSession)).toBe(true);
  } finally {
    svc.close();
    cleanup();
  }
});

test("a session a process still runs in stays (the command of an exec whose drover was killed), and goes once it ends", async () => {
  const { dir, cleanup } = tempDir();
  const svc = createServices(dir);
  try {
    const l = leftovers(dir);
    // What a killed exec's command looks like from here: a process whose cwd (or chroot) is the session's merged dir.
    const proc = Bun.spawn(["sleep", "60"], { cwd: join(l.deadSession, "merged") });
    try {
      expect(svc.images.sweepSessions()).toEqual([]);
      expect(existsSync(join(l.deadSession, "upper", "etc", "big"))).toBe(true);
    } finally {
      proc.kill(9);
      await proc.exited;
    }
    expect(svc.images.sweepSessions()).toEqual(["bb/.exec-0123abcd"]);
  } finally {
    svc.close();
    cleanup();
  }
});

const root = process.getuid?.() === 0;
test.skipIf(!root)("a session with something mounted under it stays, and the mounted files are untouched (root)", () => {
  const { dir, cleanup } = tempDir();
  const svc = createServices(dir);
  const l = leftovers(dir);
  const victim = join(dir, "victim");
  mkdirSync(victim);
  writeFileSync(join(victim, "precious"), "keep me");
  const point = join(l.deadSession, "merged", "home");
  mkdirSync(point, { recursive: true });
  const mounted = spawnSync(["mount", "--bind", victim, point]).exitCode === 0;
  try {
    expect(mounted).toBe(true);
    expect(svc.images.sweepSessions()).toEqual([]);
    expect(readFileSync(join(victim, "precious"), "utf8")).toBe("keep me");
  } finally {
    if (mounted) spawnSync(["umount", point]);
  }
  try {
    // Unmounted, it is an ordinary leftover.
    expect(svc.images.sweepSessions()).toEqual(["bb/.exec-0123abcd"]);
    expect(readFileSync(join(victim, "precious"), "utf8")).toBe("keep me");
  } finally {
    svc.close();
    cleanup();
  }
});
