/**
 * drover's authoritative DHCP composed as `drover serve` composes it (src/server.ts: services on a data dir,
 * one SQLite lease store with group commit, the BootService over the node store, the WAL checkpointer
 * thread, startDhcpServer), without HTTP or TFTP, so that bench/dhcp.ts can choose the lease store's
 * options, which `drover serve` has no flag for yet:
 *
 *   bun bench/_drover-dhcp.ts DATA_DIR IFACE SERVER_IP NETWORK/PREFIX POOL_START-POOL_END [--lease-sync normal|full]
 *
 * `--lease-sync full` is `sqliteLeaseStore(db, { fsync: true })`: each group commit at synchronous = FULL.
 * Discovery is on (unknown MACs get pool leases). Prints "ready" once listening; stops on SIGTERM/SIGINT.
 */
import { createServices } from "../src/app";
import { imageArtifacts } from "../src/boot/image-artifacts";
import { BootService } from "../src/boot/service";
import { formatIPv4, parseIPv4 } from "../src/domain/net";
import { dhcpConfig, startDhcpServer } from "../src/protocols/dhcp";
import { sqliteLeaseStore } from "../src/store/boot-store";
import { startCheckpointer } from "../src/store/checkpointer";

// bench/run.sh runs every bench/*.ts; alone, this helper has nothing to measure.
if (process.argv.length < 7) {
  console.log("(helper of bench/dhcp.ts; nothing to run on its own)");
  process.exit(0);
}

const [dataDir, iface, serverIp, cidr, range] = process.argv.slice(2) as [string, string, string, string, string];
const i = process.argv.indexOf("--lease-sync");
const sync = i > 0 ? process.argv[i + 1] : "normal";
if (sync !== "normal" && sync !== "full") throw new Error(`--lease-sync ${sync}: normal or full`);
const [net, prefix] = cidr.split("/") as [string, string];
const netmask = formatIPv4(Number(prefix) === 0 ? 0 : (0xffffffff << (32 - Number(prefix))) >>> 0);
const [start, end] = range.split("-") as [string, string];
if (parseIPv4(net) === undefined || parseIPv4(start) === undefined || parseIPv4(end) === undefined) throw new Error(`bad network ${cidr} or pool ${range}`);

const log = (line: string) => console.error(line);
const svc = createServices(dataDir, { log });
const leases = sqliteLeaseStore(svc.store.db, { fsync: sync === "full" });
const boot = new BootService(svc.nodes, svc.bootState, imageArtifacts(svc.images), svc.overlays, { discovery: true, secureRuntime: true, dhcpLeases: true }, log, leases, svc.snapshot);
const checkpoints = startCheckpointer(svc.store.sqlite, svc.store.path, { log });
boot.warmReservations();
const dhcp = await startDhcpServer(
  dhcpConfig({
    interfaces: [{ name: iface, mode: "authoritative", serverIp, subnets: [{ network: net, netmask, pool: { start, end } }] }],
    httpPort: 9873,
    tftp: false,
    httpFilesPrefix: "/boot/",
    discovery: true,
  }),
  boot,
  leases,
  { info: log, debug: () => {} },
);
log(`drover DHCP alone on ${dhcp.listening.join(", ")}, leases synchronous = ${sync.toUpperCase()}`);
console.log("ready");

const stop = async () => {
  await dhcp.stop();
  leases.flushNow();
  await checkpoints.stop();
  svc.close();
  process.exit(0);
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
