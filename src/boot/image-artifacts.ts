import { existsSync, statSync } from "node:fs";
import type { ImageService } from "../services/images";
import type { BootArtifact, BootRefusal, ImageArtifacts } from "./ports";

/**
 * The image service as the boot routes see it. ETags come from size, mtime and inode: an image rebuild
 * writes a new file and renames it into place, so every rebuild changes the inode and thus the ETag.
 */
export function imageArtifacts(images: ImageService): ImageArtifacts {
  const artifact = (path: string): BootArtifact | BootRefusal => {
    try {
      const st = statSync(path);
      return { path, size: st.size, mtimeMs: st.mtimeMs, etag: `"${st.ino.toString(16)}-${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"` };
    } catch {
      return { refused: true, status: 503, message: `${path} is missing; rebuild with: drover image build` };
    }
  };
  return {
    async kernel(image, version) {
      const b = images.bootFiles(image, version);
      if (!b.kernel) return { refused: true, status: 404, message: b.problem ?? `image ${image} has no kernel` };
      return artifact(b.kernel.path);
    },
    async image(image, format = "gzip") {
      const b = images.bootFiles(image);
      if (!b.image) return { refused: true, status: 404, message: b.problem ?? `image ${image} is not built; run: drover image build ${image}` };
      if (format === "zstd")
        return b.zstd
          ? artifact(b.zstd)
          : { refused: true, status: 404, message: `image ${image} has no zstd archive; rebuild it: drover image build ${image}` };
      return artifact(b.image);
    },
    async pieces(image, format) {
      const b = images.bootFiles(image);
      const archive = format === "zstd" ? b.zstd : b.image;
      if (!archive || !existsSync(`${archive}.pieces`))
        return { refused: true, status: 404, message: `image ${image} has no piece index for its ${format} archive; rebuild it: drover image build ${image}` };
      return artifact(`${archive}.pieces`);
    },
    async stage1(image, version) {
      const b = images.bootFiles(image, version);
      if (!b.stage1)
        return {
          refused: true,
          status: 404,
          message:
            b.problem ??
            b.build?.stage1Problem ??
            `image ${image} has no stage 1 for kernel ${b.kernel?.version ?? "?"}; rebuild it: drover image build ${image}`,
        };
      return artifact(b.stage1);
    },
    plan(image, version) {
      const b = images.bootFiles(image, version);
      if (!b.image || !b.build) return undefined;
      return {
        gzip: { size: b.build.size, ...(b.build.sha256 ? { sha256: b.build.sha256 } : {}) },
        ...(b.zstd && b.build.zstd ? { zstd: b.build.zstd } : {}),
        unpacked: b.build.unpacked,
        largestPiece: b.build.largestPiece,
        stage1: !!b.stage1,
        indexed: [...(existsSync(`${b.image}.pieces`) ? ["gzip" as const] : []), ...(b.zstd && existsSync(`${b.zstd}.pieces`) ? ["zstd" as const] : [])],
      };
    },
  };
}
