/**
 * The names drover accepts, one rule each, for the server and the web page alike (ui/ imports this file, so
 * it imports nothing). A rule lives here once; the messages that explain it stay with the code that refuses.
 */

/**
 * An image or overlay name: it names a directory under the data dir (`images/NAME`, `overlays/NAME`), so it
 * starts with a letter or digit (never '.', never '-' that reads as an option), has no '/' and is at most 128
 * characters of letters, digits, '.', '_', '-' and '+'.
 */
export const IMAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
/** The same rule as {@link IMAGE_NAME}: overlays and images are named alike. */
export const OVERLAY_NAME = IMAGE_NAME;

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;
/**
 * RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens, 253 characters at most.
 * Node names and profile names follow it (a node's name is its host name).
 */
export function isHostname(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split(".").every((l) => LABEL.test(l));
}

/** A network's name in a node's or profile's `network devices` (the key, not the interface): `default`, `ib0`. */
export const NETWORK_NAME = /^[A-Za-z0-9_.-]+$/;
/** An entry of a profile or overlay list: a name with the same characters, `~NAME` taking one out. */
export const LIST_ENTRY = /^~?[A-Za-z0-9_.-]+$/;

/** A Linux interface name as a node's `device`: at most 15 characters (IFNAMSIZ - 1), no spaces or '/'. */
export const INTERFACE_NAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

/** An iPXE template name: a file name without its `.ipxe`, never a path (no '/', no leading '.'). */
export function isTemplateName(name: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(name);
}

/** A power template name (`<data dir>/power/NAME.tmpl`); a name with `..` in it is refused besides. */
export const POWER_TEMPLATE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A drover user name: what `useradd` accepts by default, 32 characters at most. */
export const USER_NAME = /^[a-z_][a-z0-9_.-]{0,31}$/;
