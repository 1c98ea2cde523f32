import { type Services, apiDeps } from "./app";
import { dirBootFiles, embeddedIpxeFiles } from "./boot/files";
import type { BootFiles, ImageArtifacts, OverlayArtifacts } from "./boot/ports";
import { imageArtifacts } from "./boot/image-artifacts";
import { BootService } from "./boot/service";
import { serverSettingsFromServe } from "./config/server-settings";
import type { ServeConfig } from "./config/serve";
import type { ServeSettings } from "./config/settings";
import { createApp } from "./http/app";
import { StreamAdmission } from "./http/admission";
import { bunWebSocket } from "./http/api/cli";
import type { RunCommand } from "./http/api/context";
import { COMMIT, VERSION } from "./version";
import { type DhcpServer, dhcpConfig, startDhcpServer } from "./protocols/dhcp";
import { type RaServer, startRaServer } from "./protocols/ra/server";
import { type TftpServer, startTftpServer } from "./protocols/tftp/server";
import { sqliteLeaseStore } from "./store/boot-store";
import { startCheckpointer } from "./store/checkpointer";
import { saveAdminPassword } from "./runtime/admin-password";
import { serveMetrics } from "./serve-metrics";

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
  /** Where debug lines go (drover serve: its logger at level debug); default the log. */
  debugLog?: (line: string) => void;
  /** Only clients in these subnets may use the API and the web page (drover serve --api-subnet). */
  apiSubnets?: string[];
  /** Mark the session cookie Secure (behind a TLS-terminating proxy). */
  secureCookies?: boolean;
  /** Runs a CLI command for `drover --server` clients (the API's /cli WebSocket); `drover serve` passes it. */
  runCommand?: RunCommand;
}

/**
 * The composition root of `drover serve`: builds the boot service over the node store and starts HTTP,
 * TFTP and DHCP in this process. They live and die together: if one fails to start, the others are
 * stopped and the error goes up; stop() ends them all.
 *
 * `settings` holds the running configuration; a change from the API (PATCH /api/v1/settings) comes back
 * here through settings.onApply: the new DHCP and RA servers start next to the old ones (the sockets share
 * the port), and only once they run are the old ones stopped, so a change that cannot start (an interface
 * gone, the port taken) leaves the old servers answering. Leases are in the store, so none is lost.
 */
export async function startServer(svc: Services, settings: ServeSettings, log: (line: string) => void, extras: ServerExtras = {}): Promise<RunningServer> {
  let cfg = settings.config;
  if (settings.startWarning) log(`drover: ${settings.startWarning}`);
  const startedAt = new Date();
  const files: BootFiles = cfg.ipxeDir ? dirBootFiles(cfg.ipxeDir) : embeddedIpxeFiles(cfg.ipxeBuild);
  // arm64 clients get the arm64 build where the set has one (a --ipxe-dir build: when the file is there).
  const arm64 = (await files.list()).includes("ipxe-arm64.efi") ? "ipxe-arm64.efi" : undefined;
  // One lease store for the process: it holds the leases in memory and is their only writer (group commit).
  const leases = sqliteLeaseStore(svc.store.db);
  // /metrics: counters fed by callbacks handed to each server below; gauges read when scraped.
  const obs = serveMetrics(svc, leases, () => ({ tftp, dhcp }));
  let ready = false;
  const boot = new BootService(
    svc.nodes,
    svc.bootState,
    extras.images ?? imageArtifacts(svc.images),
    obs.overlays(extras.overlays ?? svc.overlays),
    {
      discovery: cfg.discovery.enabled,
      ...(cfg.discovery.register ? { register: cfg.discovery.register } : {}),
      ...(cfg.ipxeTemplateDir ? { ipxeTemplateDir: cfg.ipxeTemplateDir } : {}),
      secureRuntime: cfg.runtime.secure,
      dhcpLeases: cfg.dhcp.mode === "authoritative",
    },
    log,
    leases,
    svc.snapshot,
  );
  const stops: (() => Promise<void>)[] = [];
  // WAL checkpoints on a thread of their own, not inside a group commit (store/checkpointer.ts); stopped last.
  const checkpoints = startCheckpointer(svc.store.sqlite, svc.store.path, { log });
  stops.push(() => checkpoints.stop());
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch((e) => log(`drover: stopping: ${(e as Error).message}`));
    stops.length = 0;
  };
  // The first start creates the admin account and saves its password to a 0600 file, once.
  const adminPassword = await svc.auth.ensureAdmin();
  if (adminPassword)
    log(`drover: created the web/API account 'admin'; its password is in ${saveAdminPassword(svc.dataDir, adminPassword)} (mode 0600): log in, change it with 'drover user passwd', then delete the file`);
  let tftp: TftpServer | undefined;
  let dhcp: DhcpServer | undefined;
  let ra: RaServer | undefined;
  const storeAnswers = () => {
    try {
      return svc.store.sqlite.query("SELECT 1 AS ok").get() ? undefined : "the node store does not answer";
    } catch (e) {
      return `the node store does not answer: ${(e as Error).message}`;
    }
  };
  // Boot storms: at most so many image downloads stream at once; the others wait their turn (http/admission.ts).
  const imageAdmission = new StreamAdmission({ limit: cfg.http.maxImageStreams });
  if (cfg.http.maxImageStreams === 0) log("drover: image downloads are not limited (--max-image-streams 0)");
  const app = createApp({
    metrics: obs.http,
    health: { live: storeAnswers, ready: () => (ready ? undefined : "starting: not every server listens yet") },
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
    imageAdmission,
    api: apiDeps(svc, {
      settings,
      ...(extras.apiSubnets?.length ? { allowedSubnets: extras.apiSubnets } : {}),
      ...(extras.secureCookies ? { secureCookies: true } : {}),
      ...(extras.runCommand ? { runCommand: extras.runCommand } : {}),
      version: `${VERSION} (${COMMIT})`,
      log,
    }),
  });
  // Overlays render with this server's address, port and agent interval (the hosts file, the agent's URL).
  let httpPort = cfg.http.port;
  const overlayServer = (c: Readonly<ServeConfig>) => serverSettingsFromServe(c, httpPort, { ...svc.overlays.serverSettings, pollSeconds: c.runtime.pollSeconds });
  // Resolve every node once before listening (about 0.5 s for 10,000 nodes), so that neither the first boot
  // request nor the first page load pays for it.
  const warm = () => {
    try {
      svc.overlays.snapshot();
      // And the reservation DHCP looks up for every packet.
      boot.warmReservations();
    } catch (e) {
      log(`drover: warming the node cache failed: ${(e as Error).message}`);
    }
  };
  if (httpPort !== 0) {
    svc.overlays.setServer(overlayServer(cfg));
    warm();
  }
  // A backstop under the per-route limits (http/api/router.ts): no request body of any route is larger.
  const http = Bun.serve({ port: cfg.http.port, hostname: cfg.http.listen, fetch: app.fetch, idleTimeout: 255, websocket: bunWebSocket, maxRequestBodySize: 32 * 1024 * 1024 });
  stops.push(async () => void (await http.stop(true)));
  log(`drover: HTTP on http://${cfg.http.listen}:${http.port} (data dir ${svc.dataDir})`);
  if (httpPort === 0) {
    // An ephemeral port (tests): the overlays learn it now, and the cache warms in the background.
    httpPort = http.port!;
    svc.overlays.setServer(overlayServer(cfg));
    setTimeout(warm, 0);
  }
  if (!cfg.runtime.secure) log("drover: runtime overlays are served to any source port (--insecure-runtime): any process on a node can read them");
  const dhcpInput = (c: Readonly<ServeConfig>) => ({
    interfaces: c.dhcp.interfaces.map((i) => ({
      name: i.name,
      mode: c.dhcp.mode,
      serverIp: i.serverIp,
      subnets: [
        { network: i.network, netmask: i.netmask, ...(i.router ? { router: i.router } : {}), ...(i.dns ? { dns: i.dns } : {}), ...(i.pool ? { pool: i.pool } : {}) },
        ...c.dhcp.relaySubnets,
      ],
    })),
    httpPort: http.port!,
    tftp: c.tftp.enabled,
    httpFilesPrefix: "/boot/",
    bootFiles: { uefiArm64: arm64, httpArm64: arm64 },
    discovery: c.discovery.enabled,
    leaseSeconds: { reserved: c.dhcp.leaseSeconds },
    ports: { server: c.dhcp.port, pxe: c.dhcp.pxePort },
  });
  const raInterfaces = (c: Readonly<ServeConfig>) => (c.dhcp.mode !== "off" && c.dhcp.routerAdvertisements ? c.dhcp.interfaces.map((i) => i.name) : []);
  /** DHCP (and RA beside it) for a configuration; nothing when DHCP is off. Throws when a socket cannot open. */
  const startDhcp = async (c: Readonly<ServeConfig>): Promise<{ dhcp?: DhcpServer; ra?: RaServer }> => {
    if (c.dhcp.mode === "off") return {};
    const d = await startDhcpServer(dhcpConfig(dhcpInput(c)), boot, leases, { info: log, debug: extras.debug ? (extras.debugLog ?? log) : () => {} }, { onPacket: obs.onDhcpPacket });
    log(`drover: DHCP (${c.dhcp.mode}) on ${d.listening.join(", ")}${c.discovery.enabled ? ", discovery on" : ""}`);
    const names = raInterfaces(c);
    try {
      return { dhcp: d, ...(names.length ? { ra: startRaServer(names, log) } : {}) };
    } catch (e) {
      await d.stop();
      throw e;
    }
  };
  // A settings change: start what the new configuration needs, then stop what it replaces.
  settings.onApply(async (next, prev) => {
    const dhcpChanged = JSON.stringify([dhcpInput(next), next.dhcp.mode]) !== JSON.stringify([dhcpInput(prev), prev.dhcp.mode]) || JSON.stringify(raInterfaces(next)) !== JSON.stringify(raInterfaces(prev));
    if (dhcpChanged) {
      const started = await startDhcp(next);
      const [oldDhcp, oldRa] = [dhcp, ra];
      ({ dhcp, ra } = started);
      oldRa?.stop();
      await oldDhcp?.stop();
      if (next.dhcp.mode === "off") log("drover: DHCP is off");
    }
    boot.setDiscovery(next.discovery.enabled, next.discovery.register);
    boot.setDhcpLeases(next.dhcp.mode === "authoritative");
    const server = overlayServer(next);
    if (JSON.stringify(server) !== JSON.stringify(svc.overlays.serverSettings)) svc.overlays.setServer(server);
    cfg = next;
  });
  try {
    if (cfg.tftp.enabled) {
      tftp = await startTftpServer({ port: cfg.tftp.port, address: cfg.tftp.address }, files, log, { onTransfer: obs.onTftpTransfer });
      stops.push(() => tftp!.stop());
      log(`drover: TFTP on ${cfg.tftp.address}:${tftp.port} serving ${cfg.ipxeDir ?? `the embedded iPXE binaries (${cfg.ipxeBuild})`}`);
    }
    if (cfg.dhcp.mode === "off") log("drover: DHCP is off until an interface is configured (drover serve --interface IF, or the Settings page)");
    ({ dhcp, ra } = await startDhcp(cfg));
    stops.push(async () => {
      ra?.stop();
      await dhcp?.stop();
    });
  } catch (e) {
    await stopAll();
    throw e;
  }
  stops.push(async () => obs.stop());
  ready = true;
  return {
    httpPort: http.port!,
    ...(tftp ? { tftpPort: tftp.port } : {}),
    get dhcp() {
      return dhcp;
    },
    stop: stopAll,
  };
}
