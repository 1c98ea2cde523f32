import { describe, expect, test } from "bun:test";
import { decode, encodeAck, encodeData, encodeError, encodeOack, encodeRequest, negotiate, type Request, toNetascii } from "../../../src/protocols/tftp/codec";

const limits = { maxBlksize: 65464, maxWindowsize: 64, defaultTimeoutMs: 1000 };

function req(options: Record<string, string>): Request {
  const d = decode(encodeRequest("RRQ", "f", "octet", options));
  if (!d.ok || d.packet.op !== "RRQ") throw new Error("bad fixture");
  return d.packet;
}

describe("codec round trips", () => {
  test("RRQ with options; option names are case-insensitive, first one wins", () => {
    const d = decode(encodeRequest("RRQ", "/undionly.kpxe", "OCTET" as "octet", { BlkSize: "1468", tsize: "0" }));
    expect(d.ok).toBe(true);
    if (d.ok && d.packet.op === "RRQ") {
      expect(d.packet.filename).toBe("/undionly.kpxe");
      expect(d.packet.mode).toBe("octet");
      expect(Object.fromEntries(d.packet.options)).toEqual({ blksize: "1468", tsize: "0" });
    }
  });
  test("WRQ, DATA, ACK, ERROR, OACK", () => {
    expect(decode(encodeRequest("WRQ", "x")).ok && (decode(encodeRequest("WRQ", "x")) as any).packet.op).toBe("WRQ");
    expect(decode(encodeData(70000, new Uint8Array([1, 2])))).toEqual({
      ok: true,
      packet: { op: "DATA", block: 70000 & 0xffff, data: new Uint8Array([1, 2]) },
    });
    expect(decode(encodeAck(65536))).toEqual({ ok: true, packet: { op: "ACK", block: 0 } });
    expect(decode(encodeError(1, "file not found"))).toEqual({ ok: true, packet: { op: "ERROR", code: 1, message: "file not found" } });
    const o = decode(encodeOack({ blksize: "1468", tsize: "99" }));
    expect(o.ok && o.packet.op === "OACK" && Object.fromEntries(o.packet.options)).toEqual({ blksize: "1468", tsize: "99" });
  });
});

describe("codec rejects malformed input without throwing", () => {
  const bad: [string, number[]][] = [
    ["empty", []],
    ["one byte", [0]],
    ["unknown opcode", [0, 9, 0, 0]],
    ["RRQ without terminator", [0, 1, 65]],
    ["RRQ without mode", [0, 1, 65, 0]],
    ["RRQ with a bad mode", [0, 1, 65, 0, 120, 0]],
    ["RRQ option without value", [0, 1, 65, 0, ...new TextEncoder().encode("octet"), 0, 98, 0]],
    ["RRQ name not UTF-8", [0, 1, 0xff, 0xfe, 0, ...new TextEncoder().encode("octet"), 0]],
    ["short ACK", [0, 4, 1]],
    ["short DATA", [0, 3, 0]],
    ["short ERROR", [0, 5, 0]],
  ];
  for (const [name, bytes] of bad) {
    test(name, () => {
      const d = decode(new Uint8Array(bytes));
      expect(d.ok).toBe(false);
      if (!d.ok) expect(d.reason.length).toBeGreaterThan(0);
    });
  }
  test("random bytes never throw", () => {
    let x = 12345;
    for (let i = 0; i < 20_000; i++) {
      const n = i % 40;
      const b = new Uint8Array(n);
      for (let j = 0; j < n; j++) {
        x = (x * 1103515245 + 12345) >>> 0;
        b[j] = j < 2 ? (x >>> 28) % 8 : x >>> 24;
      }
      expect(() => decode(b)).not.toThrow();
    }
  });
});

describe("negotiate", () => {
  test("no options: defaults and no OACK", () => {
    expect(negotiate(req({}), 10, limits)).toEqual({ blksize: 512, windowsize: 1, timeoutMs: 1000, oack: undefined });
  });
  test("tsize reports the size; values are clamped to the server's limits", () => {
    const n = negotiate(req({ tsize: "0", blksize: "9000", windowsize: "100", timeout: "3" }), 4242, { ...limits, maxBlksize: 1468 });
    expect(n.blksize).toBe(1468);
    expect(n.windowsize).toBe(64);
    expect(n.timeoutMs).toBe(3000);
    expect(Object.fromEntries(n.oack!)).toEqual({ tsize: "4242", blksize: "1468", windowsize: "64", timeout: "3" });
  });
  test("out-of-range and non-numeric values are dropped", () => {
    const n = negotiate(req({ blksize: "4", windowsize: "70000", timeout: "0", tsize: "-1", rollover: "1" }), 1, limits);
    expect(n.oack).toBeUndefined();
    expect(n.blksize).toBe(512);
  });
});

test("netascii", () => {
  expect([...toNetascii(new Uint8Array([97, 10, 13, 98]))]).toEqual([97, 13, 10, 13, 0, 98]);
  const plain = new Uint8Array([1, 2, 3]);
  expect(toNetascii(plain)).toBe(plain);
});
