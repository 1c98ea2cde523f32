import type { Services } from "./app";
import { createApp } from "./http/app";

export interface ServeOptions {
  httpPort: number;
  listen: string;
}

export interface RunningServer {
  httpPort: number;
  stop(): Promise<void>;
}

/**
 * Starts every boot service of one head node in this process. All of them stop together: on
 * stop(), or when any of them fails to start.
 */
export async function startServer(svc: Services, opts: ServeOptions, log: (line: string) => void): Promise<RunningServer> {
  const startedAt = new Date();
  const app = createApp({
    startedAt,
    stats: () => svc.nodes.counts(),
    services: () => ({ http: { port: http.port }, dhcp: { mode: "off", reason: "no interface configured" }, tftp: { enabled: false } }),
  });
  const http = Bun.serve({ port: opts.httpPort, hostname: opts.listen, fetch: app.fetch, idleTimeout: 120 });
  log(`drover: HTTP on http://${opts.listen}:${http.port} (data dir ${svc.dataDir})`);
  log("drover: DHCP is off until an interface is configured (drover serve --help)");
  return {
    httpPort: http.port!,
    stop: async () => {
      await http.stop(true);
    },
  };
}
