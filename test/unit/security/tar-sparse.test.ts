// Issue 13 item 8 (images): PAX sparse files were stored as their sparse map. GNU tar's sparse formats
// (PAX GNU.sparse.* 0.0/0.1/1.0 and the old GNU 'S' member) are now refused with a message saying what to do.
import { afterAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readTar, TarError } from "../../../src/image/tar";
import { tempDir } from "../../helpers/cli";

const t = tempDir("drover-sparse-");
afterAll(() => t.cleanup());
const hasTar = Bun.which("tar") !== null;

async function* once(b: Uint8Array) {
  yield b;
}

async function read(archive: Uint8Array) {
  const paths: string[] = [];
  await readTar(once(archive), async (e, body) => {
    for await (const _ of body());
    paths.push(e.path);
  });
  return paths;
}

test.skipIf(!hasTar)("sparse members made by GNU tar are refused clearly; the same file stored plainly is read", async () => {
  const f = join(t.dir, "disk.img");
  writeFileSync(f, "");
  Bun.spawnSync(["truncate", "-s", "8M", f]);
  writeFileSync(f, "data in the middle", { flag: "r+" });
  for (const args of [["--format=pax"], ["--format=pax", "--sparse-version=1.0"], ["--format=gnu"]]) {
    const out = join(t.dir, "sparse.tar");
    const r = Bun.spawnSync(["tar", "-C", t.dir, "--sparse", ...args, "-cf", out, "disk.img"]);
    expect(r.exitCode).toBe(0);
    const err = await read(new Uint8Array(readFileSync(out))).then(
      () => undefined,
      (e) => e,
    );
    expect({ args, ok: err instanceof TarError }).toEqual({ args, ok: true });
    expect((err as Error).message).toMatch(/'.*disk\.img' is stored as a sparse file .* rebuild the layer without --sparse/);
  }
  const plain = join(t.dir, "plain.tar");
  expect(Bun.spawnSync(["tar", "-C", t.dir, "--format=pax", "-cf", plain, "disk.img"]).exitCode).toBe(0);
  expect(await read(new Uint8Array(readFileSync(plain)))).toEqual(["disk.img"]);
});
