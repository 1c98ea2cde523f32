import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { memoryBootFiles } from "../../../src/boot/files";
import type { BootFiles } from "../../../src/boot/ports";
import { encodeAck, encodeError, encodeRequest, ErrorCode } from "../../../src/protocols/tftp/codec";
import { startTftpServer, type TftpServer, type TransferRecord } from "../../../src/protocols/tftp/server";
import { RawClient, rawGet } from "./raw-client";

function pattern(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Waits for `ok`; throws after 10 s (a guard against hanging, not a timing assertion). */
async function until(ok: () => boolean, what: string) {
  for (const end = Date.now() + 10_000; !ok(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

const small = pattern(5000);
const exact = pattern(1024); // a multiple of 512: needs a final empty block
// 65536 blocks of 8 bytes plus a bit: block numbers wrap past 65535 with blksize 8 (cheap rollover check).
const wrap = pattern(8 * 65536 + 100, 7);
const text = new TextEncoder().encode("line1\nline2\r\nend");

describe("TFTP server (in-process, raw client)", () => {
  let srv: TftpServer;
  const done: TransferRecord[] = [];
  const lines: string[] = [];
  beforeAll(async () => {
    const files = memoryBootFiles({ "small.bin": small, "exact.bin": exact, "wrap.bin": wrap, "dir/text.txt": text, "empty.bin": new Uint8Array(0) });
    srv = await startTftpServer({ port: 0, address: "127.0.0.1" }, files, (l) => lines.push(l), {
      timeoutMs: 100,
      retries: 3,
      maxWindowsize: 32,
      debug: (l) => lines.push(l),
      onTransfer: (t) => done.push(t),
    });
  });
  afterAll(() => srv.stop());

  test("plain RRQ without options: 512-byte blocks, no OACK", async () => {
    const r = await rawGet(srv.port, "small.bin");
    expect(r.oack).toBeUndefined();
    expect(r.data).toEqual(small);
    expect(r.blocks).toBe(10); // 9 full blocks + one short
  });

  test("a file whose size is a multiple of blksize ends with an empty block", async () => {
    const r = await rawGet(srv.port, "/exact.bin");
    expect(r.data).toEqual(exact);
    expect(r.blocks).toBe(3);
  });

  test("empty file: one empty DATA block", async () => {
    const r = await rawGet(srv.port, "empty.bin", { tsize: "0" });
    expect(r.data?.length).toBe(0);
    expect(r.oack?.get("tsize")).toBe("0");
  });

  test("options: blksize, tsize, timeout, windowsize are acknowledged; unknown ones are left out", async () => {
    const r = await rawGet(srv.port, "small.bin", { blksize: "1468", tsize: "0", timeout: "2", windowsize: "4", bogus: "1" });
    expect(r.data).toEqual(small);
    expect(Object.fromEntries(r.oack!)).toEqual({ blksize: "1468", tsize: "5000", timeout: "2", windowsize: "4" });
  });

  test("windowsize above the server's limit is lowered; blksize above the limit (one Ethernet frame by default) is lowered", async () => {
    const r = await rawGet(srv.port, "small.bin", { windowsize: "1000", blksize: "70000" });
    expect(r.oack?.get("windowsize")).toBe("32");
    expect(r.oack?.get("blksize")).toBe("1468");
    expect(r.data).toEqual(small);
  });

  test("invalid option values are ignored, not fatal", async () => {
    const r = await rawGet(srv.port, "small.bin", { blksize: "7", windowsize: "0", timeout: "256", tsize: "x" });
    expect(r.oack).toBeUndefined();
    expect(r.data).toEqual(small);
  });

  test("block numbers roll over from 65535 to 0", async () => {
    const r = await rawGet(srv.port, "wrap.bin", { blksize: "8", windowsize: "32" });
    expect(r.wrapped).toBe(true);
    expect(r.blocks).toBe(65536 + 13);
    expect(r.data).toEqual(wrap);
  });

  test("netascii mode converts line ends", async () => {
    const r = await rawGet(srv.port, "dir/text.txt", {}, "netascii");
    expect(new TextDecoder().decode(r.data)).toBe("line1\r\nline2\r\0\r\nend");
  });

  test("unknown file: ERROR 1", async () => {
    const r = await rawGet(srv.port, "nope.bin");
    expect(r.error?.code).toBe(ErrorCode.FileNotFound);
  });

  test("write requests are refused with ERROR 2", async () => {
    const c = await RawClient.open();
    c.send(encodeRequest("WRQ", "upload.bin", "octet"), srv.port);
    const r = await c.recv();
    c.close();
    expect(r.packet.ok && r.packet.packet.op === "ERROR" && r.packet.packet.code).toBe(ErrorCode.AccessViolation);
    expect(srv.stats().refused.writeRequest).toBeGreaterThan(0);
  });

  test("mail mode is refused with ERROR 4", async () => {
    const r = await rawGet(srv.port, "small.bin", {}, "mail");
    expect(r.error?.code).toBe(ErrorCode.IllegalOperation);
  });

  const hostile: [string, number][] = [
    ["../small.bin", ErrorCode.AccessViolation],
    ["dir/../../small.bin", ErrorCode.AccessViolation],
    ["small.bin\u0000.png", ErrorCode.IllegalOperation], // a NUL ends the name: the rest parses as a bad mode
    ["dir\\text.txt", ErrorCode.AccessViolation],
    ["//etc/passwd", ErrorCode.AccessViolation],
    ["/etc/passwd", ErrorCode.FileNotFound],
    ["a\nb", ErrorCode.AccessViolation],
    ["x".repeat(2000), ErrorCode.AccessViolation],
  ];
  for (const [name, code] of hostile) {
    test(`hostile name ${JSON.stringify(name.slice(0, 40))} -> ERROR ${code}`, async () => {
      const r = await rawGet(srv.port, name);
      expect(r.error?.code).toBe(code);
    });
  }

  test("a lost DATA block is retransmitted after the timeout", async () => {
    const c = await RawClient.open();
    c.send(encodeRequest("RRQ", "small.bin", "octet"), srv.port);
    const first = await c.recv();
    expect(first.packet.ok && first.packet.packet.op).toBe("DATA");
    // Pretend block 1 was lost: say nothing; the server must send it again.
    const again = await c.recv();
    expect(again.port).toBe(first.port);
    expect(again.data).toEqual(first.data);
    c.send(encodeError(0, "test done"), first.port);
    c.close();
    // A transfer's counters reach the stats when it ends (the data plane reports them then).
    for (let i = 0; i < 100 && srv.stats().retransmits === 0; i++) await Bun.sleep(5);
    expect(srv.stats().retransmits).toBeGreaterThan(0);
  });

  test("an unanswered OACK is retransmitted, then the transfer is abandoned after the retries", async () => {
    const before = srv.stats().timedOut;
    const c = await RawClient.open();
    c.send(encodeRequest("RRQ", "small.bin", "octet", { blksize: "1024" }), srv.port);
    let oacks = 0;
    for (;;) {
      try {
        const r = await c.recv(2000);
        if (r.packet.ok && r.packet.packet.op === "OACK") oacks++;
      } catch {
        break;
      }
    }
    c.close();
    expect(oacks).toBe(3); // first + 2 retries: a peer that never answered gets no more (issue 13 item 6)
    expect(srv.stats().timedOut).toBe(before + 1);
  });

  test("a duplicate ACK does not trigger a resend (Sorcerer's Apprentice)", async () => {
    const c = await RawClient.open();
    // timeout 5 s: no retransmission can be mistaken for an answer to the duplicate.
    c.send(encodeRequest("RRQ", "small.bin", "octet", { timeout: "5" }), srv.port);
    const oack = await c.recv();
    c.send(encodeAck(0), oack.port);
    const b1 = await c.recv();
    c.send(encodeAck(1), b1.port);
    const b2 = await c.recv();
    expect(b2.packet.ok && b2.packet.packet.op === "DATA" && b2.packet.packet.block).toBe(2);
    c.send(encodeAck(1), b1.port); // duplicate
    c.send(encodeAck(2), b1.port);
    const b3 = await c.recv();
    expect(b3.packet.ok && b3.packet.packet.op === "DATA" && b3.packet.packet.block).toBe(3);
    // Nothing else is queued: the duplicate ACK produced no extra packet.
    expect(await c.quiet(50)).toBe(true);
    c.send(encodeError(0, "test done"), b1.port);
    c.close();
  });

  test("windowsize: a partial ACK (RFC 7440) makes the server resend from the block after it", async () => {
    const c = await RawClient.open();
    c.send(encodeRequest("RRQ", "small.bin", "octet", { windowsize: "4" }), srv.port);
    const oack = await c.recv();
    c.send(encodeAck(0), oack.port);
    const blocks: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await c.recv();
      if (r.packet.ok && r.packet.packet.op === "DATA") blocks.push(r.packet.packet.block);
    }
    expect(blocks).toEqual([1, 2, 3, 4]);
    c.send(encodeAck(2), oack.port); // "blocks 3 and 4 never arrived"
    const next: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await c.recv();
      if (r.packet.ok && r.packet.packet.op === "DATA") next.push(r.packet.packet.block);
    }
    expect(next).toEqual([3, 4, 5, 6]);
    c.send(encodeError(0, "test done"), oack.port);
    c.close();
  });

  test("a retransmitted RRQ for a transfer under way is ignored", async () => {
    const c = await RawClient.open();
    const rrq = encodeRequest("RRQ", "small.bin", "octet", { blksize: "1024", timeout: "5" });
    const before = srv.stats().duplicateRequests;
    c.send(rrq, srv.port);
    c.send(rrq, srv.port);
    const oack = await c.recv();
    expect(oack.packet.ok && oack.packet.packet.op).toBe("OACK");
    c.send(encodeError(0, "test done"), oack.port);
    // Only one OACK: the second RRQ did not start a second transfer.
    expect(await c.quiet(50)).toBe(true);
    c.close();
    expect(srv.stats().duplicateRequests).toBe(before + 1);
  });

  test("a client ERROR ends the transfer and is reported", async () => {
    const c = await RawClient.open();
    c.send(encodeRequest("RRQ", "small.bin", "octet", { tsize: "0" }), srv.port);
    const oack = await c.recv();
    c.send(encodeError(ErrorCode.OptionRefused, "no thanks"), oack.port);
    c.close();
    await Bun.sleep(20);
    expect(done.some((d) => !d.ok && d.reason?.includes("no thanks"))).toBe(true);
  });

  test("malformed packets are counted and answered with ERROR 4 where RFC 1350 says so", async () => {
    const c = await RawClient.open();
    const before = srv.stats().malformed;
    c.send(new Uint8Array([0, 1, 65, 66]), srv.port); // RRQ with an unterminated name
    const r = await c.recv();
    expect(r.packet.ok && r.packet.packet.op === "ERROR" && r.packet.packet.code).toBe(ErrorCode.IllegalOperation);
    c.send(new Uint8Array([0, 5, 0, 0, 0]), srv.port); // a stray ERROR: never answered
    c.send(new Uint8Array([0, 4, 0, 1]), srv.port); // a stray ACK: never answered
    c.send(new Uint8Array([7]), srv.port); // one byte
    expect(await c.quiet(100)).toBe(true);
    c.close();
    expect(srv.stats().malformed).toBe(before + 4);
  });

  test("transfers share one transfer port; a packet from a client with no transfer there gets ERROR 5", async () => {
    const a = await RawClient.open();
    const b = await RawClient.open();
    a.send(encodeRequest("RRQ", "small.bin", "octet", { blksize: "1024" }), srv.port);
    b.send(encodeRequest("RRQ", "exact.bin", "octet", { blksize: "512" }), srv.port);
    const oa = await a.recv();
    const ob = await b.recv();
    expect(oa.port).not.toBe(srv.port);
    expect(ob.port).toBe(oa.port);
    // Each client gets its own file's first block from the shared port.
    a.send(encodeAck(0), oa.port);
    b.send(encodeAck(0), ob.port);
    const da = await a.recv();
    const db = await b.recv();
    expect(da.packet.ok && da.packet.packet.op === "DATA" && [...da.packet.packet.data.subarray(0, 8)]).toEqual([...small.subarray(0, 8)]);
    expect(db.packet.ok && db.packet.packet.op === "DATA" && [...db.packet.packet.data.subarray(0, 8)]).toEqual([...exact.subarray(0, 8)]);
    a.send(encodeError(0, "test done"), oa.port);
    b.send(encodeError(0, "test done"), ob.port);
    // A stranger (no transfer from its address and port) is told so, and nobody's transfer is disturbed.
    const c = await RawClient.open();
    c.send(encodeAck(1), oa.port);
    const r = await c.recv();
    expect(r.packet.ok && r.packet.packet.op === "ERROR" && r.packet.packet.code).toBe(ErrorCode.UnknownTid);
    // An ERROR from a stranger is never answered (two servers must not bounce errors forever).
    c.send(encodeError(0, "stray"), oa.port);
    expect(await c.quiet(100)).toBe(true);
    for (const x of [a, b, c]) x.close();
  });

  test("completed transfers are reported to onTransfer", () => {
    expect(done.some((d) => d.ok && d.file === "small.bin" && d.bytes === small.length)).toBe(true);
  });
});

describe("TFTP server limits and failures", () => {
  test("when maxTransfers are running, a new client gets ERROR 0 'busy'", async () => {
    const srv = await startTftpServer({ port: 0, address: "127.0.0.1" }, memoryBootFiles({ f: pattern(4096) }), () => {}, { maxTransfers: 1, timeoutMs: 5000 });
    try {
      const a = await RawClient.open();
      a.send(encodeRequest("RRQ", "f", "octet"), srv.port);
      await a.recv(); // block 1, transfer holds the only slot
      const r = await rawGet(srv.port, "f");
      expect(r.error?.code).toBe(ErrorCode.NotDefined);
      expect(srv.stats().refused.busy).toBe(1);
      expect(srv.stats().refused.clientLimit).toBe(0); // the same address, far below its own limit (16)
      a.close();
    } finally {
      await srv.stop();
    }
  });

  test("maxTransfersPerClient from one address: the next one is refused, another address is served, a timed-out transfer frees its slot", async () => {
    const srv = await startTftpServer({ port: 0, address: "127.0.0.1" }, memoryBootFiles({ f: pattern(4096) }), () => {}, {
      maxTransfersPerClient: 2,
    });
    const silent: RawClient[] = [];
    try {
      // Two transfers whose OACK nobody answers: they hold both of 127.0.0.1's slots until they time out
      // (3 OACKs 1 s apart: ample time for the requests below, which take milliseconds on loopback).
      for (let i = 0; i < 2; i++) {
        const c = await RawClient.open();
        silent.push(c);
        c.send(encodeRequest("RRQ", "f", "octet", { blksize: "1024", timeout: "1" }), srv.port);
        expect((await c.recv()).packet).toMatchObject({ ok: true, packet: { op: "OACK" } });
      }
      const r = await rawGet(srv.port, "f");
      expect(r.error).toMatchObject({ code: ErrorCode.NotDefined, message: "too many transfers from this address (2)" });
      expect(srv.stats().refused).toMatchObject({ clientLimit: 1, busy: 0 });
      expect(srv.stats()).toMatchObject({ readRequests: 3, timedOut: 0 });

      const b = await RawClient.open("127.0.0.2");
      try {
        b.send(encodeRequest("RRQ", "f", "octet"), srv.port);
        expect((await b.recv()).packet).toMatchObject({ ok: true, packet: { op: "DATA", block: 1 } });
      } finally {
        b.close();
      }

      // The silent two time out, and 127.0.0.2's (it never ACKs block 1) may too, at about the same moment.
      await until(() => srv.stats().timedOut >= 2 && srv.stats().active === 0, "both silent transfers to time out").catch((e) => {
        throw new Error(`${(e as Error).message}: ${JSON.stringify(srv.stats())}`);
      });
      expect((await rawGet(srv.port, "f")).data).toEqual(pattern(4096));
      expect(srv.stats().refused.clientLimit).toBe(1);
    } finally {
      for (const c of silent) c.close();
      await srv.stop();
    }
  }, 20_000); // the silent transfers take ~3 s to time out; more on a loaded machine

  test("maxTransfersPerClient 1: a finished transfer frees the address's slot for its next file", async () => {
    const srv = await startTftpServer({ port: 0, address: "127.0.0.1" }, memoryBootFiles({ f: pattern(4096) }), () => {}, { maxTransfersPerClient: 1 });
    try {
      for (let i = 1; i <= 3; i++) {
        expect((await rawGet(srv.port, "f")).data).toEqual(pattern(4096));
        // The data plane reports the end after the client's last ACK; wait for it, then ask again.
        await until(() => srv.stats().completed === i && srv.stats().active === 0, `transfer ${i} to be reported`);
      }
      expect(srv.stats().refused.clientLimit).toBe(0);
    } finally {
      await srv.stop();
    }
  });

  test("a BootFiles that throws yields ERROR 0, a log line, and the server keeps serving", async () => {
    let broken = true;
    const ok = memoryBootFiles({ f: pattern(100) });
    const files: BootFiles = {
      open: async (n) => {
        if (broken) throw new Error("disk on fire");
        return ok.open(n);
      },
      list: () => ok.list(),
    };
    const lines: string[] = [];
    const srv = await startTftpServer({ port: 0, address: "127.0.0.1" }, files, (l) => lines.push(l));
    try {
      const r = await rawGet(srv.port, "f");
      expect(r.error?.code).toBe(ErrorCode.NotDefined);
      expect(lines.some((l) => l.includes("disk on fire"))).toBe(true);
      broken = false;
      const r2 = await rawGet(srv.port, "f");
      expect(r2.data).toEqual(pattern(100));
    } finally {
      await srv.stop();
    }
  });

  test("binding a port already in use rejects", async () => {
    const a = await startTftpServer({ port: 0, address: "127.0.0.1" }, memoryBootFiles({}), () => {});
    try {
      await expect(startTftpServer({ port: a.port, address: "127.0.0.1" }, memoryBootFiles({}), () => {})).rejects.toThrow();
    } finally {
      await a.stop();
    }
  });
});
