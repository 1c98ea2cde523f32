/**
 * The handler on requests recorded from real firmware and real clients (test/fixtures/dhcp: SeaBIOS with
 * QEMU's iPXE ROM, OVMF PXE, iPXE EFI, AAVMF PXE, iPXE arm64, OVMF HTTP boot, udhcpc, dhclient; how and
 * when in the README there). For each recorded payload:
 *   - it decodes, and its decoded form is the golden beside it (test/fixtures/dhcp/NAME.txt);
 *   - the handler's answer in authoritative mode and in proxy mode, with the recording lab's addresses and a
 *     reservation for the MAC, is the golden test/golden/dhcp/recorded/NAME.txt;
 *   - the boot file is the one that kind of client must get.
 * Regenerate the reply goldens with `UPDATE_GOLDEN=1 bun test test/unit/dhcp/recorded.test.ts`; re-record
 * the fixtures with `sudo bun test/fixtures/dhcp/record.ts`.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { classify } from "../../../src/protocols/dhcp/client";
import { decode, encode, macOf } from "../../../src/protocols/dhcp/codec";
import { dhcpConfig } from "../../../src/protocols/dhcp/config";
import { DhcpHandler, type Inbound, type Outcome } from "../../../src/protocols/dhcp/handler";
import { MemoryLeaseStore } from "../../../src/protocols/dhcp/leases";
import { MessageType, Opt, dump, optU8 } from "../../../src/protocols/dhcp/options";
import { FakeBootPort } from "./fixtures";

const FIXTURES = join(import.meta.dir, "../../fixtures/dhcp");
const GOLDEN = join(import.meta.dir, "../../golden/dhcp/recorded");
const NOW = 1_700_000_000_000;

interface Recorded {
  file: string;
  source: string;
  mac: string;
  phase: "rom" | "ipxe" | "http" | "plain";
  type: string;
  port: number;
  /** The sender's address and port ("0.0.0.0:68" before it has an address). */
  from: string;
  /** The mode drover ran in when this was recorded; proxy-mode clients' nodes have no address. */
  mode: "authoritative" | "proxy";
  serverIp: string;
  network: string;
  netmask: string;
  reservation?: string;
}
const manifest = JSON.parse(readFileSync(join(FIXTURES, "manifest.json"), "utf8")) as { packets: Recorded[] };

/** What each recorded client must be told to boot (authoritative mode). */
function expectedFile(r: Recorded): string {
  const base = `http://${r.serverIp}:9873`;
  if (r.phase === "ipxe") return `${base}/ipxe/\${mac:hexhyp}?assetkey=\${asset}&uuid=\${uuid}`;
  if (r.phase === "http") return `${base}/ipxe.efi`;
  if (r.phase === "plain") return "";
  if (r.source === "uefi-arm64") return "ipxe-arm64.efi";
  if (r.source === "uefi" || r.source === "http" || r.source === "uefi-proxy") return "snponly.efi";
  return "undionly.kpxe";
}

function handlerFor(r: Recorded) {
  const subnets = [{ network: r.network, netmask: r.netmask, router: r.serverIp, dns: [r.serverIp] }];
  const cfg = dhcpConfig({
    interfaces: [
      { name: "br0", mode: "authoritative", serverIp: r.serverIp, subnets },
      { name: "br1", mode: "proxy", serverIp: r.serverIp, subnets: [] },
    ],
    httpPort: 9873,
    bootFiles: { uefiArm64: "ipxe-arm64.efi" },
  });
  const node = `rec-${r.source}`;
  const port = new FakeBootPort({ [r.mac]: r.reservation ? { node, ip: r.reservation, netmask: r.netmask, hostname: node } : { node, hostname: node } });
  const h = new DhcpHandler(cfg, port, new MemoryLeaseStore(), { now: () => NOW });
  const [address, p] = r.from.split(":");
  const on = (name: string, listener: Inbound["listener"]): Inbound => ({
    iface: cfg.interfaces.find((i) => i.name === name)!,
    listener,
    from: { address: address!, port: Number(p) },
  });
  return { h, on };
}

/** An outcome as text: the reply through the wire and back (what the client decodes), or the drop. */
function render(o: Outcome): string {
  if (o.kind === "drop") return `drop ${o.reason}: ${o.detail}\n`;
  if (o.kind === "done") return `done: ${o.note}\n`;
  const d = decode(encode(o.packet));
  if (!d.ok) throw new Error(`the reply does not decode: ${d.reason}`);
  return `→ ${o.to.address}:${o.to.port}\n${dump(d.packet)}`;
}

test("the fixtures cover every firmware and client recorded", () => {
  const have = new Set(manifest.packets.map((p) => `${p.source}-${p.phase}`));
  for (const want of [
    "bios-ipxe",
    "uefi-rom",
    "uefi-ipxe",
    "uefi-arm64-rom",
    "uefi-arm64-ipxe",
    "udhcpc-rom",
    "dhclient-plain",
    "uefi-proxy-rom",
    "uefi-proxy-ipxe",
  ])
    expect(have).toContain(want);
  // Real firmware's ProxyDHCP REQUEST on port 4011 (OVMF), and UEFI HTTP boot.
  expect(manifest.packets.some((p) => p.port === 4011 && p.type === "request")).toBe(true);
  expect(have).toContain("http-http");
});

describe("recorded requests", () => {
  for (const r of manifest.packets) {
    test(`${r.file}: decodes as its golden; authoritative and proxy answers as recorded/${r.file}.txt`, async () => {
      const bytes = new Uint8Array(readFileSync(join(FIXTURES, `${r.file}.bin`)));
      const d = decode(bytes);
      if (!d.ok) throw new Error(`${r.file}.bin: ${d.reason}: ${d.detail}`);
      const req = d.packet;
      const decoded = readFileSync(join(FIXTURES, `${r.file}.txt`), "utf8").replace(/^#.*\n/gm, "");
      expect(dump(req)).toBe(decoded);
      expect(macOf(req)).toBe(r.mac);
      expect(classify(req).kind).toBe(r.phase === "rom" ? "pxe" : r.phase);

      const { h, on } = handlerFor(r);
      const auth = await h.handleBytes(bytes, on("br0", "dhcp"));
      const prox = await handlerFor(r).h.handleBytes(bytes, on("br1", r.port === 4011 ? "pxe" : "dhcp"));
      const text = `# ${r.file}.bin (${r.source}, ${r.phase} ${r.type}), ${r.reservation ? `reservation ${r.reservation}` : "a node without an address"}\n## authoritative ${render(auth)}## proxy ${render(prox)}`;
      const file = join(GOLDEN, `${r.file}.txt`);
      if (process.env.UPDATE_GOLDEN === "1") {
        mkdirSync(GOLDEN, { recursive: true });
        writeFileSync(file, text);
      }
      if (!existsSync(file)) throw new Error(`missing golden file ${file}; run with UPDATE_GOLDEN=1 and review it`);
      expect(text).toBe(readFileSync(file, "utf8"));

      const f = expectedFile(r);
      if (r.mode === "authoritative") {
        // The reservation, and the boot file this kind of client must get.
        if (auth.kind !== "reply") throw new Error(`authoritative: expected a reply, got ${render(auth)}`);
        const want = r.type === "discover" ? MessageType.OFFER : MessageType.ACK;
        expect(optU8(auth.packet.options, Opt.MessageType)).toBe(want);
        expect(auth.packet.yiaddr).toBe(r.type === "inform" ? "0.0.0.0" : r.reservation!);
        expect(auth.packet.file).toBe(f);
      } else {
        // Recorded next to another DHCP server: the node has no address here, so authoritative mode has
        // none to give (or the REQUEST names the other server).
        expect(auth.kind).toBe("drop");
      }
      // Proxy: never an address; plain clients and port-67 REQUESTs are not answered.
      if (r.phase === "plain") expect(prox).toMatchObject({ kind: "drop", reason: "not-pxe" });
      else if (r.type === "request" && r.port !== 4011) expect(prox).toMatchObject({ kind: "drop", reason: "proxy-ignores-request" });
      else {
        if (prox.kind !== "reply") throw new Error(`proxy: expected a reply, got ${render(prox)}`);
        expect(prox.packet.yiaddr).toBe("0.0.0.0");
        expect(prox.packet.file).toBe(f);
      }
    });
  }
});
