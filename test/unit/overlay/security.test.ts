import { afterAll, describe, expect, test } from "bun:test";
import { readArtifact } from "../../../src/boot/artifact";
import { BootService } from "../../../src/boot/service";
import type { BootRequest } from "../../../src/boot/ports";
import { createApp } from "../../../src/http/app";
import { readCpio } from "../../../src/overlay/cpio";
import { runtimeAllowed } from "../../../src/overlay/security";
import type { BootStateStore } from "../../../src/services/ports";
import { world } from "./world";

const node = { name: "n1", conf: { networkDevices: { default: { ipaddr: "10.0.0.11", netmask: "255.255.255.0" } } } };
const req = (remote: string, remotePort: number): BootRequest => ({ remote, remotePort, base: "http://10.0.0.1:9873", query: {} });

describe("runtimeAllowed", () => {
  test("the node's own address from a privileged port is served", () => {
    expect(runtimeAllowed(node, req("10.0.0.11", 987))).toBeUndefined();
    expect(runtimeAllowed(node, req("::ffff:10.0.0.11", 900))).toBeUndefined();
  });
  test("an unprivileged port is refused, saying how to fetch it", () => {
    const r = runtimeAllowed(node, req("10.0.0.11", 40000));
    expect(r?.status).toBe(403);
    expect(r?.message).toContain("port 40000");
    expect(r?.message).toContain("--local-port");
  });
  test("another node's address is refused", () => {
    const r = runtimeAllowed(node, req("10.0.0.12", 987));
    expect(r?.status).toBe(403);
    expect(r?.message).toContain("10.0.0.12");
  });
  test("a DHCP-configured node is checked by port only; enforcement can be turned off", () => {
    expect(runtimeAllowed({ name: "d", conf: { networkDevices: { default: {} } } }, req("10.0.0.77", 987))).toBeUndefined();
    expect(runtimeAllowed({ name: "d", conf: {} }, req("10.0.0.77", 5000))?.status).toBe(403);
    expect(runtimeAllowed(node, req("10.9.9.9", 5000), { enforce: false })).toBeUndefined();
  });
});

describe("through the boot routes", () => {
  const w = world();
  afterAll(() => w.cleanup());
  w.nodes.setNodes(["n-static", "n-tags"], { set: { runtimeOverlay: ["hosts"], systemOverlay: ["hostname"] } }, { allowMissingImage: true });
  const state: BootStateStore = { record() {}, statuses: () => [], events: () => [], unknown: () => [], forgetUnknown() {}, ignoreUnknown() {} };
  const boot = new BootService(w.nodes, state, undefined, w.overlays, { discovery: false }, () => {});

  test("runtime: refused from an unprivileged port and from another node's address, served to the node itself", async () => {
    const mac = "52:54:00:00:00:02"; // n-static, 10.0.0.12
    const low = await boot.file("runtime", mac, req("10.0.0.12", 40001));
    expect("refused" in low && low.status).toBe(403);
    const other = await boot.file("runtime", mac, req("10.0.0.13", 987)); // n-tags' address
    expect("refused" in other && other.status).toBe(403);
    const ok = await boot.file("runtime", mac, req("10.0.0.12", 987));
    if ("refused" in ok) throw new Error(ok.message);
    expect(readCpio(readArtifact(ok)).map((e) => e.path)).toContain("etc/hosts");
  });

  test("a DHCP-configured node is known by the address drover's DHCP server leased to it", async () => {
    const dhcpNode = [...w.nodes.listNodes([])].find((n) => n.conf.networkDevices?.default?.hwaddr === "52:54:00:00:00:01")!;
    w.nodes.setNodes([dhcpNode.name], { set: { runtimeOverlay: ["hosts"] } }, { allowMissingImage: true });
    const leases = new Map([["52:54:00:00:00:01", { mac: "52:54:00:00:00:01", ip: "10.0.0.150", expiresAt: Date.now() + 60_000 }]]);
    const leased = new BootService(w.nodes, state, undefined, w.overlays, { discovery: false }, () => {}, { get: (m) => leases.get(m) });
    const ok = await leased.file("runtime", "52:54:00:00:00:01", req("10.0.0.150", 987));
    if ("refused" in ok) throw new Error(ok.message);
    const other = await leased.file("runtime", "52:54:00:00:00:01", req("10.0.0.151", 987));
    expect("refused" in other && other.message).toContain("10.0.0.150");
    // An expired lease says nothing: the privileged port is then the only check, as without drover's DHCP.
    leases.get("52:54:00:00:00:01")!.expiresAt = Date.now() - 1;
    const expired = await leased.file("runtime", "52:54:00:00:00:01", req("10.0.0.151", 987));
    expect("refused" in expired).toBe(false);
  });

  test("system overlays are not port-restricted (iPXE fetches them)", async () => {
    const r = await boot.file("system", "52:54:00:00:00:02", req("10.0.0.12", 40001));
    expect("refused" in r).toBe(false);
  });

  test("over HTTP: 304 for an unchanged runtime overlay", async () => {
    // Requests from app.request() carry no socket address: turn the check off for this route test only.
    const open = new BootService(w.nodes, state, undefined, w.overlays, { discovery: false, secureRuntime: false }, () => {});
    const app = createApp({
      startedAt: new Date(),
      stats: () => ({}) as never,
      services: () => ({}),
      boot: open,
      bootFiles: { open: async () => undefined, list: async () => [] },
    } as never);
    const r1 = await app.request("/runtime/52:54:00:00:00:02");
    expect(r1.status).toBe(200);
    const etag = r1.headers.get("etag")!;
    const r2 = await app.request("/runtime/52:54:00:00:00:02", { headers: { "If-None-Match": etag } });
    expect(r2.status).toBe(304);
  });
});

describe("host keys", () => {
  test("each node gets its own keys, generated once with ssh-keygen and kept; only its own archive has them", async () => {
    const w = world(undefined, undefined, { seedKeys: false });
    try {
      if (!Bun.which("ssh-keygen")) {
        console.warn("skipped: ssh-keygen is not installed (apt install openssh-client) — host key generation needs it");
        return;
      }
      w.nodes.setNodes(["n-dhcp", "n-tags"], { set: { systemOverlay: ["ssh.host_keys"] } }, { allowMissingImage: true });
      const key = async (n: string) => {
        const a = await w.overlays.archive("system", n);
        if ("refused" in a) throw new Error(a.message);
        const es = readCpio(readArtifact(a));
        return es.find((e) => e.path === "etc/ssh/ssh_host_ed25519_key")!;
      };
      const a1 = await key("n-dhcp");
      const b1 = await key("n-tags");
      expect(new TextDecoder().decode(a1.data)).toContain("OPENSSH PRIVATE KEY");
      expect(a1.mode).toBe(0o600);
      expect(Buffer.compare(a1.data, b1.data)).not.toBe(0);
      w.nodes.setNodes(["n-dhcp"], { set: { cluster: "x" } }, { allowMissingImage: true });
      const a2 = await key("n-dhcp");
      expect(Buffer.compare(a1.data, a2.data)).toBe(0);
      const { statSync } = await import("node:fs");
      expect(statSync(`${w.dir}/data/nodes/n-dhcp/ssh_host_ed25519_key`).mode & 0o777).toBe(0o600);
      expect(statSync(`${w.dir}/data/nodes/n-dhcp`).mode & 0o777).toBe(0o700);
    } finally {
      w.cleanup();
    }
  });
});
