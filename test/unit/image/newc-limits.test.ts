/**
 * The cpio "newc" format keeps each entry's size in 8 hex digits: a file of 4 GiB or more cannot be in a
 * boot image. The build refuses it by name before writing anything, instead of writing its size cut mod
 * 4 GiB (which the kernel and stage 1 would unpack into garbage). The image as a whole has no such limit.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DroverError } from "../../../src/domain/errors";
import { ImageTooLargeFileError, NEWC_MAX_FILE, buildImage, planCpio } from "../../../src/image/build";
import { tempDir } from "../../helpers/cli";

const t = tempDir("drover-newc-");
afterAll(() => t.cleanup());

test("a file of 4 GiB is refused by name with what to do; one byte less is planned", async () => {
  const root = join(t.dir, "root");
  mkdirSync(join(root, "data"), { recursive: true });
  writeFileSync(join(root, "data", "small"), "x");
  // Sparse: no disk is used.
  writeFileSync(join(root, "data", "big"), "");
  truncateSync(join(root, "data", "big"), NEWC_MAX_FILE);
  expect(planCpio(root, []).unpacked).toBeGreaterThan(NEWC_MAX_FILE);
  truncateSync(join(root, "data", "big"), NEWC_MAX_FILE + 1);
  let err: unknown;
  try {
    planCpio(root, []);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ImageTooLargeFileError);
  expect(err).toBeInstanceOf(DroverError);
  expect((err as DroverError).kind).toBe("invalid");
  expect((err as Error).message).toMatch(/^\/data\/big is 4\.00 GiB: a file in a boot image must be under 4 GiB .*NFS/);
  // The build stops before it writes the archive.
  const out = join(t.dir, "image.img.gz");
  await expect(buildImage(root, out)).rejects.toBeInstanceOf(ImageTooLargeFileError);
  expect(existsSync(out)).toBe(false);
});
