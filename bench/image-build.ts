/**
 * Image build: drover's parallel cpio+gzip (Workers, libdeflate, concatenated gzip members) against the
 * reference pipeline `find . | cpio -o -H newc | pigz` on the same ~500 MB tree, in the same run.
 * Reports wall time (median of 3), the ratio, output sizes and each side's peak RSS (whole process tree,
 * sampled from /proc every 50 ms).
 */
import { rmSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { droverBin, du, rootfs500, timedTree, WORK } from "./_image";
import { median, timed } from "./_util";

const src = rootfs500();
const bin = droverBin();
const data = join(WORK, "image-build-data");
rmSync(data, { recursive: true, force: true });
timed([bin, "-d", data, "image", "import", src, "bench", "--no-build"]);
const rootfs = join(data, "images/bench/rootfs");
console.log(`tree: ${(du(rootfs) / 1e6).toFixed(0)} MB, ${availableParallelism()} cores`);

const ref = join(WORK, "ref.cpio.gz");
const runs = { drover: [] as number[], ref: [] as number[] };
const rss = { drover: 0, ref: 0 };
for (let i = 0; i < 3; i++) {
  const d = await timedTree([bin, "-d", data, "image", "build", "bench"]);
  runs.drover.push(d.ms);
  rss.drover = Math.max(rss.drover, d.peakMb);
  const r = await timedTree(["sh", "-c", `find . | cpio -o -H newc --quiet | pigz -6 > ${ref}`], rootfs);
  runs.ref.push(r.ms);
  rss.ref = Math.max(rss.ref, r.peakMb);
}
const dm = median(runs.drover);
const rm = median(runs.ref);
const dSize = statSync(join(data, "images/bench/image.img.gz")).size;
const rSize = statSync(ref).size;
console.log(`drover image build        ${(dm / 1000).toFixed(2)} s  ${(dSize / 1e6).toFixed(1)} MB  peak RSS ${rss.drover.toFixed(0)} MB`);
console.log(`find|cpio|pigz (reference) ${(rm / 1000).toFixed(2)} s  ${(rSize / 1e6).toFixed(1)} MB  peak RSS ${rss.ref.toFixed(0)} MB`);
console.log(`ratio drover/reference: time ${(dm / rm).toFixed(2)}x, size ${(dSize / rSize).toFixed(3)}x`);
rmSync(ref, { force: true });
