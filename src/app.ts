import { AuthService } from "./services/auth";
import { BootStatusService } from "./services/boot-status";
import { type BootBusEvent, EventBus, publishingBootState } from "./services/events";
import { DiscoveryInbox } from "./services/inbox";
import { ImageService } from "./services/images";
import { NodeService } from "./services/nodes";
import { OverlayService, guessServerSettings } from "./services/overlays";
import { existsSync } from "node:fs";
import { networkInterfaces } from "node:os";
import type { BootStateStore } from "./services/ports";
import { sqliteAuthStore } from "./store/auth-store";
import { sqliteBootStateStore } from "./store/boot-store";
import { sqliteImageStore } from "./store/image-store";
import { type OpenStore, openStore } from "./store/db";
import { sqliteNodeStore } from "./store/node-store";

/**
 * The composition root: the one place that builds concrete objects (store, services) and hands them down.
 * The CLI and `drover serve` both start here; nothing else opens the database or creates a service.
 */
export interface Services {
  dataDir: string;
  store: OpenStore;
  nodes: NodeService;
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
  close(): void;
}

export function createServices(dataDir: string): Services {
  const store = openStore(dataDir);
  const nodeStore = sqliteNodeStore(store.db);
  const nodes = new NodeService(nodeStore);
  nodes.initialize();
  const events = new EventBus<BootBusEvent>();
  const bootState = publishingBootState(sqliteBootStateStore(store.db), events);
  const bootStatus = new BootStatusService(nodes, bootState);
  const images = new ImageService(dataDir, sqliteImageStore(store.db), nodes);
  const versionQuery = store.sqlite.query(
    "SELECT (SELECT count(*) || ':' || coalesce(sum(updated_at), 0) || ':' || coalesce(max(updated_at), 0) || ':' || coalesce(sum(length(conf)), 0) FROM nodes) || '/' || (SELECT count(*) || ':' || coalesce(sum(updated_at), 0) || ':' || coalesce(sum(length(conf)), 0) FROM profiles) AS v",
  );
  const overlays = new OverlayService({
    dataDir,
    nodeStore,
    // Changes with every node or profile write; lets a poll skip re-reading 10,000 node documents.
    nodesVersion: () => (versionQuery.get() as { v: string }).v,
    imageRoot: (name) => (/^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/.test(name) && existsSync(images.rootfs(name)) ? images.rootfs(name) : undefined),
    server: guessServerSettings(networkInterfaces() as never),
  });
  const auth = new AuthService(sqliteAuthStore(store.db));
  const inbox = new DiscoveryInbox(nodes, bootState);
  return { dataDir, store, nodes, bootState, bootStatus, images, overlays, auth, events, inbox, close: () => store.close() };
}
