// The TFTP request handler (src/protocols/tftp/handler.ts): bytes in, a decision out; no socket anywhere.
import { describe, expect, test } from "bun:test";
import { memoryBootFiles } from "../../../src/boot/files";
import type { BootFiles } from "../../../src/boot/ports";
import { decode, encodeAck, encodeError, encodeRequest, ErrorCode } from "../../../src/protocols/tftp/codec";
import { type Decision, type HandlerLimits, TftpHandler } from "../../../src/protocols/tftp/handler";

const LIMITS: HandlerLimits = { maxBlksize: 1468, maxWindowsize: 64, defaultTimeoutMs: 1000, maxTransfers: 2048, maxPerClient: 16 };
const files = memoryBootFiles({ "ipxe.efi": new Uint8Array(3000).fill(7), "t.txt": new TextEncoder().encode("a\nb") });
const from = { address: "10.0.0.5", port: 2000 };
const rrq = (name: string, opts: Record<string, string> = {}, mode: "octet" | "netascii" | "mail" = "octet") => encodeRequest("RRQ", name, mode, opts);

function refusal(d: Decision) {
  if (d.kind !== "refuse") throw new Error(`expected a refusal, got ${d.kind}`);
  return { why: d.why, code: d.error.code, message: d.error.message };
}

describe("start", () => {
  test("an RRQ for a file: the bytes, the negotiated options and the encoded OACK", async () => {
    const h = new TftpHandler(files, LIMITS);
    const d = await h.handle(rrq("/ipxe.efi", { blksize: "65464", tsize: "0", windowsize: "4" }), from);
    if (d.kind !== "start") throw new Error(d.kind);
    expect(d.name).toBe("ipxe.efi");
    expect(d.key).toBe("10.0.0.5|2000");
    expect(d.data.length).toBe(3000);
    expect(d.negotiated).toMatchObject({ blksize: 1468, windowsize: 4, timeoutMs: 1000 });
    const oack = decode(d.oack!);
    expect(oack.ok && oack.packet.op === "OACK" && Object.fromEntries(oack.packet.options)).toEqual({ blksize: "1468", tsize: "3000", windowsize: "4" });
    expect(h.size).toBe(1);
  });

  test("no options: no OACK; netascii: the converted bytes", async () => {
    const h = new TftpHandler(files, LIMITS);
    const d = await h.handle(rrq("t.txt", {}, "netascii"), from);
    if (d.kind !== "start") throw new Error(d.kind);
    expect(d.oack).toBeUndefined();
    expect([...d.data]).toEqual([97, 13, 10, 98]);
  });
});

describe("one transfer per client address and port", () => {
  test("a retransmitted RRQ is a duplicate while the file is opening and while the transfer runs; after `ended` the client may ask again", async () => {
    const h = new TftpHandler(files, LIMITS);
    const first = h.handle(rrq("ipxe.efi"), from);
    const again = await h.handle(rrq("ipxe.efi"), from); // the first is still reading its file
    expect(again).toMatchObject({ kind: "ignore", why: "duplicate" });
    const d = await first;
    if (d.kind !== "start") throw new Error(d.kind);
    expect(await h.handle(rrq("ipxe.efi"), from)).toMatchObject({ kind: "ignore", why: "duplicate" });
    expect((await h.handle(rrq("ipxe.efi"), { ...from, port: 2001 })).kind).toBe("start");
    h.ended(d.key, d.id + 100); // another transfer's end does not free this client
    expect((await h.handle(rrq("ipxe.efi"), from)).kind).toBe("ignore");
    h.ended(d.key, d.id);
    expect((await h.handle(rrq("ipxe.efi"), from)).kind).toBe("start");
  });

  test("maxTransfers opening or running: the next client is told the server is busy", async () => {
    const h = new TftpHandler(files, { ...LIMITS, maxTransfers: 1 });
    const a = h.handle(rrq("ipxe.efi"), from);
    expect(refusal(await h.handle(rrq("ipxe.efi"), { ...from, port: 2001 }))).toEqual({
      why: "busy",
      code: ErrorCode.NotDefined,
      message: "server busy, try again",
    });
    expect((await a).kind).toBe("start");
  });
});

describe("at most maxPerClient transfers per client address", () => {
  const other = { address: "10.0.0.6", port: 2000 };
  /** `n` transfers started from `address`, ports 3000…, each awaited. */
  async function startMany(h: TftpHandler, address: string, n: number) {
    const started: Extract<Decision, { kind: "start" }>[] = [];
    for (let i = 0; i < n; i++) {
      const d = await h.handle(rrq("ipxe.efi"), { address, port: 3000 + i });
      if (d.kind !== "start") throw new Error(`transfer ${i + 1} from ${address}: ${d.kind}`);
      started.push(d);
    }
    return started;
  }

  test("the 17th concurrent RRQ from one address is refused with ERROR 0 naming the limit; another address is served", async () => {
    const h = new TftpHandler(files, LIMITS);
    await startMany(h, from.address, 16);
    const d = await h.handle(rrq("ipxe.efi"), { address: from.address, port: 3016 });
    expect(refusal(d)).toEqual({ why: "clientLimit", code: ErrorCode.NotDefined, message: "too many transfers from this address (16)" });
    expect(d.kind === "refuse" && d.request?.filename).toBe("ipxe.efi"); // counted as a read request
    expect(d.kind === "refuse" && encodeError(d.error.code, d.error.message).length).toBe(46); // the size the amplification note in handler.ts gives
    expect(h.heldBy(from.address)).toBe(16);
    expect((await h.handle(rrq("ipxe.efi"), other)).kind).toBe("start");
    expect(h.heldBy(other.address)).toBe(1);
    expect(h.size).toBe(17);
  });

  test("transfers still opening count: 17 RRQs at once from one address start 16", async () => {
    const h = new TftpHandler(files, LIMITS);
    const all = await Promise.all(Array.from({ length: 17 }, (_, i) => h.handle(rrq("ipxe.efi"), { address: from.address, port: 3000 + i })));
    expect(all.filter((d) => d.kind === "start").length).toBe(16);
    expect(refusal(all[16]!).why).toBe("clientLimit");
  });

  test("a finished (or timed-out) transfer frees its address's slot; another transfer's end does not", async () => {
    // The data plane reports every end, completed or abandoned after its retries, as `ended` (server.ts).
    const h = new TftpHandler(files, LIMITS);
    const started = await startMany(h, from.address, 16);
    const next = { address: from.address, port: 3016 };
    h.ended(started[0]!.key, started[1]!.id); // a mismatched id: nothing freed
    expect(refusal(await h.handle(rrq("ipxe.efi"), next)).why).toBe("clientLimit");
    h.ended(started[0]!.key, started[0]!.id);
    expect(h.heldBy(from.address)).toBe(15);
    expect((await h.handle(rrq("ipxe.efi"), next)).kind).toBe("start");
    expect(refusal(await h.handle(rrq("ipxe.efi"), { address: from.address, port: 3017 })).why).toBe("clientLimit");
  });

  test("a request refused after admission (not found, unreadable) gives its address's slot back", async () => {
    const broken: BootFiles = { open: async (n) => (n === "boom" ? Promise.reject(new Error("disk on fire")) : files.open(n)), list: async () => [] };
    const h = new TftpHandler(broken, { ...LIMITS, maxPerClient: 1 });
    expect(refusal(await h.handle(rrq("nope"), from)).why).toBe("notFound");
    expect(refusal(await h.handle(rrq("boom"), from)).why).toBe("internal");
    expect(h.heldBy(from.address)).toBe(0);
    expect((await h.handle(rrq("ipxe.efi"), from)).kind).toBe("start");
  });

  test("a retransmitted RRQ of a transfer under way stays a duplicate at the limit (ignored, not refused)", async () => {
    const h = new TftpHandler(files, LIMITS);
    await startMany(h, from.address, 16);
    expect(await h.handle(rrq("ipxe.efi"), { address: from.address, port: 3000 })).toMatchObject({ kind: "ignore", why: "duplicate" });
  });

  test("the global cap still applies below the per-address one: the next address is told the server is busy", async () => {
    const h = new TftpHandler(files, { ...LIMITS, maxTransfers: 20 });
    await startMany(h, from.address, 16);
    expect(refusal(await h.handle(rrq("ipxe.efi"), { address: from.address, port: 3016 })).why).toBe("clientLimit");
    await startMany(h, other.address, 4);
    expect(refusal(await h.handle(rrq("ipxe.efi"), { address: "10.0.0.7", port: 2000 }))).toEqual({
      why: "busy",
      code: ErrorCode.NotDefined,
      message: "server busy, try again",
    });
    expect(h.size).toBe(20);
  });

  test("clear forgets every address's count", async () => {
    const h = new TftpHandler(files, { ...LIMITS, maxPerClient: 1 });
    await startMany(h, from.address, 1);
    h.clear();
    expect(h.heldBy(from.address)).toBe(0);
    expect((await h.handle(rrq("ipxe.efi"), { address: from.address, port: 3001 })).kind).toBe("start");
  });
});

describe("refusals", () => {
  test("a write request: ERROR 2, read-only", async () => {
    const d = await new TftpHandler(files, LIMITS).handle(encodeRequest("WRQ", "x", "octet"), from);
    expect(refusal(d)).toEqual({ why: "writeRequest", code: ErrorCode.AccessViolation, message: "this server is read-only" });
    expect(d.kind === "refuse" && d.request).toBeUndefined();
  });

  test("mail mode: ERROR 4", async () => {
    expect(refusal(await new TftpHandler(files, LIMITS).handle(rrq("ipxe.efi", {}, "mail"), from))).toEqual({
      why: "badMode",
      code: ErrorCode.IllegalOperation,
      message: "mail mode is not supported",
    });
  });

  test("a name the sanitiser refuses: ERROR 2 with its reason; the client key is not held", async () => {
    const h = new TftpHandler(files, LIMITS);
    const d = await h.handle(rrq("../etc/passwd"), from);
    expect(refusal(d).why).toBe("badName");
    expect(refusal(d).message).toStartWith("bad file name: ");
    expect(h.size).toBe(0);
  });

  test("an unknown file: ERROR 1, and the client may ask again", async () => {
    const h = new TftpHandler(files, LIMITS);
    expect(refusal(await h.handle(rrq("nope"), from))).toEqual({ why: "notFound", code: ErrorCode.FileNotFound, message: "file not found" });
    expect(h.size).toBe(0);
  });

  test("a BootFiles that throws: ERROR 0 and a note naming the cause", async () => {
    const broken: BootFiles = { open: async () => Promise.reject(new Error("disk on fire")), list: async () => [] };
    const h = new TftpHandler(broken, LIMITS);
    const d = await h.handle(rrq("f"), from);
    expect(refusal(d)).toEqual({ why: "internal", code: ErrorCode.NotDefined, message: "server error reading the file" });
    expect(d.kind === "refuse" && d.note).toBe("cannot read f: disk on fire");
    expect(h.size).toBe(0);
  });

  test("a malformed request gets ERROR 4; a malformed or stray non-request is ignored (never answer an ERROR)", async () => {
    const h = new TftpHandler(files, LIMITS);
    expect(refusal(await h.handle(new Uint8Array([0, 1, 65, 66]), from)).why).toBe("malformed");
    expect(refusal(await h.handle(new Uint8Array([0, 9]), from)).code).toBe(ErrorCode.IllegalOperation); // unknown opcode
    expect(await h.handle(new Uint8Array([7]), from)).toMatchObject({ kind: "ignore", why: "malformed" });
    expect(await h.handle(new Uint8Array([0, 5, 0]), from)).toMatchObject({ kind: "ignore", why: "malformed" });
    expect(await h.handle(encodeAck(1), from)).toEqual({ kind: "ignore", why: "malformed", note: "unexpected ACK on the listening port from 10.0.0.5:2000" });
  });

  test("an RRQ from port 0 is ignored (there is no port to answer)", async () => {
    const d = await new TftpHandler(files, LIMITS).handle(rrq("ipxe.efi"), { address: "10.0.0.5", port: 0 });
    expect(d.kind).toBe("ignore");
    expect(d.kind === "ignore" && d.request?.filename).toBe("ipxe.efi");
  });
});
