import { hostname } from "node:os";
import type { ServerSettings } from "../overlay/data";
import type { ServeConfig } from "./serve";

/**
 * The head node as nodes see it (`it.server` in templates, the agent's URL): a guess from the host when no
 * `drover serve` configuration is at hand (the CLI), else from the configuration (serverSettingsFromServe).
 */

/** The host's first IPv4 interface and the default port. `drover serve` replaces them (OverlayService.setServer). */
export function guessServerSettings(
  ifaces: Record<string, { address: string; netmask: string; family: string; internal: boolean }[] | undefined>,
  port = 9873,
): ServerSettings {
  for (const addrs of Object.values(ifaces))
    for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) return { address: a.address, netmask: a.netmask, port, hostname: hostname() };
  return { address: "127.0.0.1", netmask: "255.0.0.0", port, hostname: hostname() };
}

/**
 * The server settings `drover serve` hands to the overlays: the address of the first DHCP interface (else
 * the listen address when it is specific, else the host's first IPv4 address), its netmask and DNS servers,
 * and the HTTP port actually bound.
 */
export function serverSettingsFromServe(cfg: Pick<ServeConfig, "http" | "dhcp">, httpPort: number, fallback: ServerSettings): ServerSettings {
  const i = cfg.dhcp.interfaces[0];
  if (i) return { ...fallback, address: i.serverIp, netmask: i.netmask, port: httpPort, ...(i.dns?.length ? { dns: i.dns } : {}) };
  if (cfg.http.listen !== "0.0.0.0" && cfg.http.listen !== "::") return { ...fallback, address: cfg.http.listen, port: httpPort };
  return { ...fallback, port: httpPort };
}
