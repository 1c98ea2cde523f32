import { statSync } from "node:fs";
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
    async image(image) {
      const b = images.bootFiles(image);
      if (!b.image) return { refused: true, status: 404, message: b.problem ?? `image ${image} is not built; run: drover image build ${image}` };
      return artifact(b.image);
    },
  };
}
