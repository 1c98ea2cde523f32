import { type Services, apiDeps } from "./app";
import { dirBootFiles, embeddedIpxeFiles } from "./boot/files";
import type { BootFiles, ImageArtifacts, OverlayArtifacts } from "./boot/ports";
import { imageArtifacts } from "./boot/image-artifacts";
import { BootService } from "./boot/service";
import { serverSettingsFromServe } from "./services/overlays";
import type { ServeConfig } from "./config/serve";
import { createApp } from "./http/app";
import { COMMIT, VERSION } from "./version";
import { type DhcpServer, dhcpConfig, startDhcpServer } from "./protocols/dhcp";
import { startRaServer } from "./protocols/ra/server";
import { type TftpServer, startTftpServer } from "./protocols/tftp/server";
import { sqliteLeaseStore } from "./store/boot-store";

export interface RunningServer {
  httpPort: number;
  tftpPort?: number;
  dhcp?: DhcpServer;
  stop(): Promise<void>;
}

export interface ServerExtras {
  /** The image subsystem's artifacts for the boot routes (kernel + image archive per image). */
  images?: ImageArtifacts;
  overlays?: OverlayArtifacts;
  debug?: boolean;
  /** Only clients in these subnets may use the API and the web page (drover serve --api-subnet). */
  apiSubnets?: string[];
  /** Mark the session cookie Secure (behind a TLS-terminating proxy). */
  secureCookies?: boolean;
}

/**
 * The composition root of `drover serve`: builds the boot service over the node store and starts HTTP,
 * TFTP and DHCP in this process. They live and die together: if one fails to start, the others are
 * stopped and the error goes up; stop() ends them all.
 */
export async function startServer(svc: Services, cfg: Readonly<ServeConfig>, log: (line: string) => void, extras: ServerExtras = {}): Promise<RunningServer> {
  const startedAt = new Date();
  const files: BootFiles = cfg.ipxeDir ? dirBootFiles(cfg.ipxeDir) : embeddedIpxeFiles();
  const boot = new BootService(
    svc.nodes,
    svc.bootState,
    extras.images ?? imageArtifacts(svc.images),
    extras.overlays ?? svc.overlays,
    {
      discovery: cfg.discovery.enabled,
      ...(cfg.discovery.register ? { register: cfg.discovery.register } : {}),
      ...(cfg.ipxeTemplateDir ? { ipxeTemplateDir: cfg.ipxeTemplateDir } : {}),
      secureRuntime: cfg.runtime.secure,
    },
    log,
  );
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch((e) => log(`drover: stopping: ${(e as Error).message}`));
    stops.length = 0;
  };
  // The first start creates the admin account and prints its password, once.
  const adminPassword = await svc.auth.ensureAdmin();
  if (adminPassword) log(`drover: created the web/API account 'admin' with password ${adminPassword} (shown once; change it with 'drover user passwd')`);
  let tftp: TftpServer | undefined;
  let dhcp: DhcpServer | undefined;
  const app = createApp({
    startedAt,
    stats: () => svc.nodes.counts(),
    services: () => ({
      http: { port: http.port },
      tftp: tftp ? { port: tftp.port, ...tftp.stats() } : { enabled: false },
      dhcp: dhcp ? { mode: cfg.dhcp.mode, listening: dhcp.listening, ...dhcp.stats() } : { mode: "off" },
      discovery: cfg.discovery,
    }),
    boot,
    bootFiles: files,
    api: apiDeps(svc, {
      settings: () => ({ ...structuredClone(cfg), dataDir: svc.dataDir }),
      ...(extras.apiSubnets?.length ? { allowedSubnets: extras.apiSubnets } : {}),
      ...(extras.secureCookies ? { secureCookies: true } : {}),
      version: `${VERSION} (${COMMIT})`,
    }),
  });
  const http = Bun.serve({ port: cfg.http.port, hostname: cfg.http.listen, fetch: app.fetch, idleTimeout: 255 });
  stops.push(async () => void (await http.stop(true)));
  log(`drover: HTTP on http://${cfg.http.listen}:${http.port} (data dir ${svc.dataDir})`);
  // Overlays render with this server's address, port and agent interval (the hosts file, the agent's URL).
  svc.overlays.setServer(serverSettingsFromServe(cfg, http.port!, { ...svc.overlays.serverSettings, pollSeconds: cfg.runtime.pollSeconds }));
  // Resolve every node once in the background, so the first boot request or page load does not pay for it.
  setTimeout(() => {
    try {
      svc.overlays.snapshot();
    } catch (e) {
      log(`drover: warming the node cache failed: ${(e as Error).message}`);
    }
  }, 0);
  if (!cfg.runtime.secure) log("drover: runtime overlays are served to any source port (--insecure-runtime): any process on a node can read them");
  try {
    if (cfg.tftp.enabled) {
      tftp = await startTftpServer({ port: cfg.tftp.port, address: cfg.tftp.address }, files, log);
      stops.push(() => tftp!.stop());
      log(`drover: TFTP on ${cfg.tftp.address}:${tftp.port} serving ${cfg.ipxeDir ?? "the embedded iPXE binaries"}`);
    }
    if (cfg.dhcp.mode === "off") {
      log("drover: DHCP is off until an interface is configured (drover serve --interface IF, see --help)");
    } else {
      const dcfg = dhcpConfig({
        interfaces: cfg.dhcp.interfaces.map((i) => ({
          name: i.name,
          mode: cfg.dhcp.mode,
          serverIp: i.serverIp,
          subnets: [
            { network: i.network, netmask: i.netmask, ...(i.router ? { router: i.router } : {}), ...(i.dns ? { dns: i.dns } : {}), ...(i.pool ? { pool: i.pool } : {}) },
            ...cfg.dhcp.relaySubnets,
          ],
        })),
        httpPort: http.port!,
        tftp: cfg.tftp.enabled,
        httpFilesPrefix: "/boot/",
        discovery: cfg.discovery.enabled,
        leaseSeconds: { reserved: cfg.dhcp.leaseSeconds },
        ports: { server: cfg.dhcp.port, pxe: cfg.dhcp.pxePort },
      });
      dhcp = await startDhcpServer(dcfg, boot, sqliteLeaseStore(svc.store.db), {
        info: log,
        debug: extras.debug ? log : () => {},
      });
      stops.push(() => dhcp!.stop());
      log(`drover: DHCP (${cfg.dhcp.mode}) on ${dhcp.listening.join(", ")}${cfg.discovery.enabled ? ", discovery on" : ""}`);
      if (cfg.dhcp.routerAdvertisements) {
        const ra = startRaServer(cfg.dhcp.interfaces.map((i) => i.name), log);
        stops.push(async () => ra.stop());
      }
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  return { httpPort: http.port!, ...(tftp ? { tftpPort: tftp.port } : {}), ...(dhcp ? { dhcp } : {}), stop: stopAll };
}
