// Issue 13 item 6: 105 spoofed bytes (an RRQ with blksize 65464 and windowsize 64 naming a victim's address,
// then a blind ACK 0 to the shared, known data-plane port) made drover send 5.1 MB to the victim. Here the
// "victim" is a raw socket that sends exactly what the spoofer would (RRQ, ACK 0) and then stays silent:
// everything it receives is what a victim would get. Loopback only.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { memoryBootFiles } from "../../../src/boot/files";
import { encodeAck, encodeRequest } from "../../../src/protocols/tftp/codec";
import { type TftpServer, startTftpServer } from "../../../src/protocols/tftp/server";
import { RawClient } from "../tftp/raw-client";

const big = new Uint8Array(8 * 1024 * 1024).map((_, i) => (i * 7) & 255);
let srv: TftpServer;
beforeAll(async () => {
  srv = await startTftpServer({ port: 0, address: "127.0.0.1" }, memoryBootFiles({ "ipxe.efi": big }), () => {}, { timeoutMs: 100, maxWindowsize: 64 });
});
afterAll(() => srv.stop());

/** Receives until nothing arrives for 600 ms (the server gives up well before); returns bytes and packets. */
async function drain(c: RawClient) {
  let bytes = 0;
  let packets = 0;
  for (let i = 0; i < 10_000; i++) {
    try {
      const r = await c.recv(600);
      bytes += r.data.length;
      packets++;
    } catch {
      break;
    }
  }
  return { bytes, packets };
}

test("a blind RRQ + ACK 0 gets at most 8 KiB of data (blksize capped at one Ethernet frame), sent at most 3 times, not 64 × 64 KiB × 6", async () => {
  const c = await RawClient.open();
  const rrq = encodeRequest("RRQ", "ipxe.efi", "octet", { blksize: "65464", windowsize: "64", tsize: "0" });
  c.send(rrq, srv.port);
  const oack = await c.recv();
  expect(oack.packet.ok && oack.packet.packet.op).toBe("OACK");
  expect(oack.packet.ok && oack.packet.packet.op === "OACK" && oack.packet.packet.options.get("blksize")).toBe("1468");
  // The spoofer never sees the OACK, but the data-plane port is the same for every transfer: it knows it.
  const ack0 = encodeAck(0);
  c.send(ack0, oack.port);
  const got = await drain(c);
  c.close();
  const sent = rrq.length + ack0.length + 2 * 28; // with IP and UDP headers
  const received = oack.data.length + got.bytes;
  // The first window: 5 blocks of 1468 + 4 (8 KiB), sent 3 times (first + 2 retransmissions), plus the OACK.
  expect(got.packets).toBeLessThanOrEqual(15);
  expect(got.bytes).toBeLessThanOrEqual(3 * 5 * 1472);
  console.log(`tftp amplification: ${sent} bytes in → ${received} bytes out (${Math.round(received / sent)}×; was ~48,000×)`);
});

test("a real client with the same options still gets the whole file (the window opens after its first ACK)", async () => {
  const c = await RawClient.open();
  c.send(encodeRequest("RRQ", "ipxe.efi", "octet", { blksize: "65464", windowsize: "64" }), srv.port);
  const oack = await c.recv();
  c.send(encodeAck(0), oack.port);
  // The first window: 8 KiB (5 blocks of 1468), until the client proves it is there.
  let bytes = 0;
  for (let b = 1; b <= 5; b++) {
    const r = await c.recv();
    expect(r.packet.ok && r.packet.packet.op === "DATA" && r.packet.packet.block).toBe(b);
    bytes += r.data.length - 4;
  }
  expect(await c.quiet(50)).toBe(true);
  c.send(encodeAck(5), oack.port);
  let last = 5;
  const total = Math.floor(big.length / 1468) + 1;
  while (last < total) {
    const r = await c.recv();
    if (!r.packet.ok || r.packet.packet.op !== "DATA") continue;
    if (r.packet.packet.block === last + 1) {
      last++;
      bytes += r.packet.packet.data.length;
      c.send(encodeAck(last), oack.port); // every block: a burst of 64 × 64 KiB overflows a loopback socket buffer
    }
  }
  c.close();
  expect(bytes).toBe(big.length);
});

test("an OACK nobody acknowledges is sent 3 times, then the transfer ends", async () => {
  const c = await RawClient.open();
  c.send(encodeRequest("RRQ", "ipxe.efi", "octet", { blksize: "1468" }), srv.port);
  const got = await drain(c);
  c.close();
  expect(got.packets).toBe(3);
});
