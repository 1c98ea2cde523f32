import type { Conf } from "../domain/conf";
import type { BootRefusal, BootRequest } from "../boot/ports";

/**
 * Who may fetch a node's runtime overlay. It carries files only root on the node should read (root's
 * authorized keys, passwd with the head node's users), so, as Warewulf's `secure` mode but always on:
 * - the request must come from a privileged source port (< 1024), which only root can bind;
 * - from one of the node's own addresses, so one node cannot read another's overlay by naming its MAC.
 * The asset key (when the node has one) is checked by the BootService for every boot file.
 */
export interface RuntimeSecurity {
  /** Off only for development or a network of wget-only nodes (see docs/overlays.md). */
  enforce: boolean;
}

/** Strips the IPv4-mapped IPv6 prefix Bun reports for IPv4 clients on a dual-stack socket. */
export function plainAddress(a: string | undefined): string | undefined {
  if (!a) return a;
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}

function nodeAddresses(conf: Conf): Set<string> {
  const out = new Set<string>();
  for (const d of Object.values(conf.networkDevices ?? {})) {
    if (d.ipaddr) out.add(d.ipaddr.split("/")[0]!);
    if (d.ipaddr6) out.add(d.ipaddr6.toLowerCase());
  }
  return out;
}

/**
 * Returns why a runtime overlay request must be refused, or undefined when it may be served. A node with
 * no static address in drover (configured by DHCP) is matched against `leased`, the address drover's DHCP
 * server gave it, when the caller knows it; with neither, only the port is checked (Warewulf's `secure`).
 */
export function runtimeAllowed(
  node: { name: string; conf: Conf },
  req: BootRequest,
  sec: RuntimeSecurity = { enforce: true },
  leased?: string,
): BootRefusal | undefined {
  if (!sec.enforce) return undefined;
  const port = req.remotePort;
  if (port === undefined || port >= 1024)
    return {
      refused: true,
      status: 403,
      message:
        `runtime overlay of ${node.name} refused: the request came from port ${port ?? "unknown"}; only root on the node may fetch it, from a ` +
        `port below 1024 (curl --local-port 900-1000; the drover agent does this)`,
    };
  const remote = plainAddress(req.remote)?.toLowerCase();
  const mine = nodeAddresses(node.conf);
  if (leased) mine.add(leased);
  if (mine.size === 0) return undefined;
  if (!remote || !mine.has(remote))
    return {
      refused: true,
      status: 403,
      message:
        `runtime overlay of ${node.name} refused: the request came from ${remote ?? "an unknown address"}, which is not one of the node's ` +
        `addresses (${[...mine].join(", ") || "none set"})`,
    };
  return undefined;
}
