/**
 * Image import from a registry: `drover image import docker://… --no-build` against `skopeo copy` to an OCI
 * layout followed by `umoci unpack`, both pulling the same 4-layer ~500 MB image from Debian's
 * docker-registry on 127.0.0.1 (plain HTTP), each starting with an empty cache, in the same run.
 */
import { spawnSync } from "bun";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ociLayout } from "../test/fixtures/image/make";
import { startRegistry } from "../test/helpers/registry";
import { droverBin, rootfs500, timedTree, WORK } from "./_image";
import { median } from "./_util";

const src = rootfs500();
const bin = droverBin();
// Four layers: usr/bin, two halves of usr/share, and the rest, as an image built in steps would have.
const share = readdirSync(join(src, "usr/share")).sort();
const half = Math.floor(share.length / 2);
const layerOf = (paths: string[]) => {
  const r = spawnSync(["tar", "--xattrs", "--numeric-owner", "-C", src, "-cf", "-", ...paths], { stdout: "pipe" });
  return new Uint8Array(r.stdout);
};
const layers = [
  layerOf(["bin"]),
  layerOf(["usr/bin"]),
  layerOf(share.slice(0, half).map((d) => `usr/share/${d}`)),
  layerOf(share.slice(half).map((d) => `usr/share/${d}`)),
];
const layout = join(WORK, "import-layout");
rmSync(layout, { recursive: true, force: true });
ociLayout(layout, layers);
const reg = await startRegistry();
try {
  const push = spawnSync(["skopeo", "copy", "--quiet", `oci:${layout}:latest`, `docker://${reg.host}/bench/img:1`, "--dest-tls-verify=false"], {
    stderr: "pipe",
  });
  if (push.exitCode !== 0) throw new Error(push.stderr.toString());
  const total = layers.reduce((n, l) => n + l.length, 0);
  console.log(`image: ${layers.length} layers, ${(total / 1e6).toFixed(0)} MB uncompressed`);
  const runs = { drover: [] as number[], ref: [] as number[] };
  const rss = { drover: 0, skopeo: 0, umoci: 0 };
  const N = Number(process.env.BENCH_RUNS ?? 3);
  for (let i = 0; i < N; i++) {
    const data = join(WORK, "import-data");
    rmSync(data, { recursive: true, force: true });
    const d = await timedTree([bin, "-d", data, "image", "import", `docker://${reg.host}/bench/img:1`, "img", "--nohttps", "--no-build"]);
    runs.drover.push(d.ms);
    rss.drover = Math.max(rss.drover, d.peakMb);
    rmSync(data, { recursive: true, force: true });
    const oci = join(WORK, "import-ref-oci");
    const bundle = join(WORK, "import-ref-bundle");
    rmSync(oci, { recursive: true, force: true });
    rmSync(bundle, { recursive: true, force: true });
    mkdirSync(oci);
    const s = await timedTree(["skopeo", "copy", "--quiet", "--src-tls-verify=false", `docker://${reg.host}/bench/img:1`, `oci:${oci}:img`]);
    const u = await timedTree(["umoci", "unpack", "--image", `${oci}:img`, bundle]);
    runs.ref.push(s.ms + u.ms);
    rss.skopeo = Math.max(rss.skopeo, s.peakMb);
    rss.umoci = Math.max(rss.umoci, u.peakMb);
    rmSync(oci, { recursive: true, force: true });
    rmSync(bundle, { recursive: true, force: true });
  }
  const dm = median(runs.drover);
  const rm = median(runs.ref);
  console.log(`drover image import          ${(dm / 1000).toFixed(2)} s  peak RSS ${rss.drover.toFixed(0)} MB`);
  console.log(`skopeo copy + umoci unpack   ${(rm / 1000).toFixed(2)} s  peak RSS skopeo ${rss.skopeo.toFixed(0)} MB, umoci ${rss.umoci.toFixed(0)} MB`);
  console.log(`ratio drover/reference: ${(dm / rm).toFixed(2)}x`);
} finally {
  reg.stop();
  rmSync(layout, { recursive: true, force: true });
}
