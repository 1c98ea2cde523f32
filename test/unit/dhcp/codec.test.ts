import { describe, expect, test } from "bun:test";
import { HEADER_LEN, MAGIC_COOKIE, decode, encode, hexOf } from "../../../src/protocols/dhcp/codec";
import { Opt, decapsulate, dump, encapsulate, str, u8 } from "../../../src/protocols/dhcp/options";
import { UUID, request } from "./fixtures";

function ok(buf: Uint8Array) {
  const r = decode(buf);
  if (!r.ok) throw new Error(`rejected: ${r.reason} ${r.detail}`);
  return r.packet;
}

/** A raw message: 240-byte header with cookie, then the given option bytes. */
function raw(optionBytes: number[], patch: (b: Uint8Array) => void = () => {}) {
  const b = new Uint8Array(HEADER_LEN + optionBytes.length);
  b[0] = 1;
  b[1] = 1;
  b[2] = 6;
  new DataView(b.buffer).setUint32(236, MAGIC_COOKIE);
  b.set(optionBytes, HEADER_LEN);
  patch(b);
  return b;
}

describe("codec round trip", () => {
  test("every field and option survives encode → decode", () => {
    const p = request({
      arch: 7,
      vendorClass: "PXEClient:Arch:00007:UNDI:003016",
      uuid: UUID,
      giaddr: "10.5.0.1",
      relayInfo: encapsulate([[1, str("port7")]]),
      ciaddr: "1.2.3.4",
    });
    p.sname = "srv";
    p.file = "x.efi";
    const back = ok(encode(p));
    expect(back).toEqual(p);
    expect(dump(back)).toBe(dump(p));
  });

  test("replies are padded to the 300-byte BOOTP minimum and end with End", () => {
    const b = encode(request());
    expect(b.length).toBe(300);
    const last = b.lastIndexOf(255);
    expect(b.subarray(last + 1).every((x) => x === 0)).toBe(true);
  });

  test("option 82 is written last even when set first", () => {
    const p = request();
    const o = new Map<number, Uint8Array>([[82, Uint8Array.of(1, 1, 9)], ...p.options]);
    const b = encode({ ...p, options: o });
    const codes = [...ok(b).options.keys()];
    expect(codes.at(-1)).toBe(82);
  });

  test("values over 255 bytes are split and joined again (RFC 3396)", () => {
    const long = new Uint8Array(600).map((_, i) => i & 255);
    const p = request();
    p.options.set(Opt.VendorSpecific, long);
    const b = encode(p);
    expect(ok(b).options.get(Opt.VendorSpecific)).toEqual(long);
  });

  test("Pad bytes between options are skipped one at a time (the dhcp package skips two)", () => {
    const p = ok(raw([0, 53, 1, 1, 0, 0, 61, 7, 1, 0x52, 0x54, 0, 1, 2, 3, 255]));
    expect(p.options.get(53)).toEqual(u8(1));
    expect(hexOf(p.options.get(61)!)).toBe("01525400010203");
  });

  test("unknown options, e.g. 93/94/97/175, are kept raw", () => {
    const p = ok(raw([53, 1, 1, 93, 2, 0, 11, 150, 3, 1, 2, 3, 175, 3, 176, 1, 1, 255]));
    expect([...p.options.keys()]).toEqual([53, 93, 150, 175]);
    expect(decapsulate(p.options.get(175)!)).toEqual([[176, Uint8Array.of(1)]]);
  });

  test("a missing End option is tolerated when the last option ends at the end of the packet", () => {
    expect(ok(raw([53, 1, 3])).options.get(53)).toEqual(u8(3));
  });

  test("option overload (52) reads options from file and sname", () => {
    const b = raw([52, 1, 3, 53, 1, 1, 255], (b) => {
      b.set([67, 4, ...str("a.ef"), 255], 108);
      b.set([12, 2, ...str("hn"), 255], 44);
    });
    const p = ok(b);
    expect(p.file).toBe("");
    expect(p.sname).toBe("");
    expect(new TextDecoder().decode(p.options.get(67))).toBe("a.ef");
    expect(new TextDecoder().decode(p.options.get(12))).toBe("hn");
  });

  test("short packets from 240 bytes up decode (the dhcp package throws below 230)", () => {
    expect(ok(raw([])).options.size).toBe(0);
  });
});

describe("codec rejections", () => {
  const cases: Array<[string, Uint8Array, string]> = [
    ["empty", new Uint8Array(0), "truncated"],
    ["header cut in the middle", raw([53, 1, 1, 255]).subarray(0, 200), "truncated"],
    ["cookie missing", raw([53, 1, 1]).subarray(0, 239), "truncated"],
    ["jumbo", new Uint8Array(20000), "oversize"],
    ["op 7", raw([53, 1, 1, 255], (b) => (b[0] = 7)), "bad-op"],
    ["hlen 200", raw([53, 1, 1, 255], (b) => (b[2] = 200)), "bad-hlen"],
    ["wrong cookie", raw([53, 1, 1, 255], (b) => (b[239] = 0)), "bad-cookie"],
    ["length byte missing", raw([53, 1, 1, 60]), "option-overrun"],
    ["length lies", raw([53, 1, 1, 60, 200, 65, 66]), "option-overrun"],
    ["length lies in the file field", raw([52, 1, 1, 255], (b) => b.set([67, 100], 220)), "option-overrun"],
    ["overload value 9", raw([52, 1, 9, 255]), "bad-overload"],
    ["overload inside the file field", raw([52, 1, 1, 255], (b) => b.set([52, 1, 1, 255], 108)), "bad-overload"],
  ];
  for (const [name, buf, reason] of cases) {
    test(`${name} → ${reason}`, () => {
      const r = decode(buf);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.reason).toBe(reason as never);
        expect(r.detail.length).toBeGreaterThan(0);
      }
    });
  }

  test("100,000 mutated packets: decode never throws, and accepted ones re-encode", () => {
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const seeds = [
      encode(request({ arch: 0, vendorClass: "PXEClient", uuid: UUID })),
      encode(request({ userClass: "iPXE", giaddr: "10.5.0.1", relayInfo: Uint8Array.of(1, 2, 3, 4) })),
    ];
    const reasons: Record<string, number> = {};
    let accepted = 0;
    for (let i = 0; i < 100_000; i++) {
      let b = seeds[i & 1]!.slice();
      switch (rnd() % 5) {
        case 0: // bit flips
          for (let k = 1 + (rnd() % 8); k > 0; k--) b[rnd() % b.length]! ^= 1 << (rnd() % 8);
          break;
        case 1: // truncation
          b = b.subarray(0, rnd() % b.length);
          break;
        case 2: {
          // option-length lies
          const at = HEADER_LEN + (rnd() % 40);
          b[at + 1] = rnd() & 255;
          break;
        }
        case 3: // random bytes of random length, sometimes with a valid cookie
          b = new Uint8Array(rnd() % 700).map(() => rnd() & 255);
          if (b.length >= 240 && rnd() % 2) new DataView(b.buffer).setUint32(236, MAGIC_COOKIE);
          break;
        default: // garbage options after a valid header
          b.set(
            new Uint8Array(b.length - HEADER_LEN).map(() => rnd() & 255),
            HEADER_LEN,
          );
      }
      const r = decode(b);
      if (r.ok) {
        accepted++;
        expect(() => dump(r.packet)).not.toThrow();
        // encode may refuse an over-long sname/file (binary junk); it must not crash otherwise.
        try {
          decode(encode(r.packet));
        } catch (e) {
          expect(String(e)).toContain("does not fit");
        }
      } else reasons[r.reason] = (reasons[r.reason] ?? 0) + 1;
    }
    expect(accepted).toBeGreaterThan(1000);
    expect(Object.keys(reasons).sort()).toEqual(expect.arrayContaining(["bad-cookie", "bad-op", "option-overrun", "truncated"]));
  });
});
