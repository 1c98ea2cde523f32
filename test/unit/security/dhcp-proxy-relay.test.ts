// Issue 13 item 7, proxy mode: a relayed DISCOVER with a made-up giaddr on a ProxyDHCP interface was looked
// up (registering the unknown MAC while discovery is on) and answered at that address. Now, as in
// authoritative mode, a relay is answered only when giaddr lies in a subnet the interface serves.
import { expect, test } from "bun:test";
import { BootService } from "../../../src/boot/service";
import { encode } from "../../../src/protocols/dhcp/codec";
import { dhcpConfig } from "../../../src/protocols/dhcp/config";
import { DhcpHandler, type Inbound } from "../../../src/protocols/dhcp/handler";
import { MemoryLeaseStore } from "../../../src/protocols/dhcp/leases";
import { NodeService } from "../../../src/services/nodes";
import { sqliteBootStateStore } from "../../../src/store/boot-store";
import { openMemoryStore } from "../../../src/store/db";
import { sqliteNodeStore } from "../../../src/store/node-store";
import { request } from "../dhcp/fixtures";

test("discovery in proxy mode registers nobody behind a relay drover does not serve, and does behind one it serves", async () => {
  const store = openMemoryStore();
  const nodes = new NodeService(sqliteNodeStore(store.db));
  nodes.initialize();
  const boot = new BootService(nodes, sqliteBootStateStore(store.db), undefined, undefined, { discovery: true, register: { pattern: "x[001-999]" } }, () => {});
  const cfg = dhcpConfig({
    interfaces: [
      {
        name: "br1",
        mode: "proxy",
        serverIp: "192.168.7.2",
        subnets: [
          { network: "192.168.7.0", netmask: "255.255.255.0" },
          { network: "10.9.0.0", netmask: "255.255.255.0" },
        ],
      },
    ],
    discovery: true,
  });
  const h = new DhcpHandler(cfg, boot, new MemoryLeaseStore());
  const inb: Inbound = { iface: cfg.interfaces[0]!, listener: "dhcp", from: { address: "203.0.113.9", port: 67 } };
  const pxe = { arch: 0, vendorClass: "PXEClient:Arch:00000:UNDI:002001" };
  for (let i = 0; i < 50; i++) {
    const mac = `02:00:00:00:01:${i.toString(16).padStart(2, "0")}`;
    expect(await h.handleBytes(encode(request({ mac, giaddr: `203.0.113.${i + 1}`, ...pxe })), inb)).toMatchObject({ kind: "drop", reason: "no-subnet" });
  }
  expect(nodes.counts().nodes).toBe(0);
  const served = await h.handleBytes(encode(request({ mac: "02:00:00:00:02:01", giaddr: "10.9.0.1", ...pxe })), inb);
  expect(served).toMatchObject({ kind: "reply", to: { address: "10.9.0.1", port: 67 } });
  expect(nodes.counts().nodes).toBe(1);
  await new Promise((r) => setImmediate(r)); // the reply's boot event is recorded on the next turn
  store.close();
});
