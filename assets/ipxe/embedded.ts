/// <reference path="./ipxe-files.d.ts" />
/**
 * The iPXE binaries compiled into drover. `with { type: "file" }` makes `bun build --compile` embed each
 * file in the executable; the value is a path Bun.file() can read (see SOURCES.md for their origin).
 */
import oldIpxeEfi from "./debian-2019/ipxe.efi" with { type: "file" };
import oldSnponlyEfi from "./debian-2019/snponly.efi" with { type: "file" };
import oldUndionlyKpxe from "./debian-2019/undionly.kpxe" with { type: "file" };
import ipxeArm64Efi from "./ipxe-arm64.efi" with { type: "file" };
import ipxeEfi from "./ipxe.efi" with { type: "file" };
import ipxePxe from "./ipxe.pxe" with { type: "file" };
import snponlyEfi from "./snponly.efi" with { type: "file" };
import undionlyKpxe from "./undionly.kpxe" with { type: "file" };
import type { IpxeSetName } from "./sets";

/** Per set (assets/ipxe/sets.ts): file name as served -> embedded path. */
export const embeddedIpxeSets: Readonly<Record<IpxeSetName, Readonly<Record<string, string>>>> = Object.freeze({
  current: Object.freeze({
    "undionly.kpxe": undionlyKpxe,
    "ipxe.pxe": ipxePxe,
    "ipxe.efi": ipxeEfi,
    "snponly.efi": snponlyEfi,
    "ipxe-arm64.efi": ipxeArm64Efi,
  }),
  "debian-2019": Object.freeze({
    "undionly.kpxe": oldUndionlyKpxe,
    "ipxe.efi": oldIpxeEfi,
    "snponly.efi": oldSnponlyEfi,
  }),
});

/** The default set. */
export const embeddedIpxe = embeddedIpxeSets.current;
