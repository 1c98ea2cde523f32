import { type Services, apiDeps } from "./app";
import { dirBootFiles, embeddedIpxeFiles } from "./boot/files";
import type { BootFiles, ImageArtifacts, LeaseStore, OverlayArtifacts } from "./boot/ports";
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
 *
 * Each step is a function below, called in this order; only this file constructs the servers.
 */
export async function startServer(svc: Services, settings: ServeSettings, log: (line: string) => void, extras: ServerExtras = {}): Promise<RunningServer> {
  const cfg = settings.config;
  if (settings.startWarning) log(`drover: ${settings.startWarning}`);
  const startedAt = new Date();
  const { files, arm64 } = await bootFilesOf(cfg);
  // One lease store for the process: it holds the leases in memory and is their only writer (group commit).
  const leases = sqliteLeaseStore(svc.store.db, { fsync: cfg.dhcp.leaseSync === "full" });
  const state: Running = { cfg, ready: false, httpPort: cfg.http.port };
  // /metrics: counters fed by callbacks handed to each server below; gauges read when scraped.
  const obs = serveMetrics(svc, leases, () => ({ tftp: state.tftp, dhcp: state.dhcp }));
  const boot = bootService(svc, cfg, extras, obs, leases, log);
  const stops = stopList(log);
  // WAL checkpoints on a thread of their own, not inside a group commit (store/checkpointer.ts); stopped last.
  const checkpoints = startCheckpointer(svc.store.sqlite, svc.store.path, { log });
  stops.push(() => checkpoints.stop());
  // Once DHCP has stopped, whatever lease writes are still queued (none of them ACKed yet) go to disk.
  stops.push(async () => leases.flushNow());
  const w: Wiring = { svc, log, extras, files, arm64, leases, obs, boot, stops };
  let http: ReturnType<typeof listenHttp>;
  try {
    await ensureAdminAccount(svc, log);
    const app = httpApp(w, state, settings, startedAt);
    http = listenHttp(w, state, app);
    if (!cfg.runtime.secure) log("drover: runtime overlays are served to any source port (--insecure-runtime): any process on a node can read them");
    settings.onApply((next, prev) => applySettings(w, state, next, prev));
    await startBootServers(w, state);
  } catch (e) {
    // A start that fails part way (the HTTP port taken, a TFTP bind refused) stops what it started: the
    // checkpointer thread and any listener, so the caller's error is the only thing left.
    await stops.stopAll();
    throw e;
  }
  stops.push(async () => obs.stop());
  state.ready = true;
  return {
    httpPort: http.port!,
    ...(state.tftp ? { tftpPort: state.tftp.port } : {}),
    get dhcp() {
      return state.dhcp;
    },
    stop: stops.stopAll,
  };
}

/** What a running `drover serve` changes as it goes: a settings change replaces cfg, dhcp and ra. */
interface Running {
  cfg: Readonly<ServeConfig>;
  /** Every server listens (GET /readyz). */
  ready: boolean;
  /** The HTTP port: the configured one, and once HTTP listens the one it listens on (an ephemeral port: tests). */
  httpPort: number;
  tftp?: TftpServer;
  dhcp?: DhcpServer;
  ra?: RaServer;
}

type HttpApp = ReturnType<typeof createApp>;

/** What startServer builds once and hands to each of its steps. */
interface Wiring {
  svc: Services;
  log: (line: string) => void;
  extras: ServerExtras;
  files: BootFiles;
  /** The arm64 iPXE build's file name, where the set has one. */
  arm64: string | undefined;
  leases: LeaseStore;
  obs: ReturnType<typeof serveMetrics>;
  boot: BootService;
  stops: StopList;
}

/** The iPXE binaries served by TFTP and HTTP, and the arm64 build's name among them. */
async function bootFilesOf(cfg: Readonly<ServeConfig>): Promise<{ files: BootFiles; arm64: string | undefined }> {
  const files: BootFiles = cfg.ipxeDir ? dirBootFiles(cfg.ipxeDir) : embeddedIpxeFiles(cfg.ipxeBuild);
  // arm64 clients get the arm64 build where the set has one (a --ipxe-dir build: when the file is there).
  const arm64 = (await files.list()).includes("ipxe-arm64.efi") ? "ipxe-arm64.efi" : undefined;
  return { files, arm64 };
}

/** Boot decisions (which node a MAC is, its script and files) over the node store, set up from the configuration at start. */
function bootService(
  svc: Services,
  cfg: Readonly<ServeConfig>,
  extras: ServerExtras,
  obs: Wiring["obs"],
  leases: LeaseStore,
  log: (line: string) => void,
): BootService {
  return new BootService(
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
}

interface StopList {
  push(stop: () => Promise<void>): void;
  /** Stops everything pushed, the last pushed first; a failure is logged and the rest still stop. */
  stopAll(): Promise<void>;
}

function stopList(log: (line: string) => void): StopList {
  const stops: (() => Promise<void>)[] = [];
  return {
    push: (stop) => void stops.push(stop),
    stopAll: async () => {
      for (const s of stops.reverse()) await s().catch((e) => log(`drover: stopping: ${(e as Error).message}`));
      stops.length = 0;
    },
  };
}

/** The first start creates the admin account and saves its password to a 0600 file, once. */
async function ensureAdminAccount(svc: Services, log: (line: string) => void): Promise<void> {
  const adminPassword = await svc.auth.ensureAdmin();
  if (adminPassword)
    log(
      `drover: created the web/API account 'admin'; its password is in ${saveAdminPassword(svc.dataDir, adminPassword)} (mode 0600): log in, change ` +
        `it with 'drover user passwd', then delete the file`,
    );
}

/** GET /livez: why the node store does not answer, or nothing when it does. */
function storeAnswers(svc: Services): string | undefined {
  try {
    return svc.store.sqlite.query("SELECT 1 AS ok").get() ? undefined : "the node store does not answer";
  } catch (e) {
    return `the node store does not answer: ${(e as Error).message}`;
  }
}

/** The HTTP app: boot routes, the API over the services and the settings, the page, health and metrics. */
function httpApp(w: Wiring, state: Running, settings: ServeSettings, startedAt: Date): HttpApp {
  const { svc, extras, log } = w;
  const cfg = state.cfg;
  // Boot storms: at most so many image downloads stream at once; the others wait their turn (http/admission.ts).
  const imageAdmission = new StreamAdmission({ limit: cfg.http.maxImageStreams });
  if (cfg.http.maxImageStreams === 0) log("drover: image downloads are not limited (--max-image-streams 0)");
  return createApp({
    metrics: w.obs.http,
    health: { live: () => storeAnswers(svc), ready: () => (state.ready ? undefined : "starting: not every server listens yet") },
    startedAt,
    stats: () => svc.nodes.counts(),
    services: () => ({
      http: { port: state.httpPort },
      tftp: state.tftp ? { port: state.tftp.port, ...state.tftp.stats() } : { enabled: false },
      dhcp: state.dhcp ? { mode: state.cfg.dhcp.mode, listening: state.dhcp.listening, ...state.dhcp.stats() } : { mode: "off" },
      discovery: state.cfg.discovery,
    }),
    boot: w.boot,
    bootFiles: w.files,
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
}

/** Overlays render with this server's address, port and agent interval (the hosts file, the agent's URL). */
function overlayServer(svc: Services, c: Readonly<ServeConfig>, httpPort: number) {
  return serverSettingsFromServe(c, httpPort, { ...svc.overlays.serverSettings, pollSeconds: c.runtime.pollSeconds });
}

/**
 * Resolves every node once (about 0.5 s for 10,000 nodes), so that neither the first boot request nor the
 * first page load pays for it.
 */
function warmCaches(w: Wiring): void {
  try {
    w.svc.overlays.snapshot();
    // And the reservation DHCP looks up for every packet.
    w.boot.warmReservations();
  } catch (e) {
    w.log(`drover: warming the node cache failed: ${(e as Error).message}`);
  }
}

/** Listens for HTTP, the node cache warmed before (a fixed port) or just after (an ephemeral one). */
function listenHttp(w: Wiring, state: Running, app: HttpApp) {
  const { svc, log } = w;
  const cfg = state.cfg;
  const ephemeral = cfg.http.port === 0;
  if (!ephemeral) {
    svc.overlays.setServer(overlayServer(svc, cfg, state.httpPort));
    warmCaches(w);
  }
  // A backstop under the per-route limits (http/api/router.ts): no request body of any route is larger.
  const http = Bun.serve({
    port: cfg.http.port,
    hostname: cfg.http.listen,
    fetch: app.fetch,
    idleTimeout: 255,
    websocket: bunWebSocket,
    maxRequestBodySize: 32 * 1024 * 1024,
  });
  w.stops.push(async () => void (await http.stop(true)));
  state.httpPort = http.port!;
  log(`drover: HTTP on http://${cfg.http.listen}:${http.port} (data dir ${svc.dataDir})`);
  if (ephemeral) {
    // An ephemeral port (tests): the overlays learn it now, and the cache warms in the background.
    svc.overlays.setServer(overlayServer(svc, cfg, state.httpPort));
    setTimeout(() => warmCaches(w), 0);
  }
  return http;
}

/** The DHCP server's configuration for a drover configuration (compared whole to see whether a change needs a restart). */
function dhcpInput(c: Readonly<ServeConfig>, httpPort: number, arm64: string | undefined) {
  return {
    interfaces: c.dhcp.interfaces.map((i) => ({
      name: i.name,
      mode: c.dhcp.mode,
      serverIp: i.serverIp,
      subnets: [
        {
          network: i.network,
          netmask: i.netmask,
          ...(i.router ? { router: i.router } : {}),
          ...(i.dns ? { dns: i.dns } : {}),
          ...(i.pool ? { pool: i.pool } : {}),
        },
        ...c.dhcp.relaySubnets,
      ],
    })),
    httpPort,
    tftp: c.tftp.enabled,
    httpFilesPrefix: "/boot/",
    bootFiles: { uefiArm64: arm64, httpArm64: arm64 },
    discovery: c.discovery.enabled,
    leaseSeconds: { reserved: c.dhcp.leaseSeconds },
    ports: { server: c.dhcp.port, pxe: c.dhcp.pxePort },
  };
}

/** The interfaces router advertisements go out on: DHCP's, when DHCP is on and RA asked for. */
function raInterfaces(c: Readonly<ServeConfig>): string[] {
  return c.dhcp.mode !== "off" && c.dhcp.routerAdvertisements ? c.dhcp.interfaces.map((i) => i.name) : [];
}

/** DHCP (and RA beside it) for a configuration; nothing when DHCP is off. Throws when a socket cannot open. */
async function startDhcp(w: Wiring, c: Readonly<ServeConfig>, httpPort: number): Promise<{ dhcp?: DhcpServer; ra?: RaServer }> {
  const { log, extras } = w;
  if (c.dhcp.mode === "off") return {};
  const d = await startDhcpServer(
    dhcpConfig(dhcpInput(c, httpPort, w.arm64)),
    w.boot,
    w.leases,
    { info: log, debug: extras.debug ? (extras.debugLog ?? log) : () => {} },
    { onPacket: w.obs.onDhcpPacket },
  );
  log(`drover: DHCP (${c.dhcp.mode}) on ${d.listening.join(", ")}${c.discovery.enabled ? ", discovery on" : ""}`);
  const names = raInterfaces(c);
  try {
    return { dhcp: d, ...(names.length ? { ra: startRaServer(names, log) } : {}) };
  } catch (e) {
    await d.stop();
    throw e;
  }
}

/** A settings change: start what the new configuration needs, then stop what it replaces. */
async function applySettings(w: Wiring, state: Running, next: Readonly<ServeConfig>, prev: Readonly<ServeConfig>): Promise<void> {
  const { svc, boot, arm64 } = w;
  const port = state.httpPort;
  const dhcpChanged =
    JSON.stringify([dhcpInput(next, port, arm64), next.dhcp.mode]) !== JSON.stringify([dhcpInput(prev, port, arm64), prev.dhcp.mode]) ||
    JSON.stringify(raInterfaces(next)) !== JSON.stringify(raInterfaces(prev));
  if (dhcpChanged) {
    const started = await startDhcp(w, next, port);
    const [oldDhcp, oldRa] = [state.dhcp, state.ra];
    state.dhcp = started.dhcp;
    state.ra = started.ra;
    oldRa?.stop();
    await oldDhcp?.stop();
    if (next.dhcp.mode === "off") w.log("drover: DHCP is off");
  }
  boot.setDiscovery(next.discovery.enabled, next.discovery.register);
  boot.setDhcpLeases(next.dhcp.mode === "authoritative");
  const server = overlayServer(svc, next, port);
  if (JSON.stringify(server) !== JSON.stringify(svc.overlays.serverSettings)) svc.overlays.setServer(server);
  state.cfg = next;
}

/** TFTP, then DHCP and RA; when one cannot start, everything started so far is stopped and the error goes up. */
async function startBootServers(w: Wiring, state: Running): Promise<void> {
  const { log, stops } = w;
  // state.cfg at each use, not a copy: HTTP listens already, so a settings change can land while TFTP starts.
  try {
    if (state.cfg.tftp.enabled) {
      const tftp = await startTftpServer({ port: state.cfg.tftp.port, address: state.cfg.tftp.address }, w.files, log, { onTransfer: w.obs.onTftpTransfer });
      state.tftp = tftp;
      stops.push(() => tftp.stop());
      log(`drover: TFTP on ${state.cfg.tftp.address}:${tftp.port} serving ${state.cfg.ipxeDir ?? `the embedded iPXE binaries (${state.cfg.ipxeBuild})`}`);
    }
    if (state.cfg.dhcp.mode === "off") log("drover: DHCP is off until an interface is configured (drover serve --interface IF, or the Settings page)");
    ({ dhcp: state.dhcp, ra: state.ra } = await startDhcp(w, state.cfg, state.httpPort));
    stops.push(async () => {
      state.ra?.stop();
      await state.dhcp?.stop();
    });
  } catch (e) {
    await stops.stopAll();
    throw e;
  }
}
