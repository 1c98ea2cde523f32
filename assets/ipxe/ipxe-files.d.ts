// `import path from "./x.efi" with { type: "file" }` gives a path string: on disk under `bun run`, inside the
// executable ($bunfs) after `bun build --compile`. Bun.file(path) reads it either way.
declare module "*.efi" {
  const path: string;
  export default path;
}
declare module "*.kpxe" {
  const path: string;
  export default path;
}
declare module "*.pxe" {
  const path: string;
  export default path;
}
