// Text imports (`import x from "./file.sql" with { type: "text" }`) are embedded by Bun at build time.
declare module "*.sql" {
  const text: string;
  export default text;
}
declare module "*.ipxe" {
  const text: string;
  export default text;
}
declare module "*.eta" {
  const text: string;
  export default text;
}
declare module "*.script" {
  const text: string;
  export default text;
}
declare module "*.sh" {
  const text: string;
  export default text;
}
