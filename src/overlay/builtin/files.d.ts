// Built-in overlay files without a template suffix, imported as text by index.ts (see scripts/embed-overlays.ts).
declare module "*/init" {
  const text: string;
  export default text;
}
declare module "*/stage2" {
  const text: string;
  export default text;
}
declare module "*/agent" {
  const text: string;
  export default text;
}
declare module "*/README" {
  const text: string;
  export default text;
}
declare module "*.service" {
  const text: string;
  export default text;
}
declare module "*/.drover-requires" {
  const text: string;
  export default text;
}
