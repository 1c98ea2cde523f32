/**
 * Runs drover's DHCP server alone, for integration tests and bench/dhcp.ts, which start it inside a
 * network namespace (`ip netns exec NS bun bench/_dhcp-server.ts SPEC.json`).
 *
 * SPEC.json: { "config": DhcpConfigInput, "nodes": { "<mac>": NodeReservation } }
 * Prints "ready" once listening; each boot event as "event {json}"; on SIGTERM/SIGINT prints
 * "stats {json}" and exits. DHCP_DEBUG=1 prints debug lines on stderr.
 */
import { readFileSync } from "node:fs";
import type { BootEvent, DhcpBootPort, NodeReservation } from "../src/boot/ports";
import { MemoryLeaseStore, dhcpConfig, startDhcpServer } from "../src/protocols/dhcp";

// bench/run.sh runs every bench/*.ts; alone, this helper has nothing to measure.
if (process.argv.length < 3) {
  console.log("(helper of bench/dhcp.ts and the DHCP integration tests; nothing to run on its own)");
  process.exit(0);
}

const spec = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as { config: Parameters<typeof dhcpConfig>[0]; nodes?: Record<string, NodeReservation> };
const nodes = new Map(Object.entries(spec.nodes ?? {}));
const port: DhcpBootPort = {
  reservation: async (mac) => nodes.get(mac),
  // DHCP_EVENTS=0 (the benchmark) skips printing them: a stdout pipe nobody reads would block the loop.
  event: (e: BootEvent) => process.env.DHCP_EVENTS !== "0" && console.log(`event ${JSON.stringify(e)}`),
};
const debug = process.env.DHCP_DEBUG === "1";
const server = await startDhcpServer(dhcpConfig(spec.config), port, new MemoryLeaseStore(), {
  info: (l) => console.error(l),
  debug: (l) => debug && console.error(l),
});
console.log("ready");
const stop = async () => {
  console.log(`stats ${JSON.stringify(server.stats())}`);
  await server.stop();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
