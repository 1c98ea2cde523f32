import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Conf } from "../../../src/domain/conf";
import type { ServerSettings } from "../../../src/overlay/data";
import { NodeService } from "../../../src/services/nodes";
import type { NodeStore } from "../../../src/services/ports";
import { OverlayService } from "../../../src/services/overlays";
import { openMemoryStore } from "../../../src/store/db";
import { sqliteNodeStore } from "../../../src/store/node-store";

export const FIXTURES = join(import.meta.dir, "../../fixtures/overlay");

export const SERVER: ServerSettings = {
  address: "10.0.0.1",
  netmask: "255.255.255.0",
  port: 9873,
  hostname: "head",
  dns: ["10.0.0.1"],
  domain: "cluster.local",
  pollSeconds: 60,
};

/** The fixture nodes every built-in overlay is rendered for. */
export const FIXTURE_NODES: Record<string, Conf> = {
  // DHCP-configured: one NIC, no address.
  "n-dhcp": {
    profiles: [],
    image: "rocky",
    networkDevices: { default: { device: "eth0", hwaddr: "52:54:00:00:00:01" } },
  },
  // Static, two NICs (Ethernet with IPv6 and jumbo frames, InfiniBand), a gateway.
  "n-static": {
    profiles: [],
    image: "rocky",
    root: "initramfs",
    networkDevices: {
      default: {
        device: "eth0",
        hwaddr: "52:54:00:00:00:02",
        ipaddr: "10.0.0.12",
        netmask: "255.255.255.0",
        gateway: "10.0.0.1",
        mtu: 9000,
        ipaddr6: "fd00::12",
        prefixlen6: "64",
      },
      ib: { type: "infiniband", device: "ib0", ipaddr: "10.10.0.12", netmask: "255.255.0.0", onboot: true },
    },
  },
  // Tags, resources with fstab (NFS and local), a cluster, IPMI, DNS from a tag.
  "n-tags": {
    profiles: [],
    image: "rocky",
    cluster: "hpc",
    init: "/usr/lib/systemd/systemd",
    kernel: { args: ["quiet", "console=ttyS0"] },
    tags: { rack: "r12", dns: "10.0.0.2,10.0.0.3", dnssearch: "hpc.example.org" },
    ipmi: { username: "admin", password: "s3cret", ipaddr: "10.1.0.13", netmask: "255.255.255.0" },
    resources: {
      fstab: [
        { spec: "10.0.0.1:/home", file: "/home", vfstype: "nfs", mntops: "defaults,nofail" },
        { spec: "10.0.0.1:/opt", file: "/opt", vfstype: "nfs4", mntops: "ro" },
        { spec: "/dev/sda1", file: "/scratch", vfstype: "xfs", mntops: "defaults", freq: 0, passno: 2 },
      ],
    },
    networkDevices: { default: { device: "enp1s0", hwaddr: "52:54:00:00:00:03", ipaddr: "10.0.0.13", netmask: "255.255.255.0", gateway: "10.0.0.1" } },
  },
  // As the seed commands make it: a static address and a MAC, no device name (found by MAC everywhere).
  "n-seed": {
    profiles: [],
    image: "rocky",
    networkDevices: { default: { hwaddr: "52:54:00:00:00:04", ipaddr: "10.0.0.14", netmask: "255.255.255.0" } },
  },
};

export interface World {
  dir: string;
  nodes: NodeService;
  nodeStore: NodeStore;
  overlays: OverlayService;
  imageRoot: string;
  headRoot: string;
  cleanup(): void;
}

/**
 * An overlay service over an in-memory store with the fixture nodes, a copy of the fixture head node and
 * image (so tests may change them), and the fixture host keys seeded for each node.
 */
export function world(nodes: Record<string, Conf> = FIXTURE_NODES, server: ServerSettings = SERVER, opts: { seedKeys?: boolean } = {}): World {
  const dir = mkdtempSync(join(tmpdir(), "drover-overlay-"));
  cpSync(join(FIXTURES, "head"), join(dir, "head"), { recursive: true });
  cpSync(join(FIXTURES, "image"), join(dir, "image"), { recursive: true });
  const store = openMemoryStore();
  const nodeStore = sqliteNodeStore(store.db);
  const ns = new NodeService(nodeStore);
  if (Object.keys(nodes).length) ns.replaceNodes(nodes, { allowMissingImage: true });
  if (opts.seedKeys !== false) for (const n of Object.keys(nodes)) cpSync(join(FIXTURES, "hostkeys"), join(dir, "data", "nodes", n), { recursive: true });
  const imageRoot = join(dir, "image");
  const overlays = new OverlayService({
    dataDir: join(dir, "data"),
    nodeStore,
    imageRoot: (name) => (name === "rocky" ? imageRoot : undefined),
    server,
    headRoot: join(dir, "head"),
  });
  return {
    dir,
    nodes: ns,
    nodeStore,
    overlays,
    imageRoot,
    headRoot: join(dir, "head"),
    cleanup: () => (overlays.close(), store.close(), rmSync(dir, { recursive: true, force: true })),
  };
}
