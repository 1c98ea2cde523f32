/// <reference path="./ipxe-files.d.ts" />
/**
 * The iPXE binaries compiled into drover. `with { type: "file" }` makes `bun build --compile` embed each
 * file in the executable; the value is a path Bun.file() can read (see SOURCES.md for their origin).
 */
import ipxeEfi from "./ipxe.efi" with { type: "file" };
import snponlyEfi from "./snponly.efi" with { type: "file" };
import undionlyKpxe from "./undionly.kpxe" with { type: "file" };

/** File name as served -> embedded path. */
export const embeddedIpxe: Readonly<Record<string, string>> = Object.freeze({
  "undionly.kpxe": undionlyKpxe,
  "ipxe.efi": ipxeEfi,
  "snponly.efi": snponlyEfi,
});
