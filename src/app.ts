import { NodeService } from "./services/nodes";
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
  close(): void;
}

export function createServices(dataDir: string): Services {
  const store = openStore(dataDir);
  const nodes = new NodeService(sqliteNodeStore(store.db));
  nodes.initialize();
  return { dataDir, store, nodes, close: () => store.close() };
}
