// The pure transfer state machine (src/protocols/tftp/transfer.ts), driven with a fake clock: every time is
// a number the test chooses, nothing waits, nothing touches a socket.
import { describe, expect, test } from "bun:test";
import { decode, encodeAck, encodeData, encodeError, encodeOack, encodeRequest, negotiate, type Request } from "../../../src/protocols/tftp/codec";
import {
  blockLength,
  createTransfer,
  onAck,
  onPacket,
  onTimer,
  type Step,
  start,
  type Transfer,
  type TransferConfig,
  UNPROVEN_BYTES,
  UNPROVEN_RETRIES,
} from "../../../src/protocols/tftp/transfer";

const OACK = encodeOack({ blksize: "1468" });

function make(over: Partial<TransferConfig> = {}): Transfer {
  return createTransfer({ size: 5000, blksize: 512, windowsize: 1, timeoutMs: 1000, retries: 5, ...over });
}

/** What a step puts on the wire: "OACK", "ERROR n", or the 16-bit block numbers of the DATA sent. */
function wire(s: Step): (number | string)[] {
  const out: (number | string)[] = [];
  if (s.packet) {
    const d = decode(s.packet);
    if (!d.ok) throw new Error(d.reason);
    out.push(d.packet.op === "ERROR" ? `ERROR ${d.packet.code}` : d.packet.op);
  }
  for (let b = s.first; b <= s.last; b++) out.push(b & 0xffff);
  return out;
}

/** An ACK as the client sends it, through the datagram entry point (at an offset, as the data plane has it). */
function ack(t: Transfer, block: number, now: number): Step {
  const buf = new Uint8Array(16);
  buf.set(encodeAck(block), 8);
  return onPacket(t, buf, 8, 4, now);
}

describe("lock-step transfer (RFC 1350)", () => {
  test("sends block 1, then one block per ACK; the last ACK ends it with every byte sent once", () => {
    const t = make();
    expect(wire(start(t, 0))).toEqual([1]);
    expect(t.deadline).toBe(1000);
    for (let b = 1; b < 10; b++) expect(wire(ack(t, b, b))).toEqual([b + 1]);
    const last = ack(t, 10, 10);
    expect(wire(last)).toEqual([]);
    expect(last.done).toEqual({ ok: true, timedOut: false });
    expect(t.bytes).toBe(5000);
    expect(t.counters).toEqual({ dataPackets: 10, retransmits: 0, bytesSent: 5000 + 10 * 4 });
  });

  test("a file whose size is a multiple of blksize ends with an empty block", () => {
    const t = make({ size: 1024 });
    expect(t.total).toBe(3);
    expect(blockLength(t.cfg, 3)).toBe(0);
    start(t, 0);
    ack(t, 1, 1);
    expect(wire(ack(t, 2, 2))).toEqual([3]);
    expect(ack(t, 3, 3).done?.ok).toBe(true);
    expect(t.counters.bytesSent).toBe(512 + 4 + 512 + 4 + 4);
  });

  test("an empty file is one empty DATA block", () => {
    const t = make({ size: 0 });
    expect(wire(start(t, 0))).toEqual([1]);
    expect(blockLength(t.cfg, 1)).toBe(0);
    expect(ack(t, 1, 1).done?.ok).toBe(true);
  });

  test("RFC 2348 blksize: blocks of blksize, the last one short", () => {
    const t = make({ blksize: 1468 });
    expect(t.total).toBe(4);
    expect([1, 2, 3, 4].map((b) => blockLength(t.cfg, b))).toEqual([1468, 1468, 1468, 5000 - 3 * 1468]);
    start(t, 0);
    for (let b = 1; b <= 3; b++) ack(t, b, b);
    expect(ack(t, 4, 4).done?.ok).toBe(true);
    expect(t.counters.bytesSent).toBe(5000 + 4 * 4);
  });
});

describe("loss and retransmission (fake clock)", () => {
  test("a lost DATA block is sent again every timeoutMs, at most `retries` times, then the transfer times out", () => {
    const t = make();
    start(t, 0);
    expect(wire(ack(t, 1, 10))).toEqual([2]); // the peer is proven: the full retry budget applies
    expect(t.deadline).toBe(1010);
    expect(wire(onTimer(t, 1009))).toEqual([]); // not due yet
    const resends: number[] = [];
    let now = 1010;
    for (let i = 0; i < 5; i++) {
      expect(wire(onTimer(t, now))).toEqual([2]);
      resends.push(now);
      now = t.deadline;
    }
    // The same interval each time (the timeout a client negotiates is the one it expects): no backoff.
    expect(resends).toEqual([1010, 2010, 3010, 4010, 5010]);
    const end = onTimer(t, now);
    expect(wire(end)).toEqual([]);
    expect(end.done).toEqual({ ok: false, timedOut: true, reason: "no ACK after 5 retransmissions" });
    expect(t.counters.retransmits).toBe(5);
    expect(t.counters.dataPackets).toBe(2 + 5);
    expect(t.bytes).toBe(1024); // resent bytes are not counted twice
  });

  test("a lost ACK: the timer resends the block, the client ACKs it again, and the transfer goes on with a fresh retry budget", () => {
    const t = make({ retries: 2 });
    start(t, 0);
    ack(t, 1, 0);
    // ACK 2 is lost on the way: the server resends block 2 (twice), the client ACKs again.
    expect(wire(onTimer(t, 1000))).toEqual([2]);
    expect(wire(onTimer(t, 2000))).toEqual([2]);
    expect(wire(ack(t, 2, 2100))).toEqual([3]);
    expect(t.retries).toBe(0);
    expect(wire(onTimer(t, 3100))).toEqual([3]);
    expect(wire(onTimer(t, 4100))).toEqual([3]);
    expect(onTimer(t, 5100).done?.timedOut).toBe(true);
  });

  test("a duplicate ACK sends nothing and does not move the timer (no Sorcerer's Apprentice)", () => {
    const t = make();
    start(t, 0);
    expect(wire(ack(t, 1, 100))).toEqual([2]);
    expect(t.deadline).toBe(1100);
    const dup = ack(t, 1, 500);
    expect(wire(dup)).toEqual([]);
    expect(dup.done).toBeUndefined();
    expect(t.deadline).toBe(1100);
    expect(wire(ack(t, 2, 600))).toEqual([3]);
    expect(t.counters.dataPackets).toBe(3);
  });

  test("an ACK for a block not yet sent is ignored", () => {
    const t = make({ windowsize: 4, oack: OACK });
    start(t, 0);
    onAck(t, 0, 0);
    expect(wire(onAck(t, 9, 1))).toEqual([]);
    expect(t.acked).toBe(0);
  });
});

describe("options (RFC 2347 OACK, RFC 2349 tsize, RFC 7440 windowsize)", () => {
  test("the OACK goes first; only ACK 0 answers it; then the first window", () => {
    const t = make({ windowsize: 4, oack: OACK });
    expect(wire(start(t, 0))).toEqual(["OACK"]);
    expect(wire(onAck(t, 1, 10))).toEqual([]);
    expect(wire(onAck(t, 0, 20))).toEqual([1, 2, 3, 4]);
  });

  test("tsize: the OACK carries the size of the bytes actually sent (netascii-converted), and the transfer sends exactly that many", () => {
    const req = decode(encodeRequest("RRQ", "f", "netascii", { tsize: "0", blksize: "100" }));
    if (!req.ok) throw new Error(req.reason);
    const size = 250;
    const neg = negotiate(req.packet as Request, size, { maxBlksize: 1468, maxWindowsize: 64, defaultTimeoutMs: 1000 });
    expect(Object.fromEntries(neg.oack!)).toEqual({ tsize: "250", blksize: "100" });
    const t = createTransfer({ size, blksize: neg.blksize, windowsize: neg.windowsize, timeoutMs: neg.timeoutMs, retries: 5, oack: encodeOack(neg.oack!) });
    start(t, 0);
    onAck(t, 0, 0);
    onAck(t, 1, 0);
    onAck(t, 2, 0);
    expect(onAck(t, 3, 0).done?.ok).toBe(true);
    expect(t.bytes).toBe(250);
  });

  test("windowsize 4: a partial ACK makes the next window start right after it", () => {
    const t = make({ windowsize: 4, oack: OACK });
    start(t, 0);
    expect(wire(onAck(t, 0, 0))).toEqual([1, 2, 3, 4]);
    expect(wire(ack(t, 2, 10))).toEqual([3, 4, 5, 6]); // "blocks 3 and 4 never arrived"
    expect(wire(ack(t, 6, 20))).toEqual([7, 8, 9, 10]);
    // Window lost whole: the timer resends it from the block after the last ACK.
    expect(wire(onTimer(t, 1020))).toEqual([7, 8, 9, 10]);
    expect(ack(t, 10, 1030).done?.ok).toBe(true);
    expect(t.bytes).toBe(5000);
  });

  test("the window never runs past the end of the file", () => {
    const t = make({ size: 3 * 512 + 1, windowsize: 16, oack: OACK });
    start(t, 0);
    expect(wire(onAck(t, 0, 0))).toEqual([1, 2, 3, 4]);
    expect(ack(t, 4, 1).done?.ok).toBe(true);
  });

  test("an unproven peer gets a first window of at most 8 KiB; its first ACK of data opens the negotiated window", () => {
    const t = make({ size: 1_000_000, blksize: 1468, windowsize: 64, oack: OACK });
    start(t, 0);
    expect(wire(onAck(t, 0, 0))).toEqual([1, 2, 3, 4, 5]);
    expect(5 * 1472).toBeLessThanOrEqual(UNPROVEN_BYTES);
    const next = wire(ack(t, 5, 10));
    expect(next.length).toBe(64);
    expect(next[0]).toBe(6);
    // A tiny blksize still gets at least one block, and a firmware's 4 × 1468 window fits whole.
    expect(make({ blksize: 65464, windowsize: 8 }).cwnd).toBe(1);
    expect(make({ blksize: 1468, windowsize: 4 }).cwnd).toBe(4);
  });
});

describe("block numbers roll over past 65535 (files over 32 MB at blksize 512)", () => {
  test("a 33 MB file at blksize 512 and windowsize 1: every block, the wire number wrapping to 0", () => {
    const size = 33 * 1024 * 1024 + 7;
    const t = make({ size, blksize: 512 });
    const seen: number[] = [];
    let s = start(t, 0);
    let now = 0;
    while (!s.done) {
      const w = wire(s);
      if (w.length !== 1) throw new Error(`expected one block, got ${w}`);
      const b = w[0] as number;
      if (seen.length < 3 || b >= 65534 || b <= 1) seen.push(b);
      s = ack(t, b, ++now);
    }
    expect(s.done.ok).toBe(true);
    expect(t.total).toBe(Math.floor(size / 512) + 1);
    expect(t.bytes).toBe(size);
    expect(seen).toContain(65535);
    expect(seen.slice(seen.indexOf(65535), seen.indexOf(65535) + 3)).toEqual([65535, 0, 1]);
  });

  test("after the wrap, a late ACK from before it is ignored, not read as a jump forward", () => {
    const t = make({ size: 512 * 70_000, blksize: 512, windowsize: 4, oack: OACK });
    start(t, 0);
    let s = onAck(t, 0, 0);
    while (t.acked < 65536) s = ack(t, t.sent & 0xffff, 1);
    expect(s.done).toBeUndefined();
    const acked = t.acked;
    expect(wire(ack(t, 65535, 2))).toEqual([]); // a duplicate from before the wrap
    expect(t.acked).toBe(acked);
  });
});

describe("the amplification limits (docs/security.md)", () => {
  test("an OACK nobody acknowledges is sent 1 + UNPROVEN_RETRIES times, then the transfer ends", () => {
    const t = make({ oack: OACK });
    const sent: (number | string)[] = wire(start(t, 0));
    let s: Step;
    let now = 0;
    do {
      now = t.deadline;
      s = onTimer(t, now);
      sent.push(...wire(s));
    } while (!s.done);
    expect(sent).toEqual(Array(1 + UNPROVEN_RETRIES).fill("OACK"));
    expect(s.done).toEqual({ ok: false, timedOut: true, reason: "no ACK after 2 retransmissions (the client never acknowledged a block)" });
  });

  test("a blind ACK 0 (spoofed RRQ, blksize 65464 asked, 1468 granted, windowsize 64) gets at most 3 × 8 KiB", () => {
    const t = make({ size: 8 * 1024 * 1024, blksize: 1468, windowsize: 64, retries: 5, oack: OACK });
    start(t, 0);
    let s = onAck(t, 0, 0);
    let packets = wire(s).length;
    while (!s.done) {
      s = onTimer(t, t.deadline);
      packets += wire(s).length;
    }
    expect(packets).toBe(15);
    expect(t.counters.bytesSent - OACK.length).toBeLessThanOrEqual(3 * UNPROVEN_BYTES);
  });
});

describe("other packets from the peer", () => {
  test("a client ERROR ends the transfer with its message, and nothing is sent", () => {
    const t = make({ oack: OACK });
    start(t, 0);
    const e = encodeError(8, "no thanks");
    const s = onPacket(t, e, 0, e.length, 1);
    expect(wire(s)).toEqual([]);
    expect(s.done).toEqual({ ok: false, timedOut: false, reason: "client sent error 8: no thanks" });
  });

  test("DATA during a read transfer is answered with ERROR 4 and ends it", () => {
    const t = make();
    start(t, 0);
    const d = encodeData(1, new Uint8Array(3));
    const s = onPacket(t, d, 0, d.length, 1);
    expect(wire(s)).toEqual(["ERROR 4"]);
    expect(s.done?.reason).toBe("client sent DATA during a read transfer");
  });

  test("an unreadable packet is ignored (the timer resends)", () => {
    const t = make();
    start(t, 0);
    const junk = new Uint8Array([0, 9, 1]);
    expect(wire(onPacket(t, junk, 0, junk.length, 1))).toEqual([]);
    expect(wire(onPacket(t, junk, 0, 1, 1))).toEqual([]);
    expect(wire(onTimer(t, 1000))).toEqual([1]);
  });

  test("once ended, nothing moves it", () => {
    const t = make({ size: 10 });
    start(t, 0);
    expect(ack(t, 1, 1).done?.ok).toBe(true);
    expect(wire(ack(t, 1, 2))).toEqual([]);
    expect(wire(onTimer(t, 99_999))).toEqual([]);
    expect(onTimer(t, 99_999).done).toBeUndefined(); // the end is reported once
  });
});
