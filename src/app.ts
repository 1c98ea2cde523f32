import { join } from "node:path";
import type { SettingsPort } from "./config/settings";
import { IMAGE_NAME } from "./domain/names";
import type { ApiDeps } from "./http/api/context";
import { PowerService } from "./services/power";
import { AuthService } from "./services/auth";
import { BootStatusService } from "./services/boot-status";
import { type BootBusEvent, EventBus, publishingBootState } from "./services/events";
import { DiscoveryInbox } from "./services/inbox";
import { ImageService } from "./services/images";
import { NodeService } from "./services/nodes";
import { NodeSnapshot } from "./services/node-snapshot";
import { OverlayService } from "./services/overlays";
import { guessServerSettings } from "./config/server-settings";
import { existsSync } from "node:fs";
import { networkInterfaces } from "node:os";
import type { BootStateStore, SettingsStore } from "./services/ports";
import { sqliteAuthStore } from "./store/auth-store";
import { sqliteBootStateStore } from "./store/boot-store";
import { sqliteImageStore } from "./store/image-store";
import { type OpenStore, openStore } from "./store/db";
import { sqliteNodeStore } from "./store/node-store";
import { sqliteSettingsStore } from "./store/settings-store";
import { type BackupManifest, type RestoreResult, backupDataDir, restoreDataDir } from "./store/backup";
import { VERSION } from "./version";

/**
 * The composition root: the one place that builds concrete objects (store, services) and hands them down.
 * The CLI and `drover serve` both start here; nothing else opens the database or creates a service.
 */
export interface Services {
  dataDir: string;
  store: OpenStore;
  nodes: NodeService;
  /** Every node resolved, following writes by any process: the overlays', the API's and the boot routes' node cache. */
  snapshot: NodeSnapshot;
  bootState: BootStateStore;
  bootStatus: BootStatusService;
  images: ImageService;
  /** Per-node overlay archives; `drover serve` sets its server settings with overlays.setServer(). */
  overlays: OverlayService;
  /** Accounts, sessions and API tokens (web page, API). */
  auth: AuthService;
  /** Every recorded boot event, published after it is stored (the API's event stream subscribes). */
  events: EventBus<BootBusEvent>;
  /** Unknown MACs that asked to boot, and accepting or ignoring them. */
  inbox: DiscoveryInbox;
  /** Server-wide settings (key → JSON): `drover serve`'s settings saved from the web page live here. */
  settingsStore: SettingsStore;
  /**
   * The running server's settings, when a command runs inside `drover serve` for a remote client: a change
   * made through it takes effect at once (settings import). Absent for a command run on its own.
   */
  liveSettings?: SettingsPort;
  close(): void;
}

export function createServices(dataDir: string, opts: { log?: (line: string) => void } = {}): Services {
  const store = openStore(dataDir, { version: VERSION, ...(opts.log ? { log: opts.log } : {}) });
  const nodeStore = sqliteNodeStore(store.db);
  const nodes = new NodeService(nodeStore);
  nodes.initialize();
  const events = new EventBus<BootBusEvent>();
  const bootState = publishingBootState(sqliteBootStateStore(store.db), events);
  const bootStatus = new BootStatusService(nodes, bootState);
  const images = new ImageService(dataDir, sqliteImageStore(store.db), nodes);
  // data_version changes with every commit by another connection, total_changes() with every change made
  // through this one: together, "nothing was written anywhere since the last look".
  const versionQuery = store.sqlite.query("SELECT (SELECT data_version FROM pragma_data_version) || ':' || total_changes() AS v");
  // Changes with every node or profile write; lets a poll skip re-reading 10,000 node documents.
  const snapshot = new NodeSnapshot({ nodeStore, version: () => (versionQuery.get() as { v: string }).v });
  const overlays = new OverlayService({
    dataDir,
    snapshot,
    imageRoot: (name) => (IMAGE_NAME.test(name) && existsSync(images.rootfs(name)) ? images.rootfs(name) : undefined),
    server: guessServerSettings(networkInterfaces() as never),
  });
  const auth = new AuthService(sqliteAuthStore(store.db));
  const inbox = new DiscoveryInbox(nodes, bootState);
  return {
    dataDir,
    store,
    nodes,
    snapshot,
    bootState,
    bootStatus,
    images,
    overlays,
    auth,
    events,
    inbox,
    settingsStore: sqliteSettingsStore(store.db),
    close: () => store.close(),
  };
}

/**
 * The API's dependencies from the services: the one mapping `drover serve`, the API tests and the UI
 * benchmark share. `rest` carries what only the caller knows (settings, version) and any override.
 */
export function apiDeps(svc: Services, rest: Pick<ApiDeps, "settings" | "version"> & Partial<ApiDeps>): ApiDeps {
  return {
    nodes: svc.nodes,
    snapshot: svc.snapshot,
    bootStatus: svc.bootStatus,
    inbox: svc.inbox,
    events: svc.events,
    auth: svc.auth,
    images: svc.images,
    overlays: svc.overlays,
    power: new PowerService(svc.nodes, { templateDir: join(svc.dataDir, "power") }),
    ...rest,
  };
}

/** `drover backup FILE`: the open store (consistent while a server writes to it) and the site's files. */
export function backupTo(svc: Services, file: string): BackupManifest {
  return backupDataDir(svc.dataDir, svc.store.sqlite, file, VERSION);
}

/** `drover restore FILE`, with no store open on the data dir (the caller holds the server lock). */
export function restoreFrom(dataDir: string, file: string): RestoreResult {
  return restoreDataDir(dataDir, file, VERSION);
}
