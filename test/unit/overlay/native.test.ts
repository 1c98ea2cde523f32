import { describe, expect, test } from "bun:test";
import type { Conf } from "../../../src/domain/conf";
import { type HostEnv, type Snapshot, renderOne } from "../../../src/overlay/build";
import { nodeView, peerView, serverView } from "../../../src/overlay/data";
import { nativeFor } from "../../../src/overlay/native";
import { OverlayRepo } from "../../../src/overlay/repo";

// A native rendering stands in for eta only where it prints the very same bytes: the built-in hosts file,
// over nodes of every shape (DHCP, static, IPv6 only, several NICs, a primary that is not `default`).

const tree = new OverlayRepo("/nonexistent").get("hosts")!;
const entry = tree.entries.find((e) => e.type === "file" && e.path === "etc/hosts.eta") as Extract<(typeof tree.entries)[number], { type: "file" }>;
const text = new TextDecoder().decode(entry.data);
const env: HostEnv = {
  headRoot: "/",
  imageRoot: () => undefined,
  nodeSecretsDir: () => "/nonexistent",
  ensureHostKey: () => {},
  version: "test",
  host: "head",
};

function nodes(n: number, salt = ""): Conf[] {
  return Array.from({ length: n }, (_, i): Conf => {
    switch (i % 6) {
      case 0:
        return { networkDevices: { default: { device: "eth0", hwaddr: `52:54:00:00:10:${(i % 256).toString(16).padStart(2, "0")}` } } };
      case 1:
        return { networkDevices: { default: { ipaddr: `10.0.${i >> 8}.${i & 255}${salt}`, netmask: "255.255.0.0" } } };
      case 2:
        return { networkDevices: { default: { ipaddr6: `fd00::${i.toString(16)}`, prefixlen6: "64" } } };
      case 3:
        return {
          networkDevices: {
            default: { ipaddr: `10.1.${i >> 8}.${i & 255}`, netmask: "255.255.0.0", ipaddr6: `fd01::${i.toString(16)}` },
            ib: { ipaddr: `10.10.${i >> 8}.${i & 255}`, netmask: "255.255.0.0" },
          },
        };
      case 4:
        return {
          primaryNetwork: "mgmt",
          networkDevices: {
            data: { ipaddr: `10.2.${i >> 8}.${i & 255}`, netmask: "255.255.0.0" },
            mgmt: { ipaddr: `10.3.${i >> 8}.${i & 255}`, netmask: "255.255.0.0" },
          },
        };
      default:
        return { cluster: "c", tags: { rack: "r1" } };
    }
  });
}

function snapOf(confs: Conf[], hostname = "head"): Snapshot {
  const peers = confs.map((c, i) => peerView(`node-${String(i).padStart(4, "0")}`, { profiles: [], ...c }));
  return { peers, peersHash: "", server: serverView({ address: "10.0.0.1", netmask: "255.255.0.0", port: 9873, hostname }), serverHash: "", memo: new Map() };
}

const viaEta = (snap: Snapshot) => (renderOne(tree, entry, nodeView("node-0000", { profiles: [] }), snap, env, []).files[0] as { data: string }).data;

describe("the hosts file, natively", () => {
  test("the same bytes as the template, over nodes of every shape", () => {
    const native = nativeFor(text)!;
    expect(native).toBeDefined();
    for (const snap of [snapOf([]), snapOf(nodes(1)), snapOf(nodes(300)), snapOf(nodes(50), "other-head.example")]) {
      expect(native.render({ server: snap.server, allNodes: snap.peers })).toBe(viaEta(snap));
    }
  });

  test("after a node changes (a new view of it), the text is the template's again", () => {
    const native = nativeFor(text)!;
    const snap = snapOf(nodes(60));
    native.render({ server: snap.server, allNodes: snap.peers });
    snap.peers[7] = peerView("node-0007", { profiles: [], networkDevices: { default: { ipaddr: "192.168.9.9", netmask: "255.255.255.0" } } });
    const out = native.render({ server: snap.server, allNodes: snap.peers });
    expect(out).toContain("192.168.9.9  node-0007 node-0007-default\n");
    expect(out).toBe(viaEta(snap));
  });

  test("only for exactly that text: an edited copy is rendered by eta", () => {
    expect(nativeFor(`${text}# site line\n`)).toBeUndefined();
    expect(nativeFor(text.replace("localhost4", "localhost4 lh4"))).toBeUndefined();
  });
});
