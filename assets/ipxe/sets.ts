/**
 * The embedded iPXE sets and their files: data only, read by the server (which set to serve), by
 * embedded.ts and by update.ts (which keeps the files and SOURCES.md).
 */
export interface IpxeSet {
  /** Folder under assets/ipxe ("" for the default set). */
  dir: string;
  /** File name as served (and in the set's folder) → the name it has in a Debian package, if different. */
  files: Record<string, string>;
}

/**
 * current: iPXE 1.21.1+git20250501 (upstream dad20602), Debian's build (package ipxe of Debian 13): BIOS
 *   (UNDI chain-load, and a full-driver PXE image), UEFI x86-64 (full drivers, and SNP only), UEFI arm64.
 * debian-2019: Debian 12's ipxe 1.0.0+git-20190125, the build drover embedded first: for comparison.
 */
export const IPXE_SETS = {
  current: { dir: "", files: { "undionly.kpxe": "undionly.kpxe", "ipxe.pxe": "ipxe.pxe", "ipxe.efi": "ipxe-amd64.efi", "snponly.efi": "snponly.efi", "ipxe-arm64.efi": "ipxe-arm64.efi" } },
  "debian-2019": { dir: "debian-2019", files: { "undionly.kpxe": "undionly.kpxe", "ipxe.efi": "ipxe.efi", "snponly.efi": "snponly.efi" } },
} as const satisfies Record<string, IpxeSet>;
export type IpxeSetName = keyof typeof IPXE_SETS;
