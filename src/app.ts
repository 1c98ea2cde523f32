import { BootStatusService } from "./services/boot-status";
import { ImageService } from "./services/images";
import { NodeService } from "./services/nodes";
import type { BootStateStore } from "./services/ports";
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
  close(): void;
}

export function createServices(dataDir: string): Services {
  const store = openStore(dataDir);
  const nodes = new NodeService(sqliteNodeStore(store.db));
  nodes.initialize();
  const bootState = sqliteBootStateStore(store.db);
  const bootStatus = new BootStatusService(nodes, bootState);
  const images = new ImageService(dataDir, sqliteImageStore(store.db), nodes);
  return { dataDir, store, nodes, bootState, bootStatus, images, close: () => store.close() };
}
