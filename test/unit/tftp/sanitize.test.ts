import { describe, expect, test } from "bun:test";
import { MAX_NAME_LENGTH, MAX_SEGMENT_LENGTH, type SanitizeRejection, sanitizeBootPath } from "../../../src/boot/sanitize";

describe("sanitizeBootPath accepts and normalises", () => {
  const cases: [string, string][] = [
    ["undionly.kpxe", "undionly.kpxe"],
    ["/undionly.kpxe", "undionly.kpxe"],
    ["ipxe/snponly.efi", "ipxe/snponly.efi"],
    ["/ipxe//./snponly.efi", "ipxe/snponly.efi"],
    ["a/../b", "b"],
    ["a/b/../../c", "c"],
    ["dir/", "dir"],
    ["/etc/passwd", "etc/passwd"], // inside the boot tree, not the host's
    ["...", "..."],
    ["..foo", "..foo"],
    ["foo..", "foo.."],
    ["ñandú.efi", "ñandú.efi"],
    ["ab:c", "ab:c"],
    ["x/C:", "x/C:"],
  ];
  for (const [raw, want] of cases) {
    test(JSON.stringify(raw), () => {
      expect(sanitizeBootPath(raw)).toEqual({ ok: true, name: want });
    });
  }
});

describe("sanitizeBootPath rejects hostile names", () => {
  const cases: [string, SanitizeRejection][] = [
    ["", "empty"],
    ["/", "empty"],
    [".", "empty"],
    ["./", "empty"],
    ["../etc/passwd", "escapes-root"],
    ["/../etc/passwd", "escapes-root"],
    ["..", "escapes-root"],
    ["a/../../b", "escapes-root"],
    ["a/./../../etc/shadow", "escapes-root"],
    ["../../../../../../../../etc/passwd", "escapes-root"],
    ["//etc/passwd", "absolute"],
    ["///etc/passwd", "absolute"],
    ["C:/Windows/win.ini", "absolute"],
    ["/c:/x", "absolute"],
    ["./C:/x", "absolute"],
    ["a/../C:", "absolute"],
    ["undionly.kpxe\u0000.png", "nul"],
    ["\u0000", "nul"],
    ["..\\..\\etc\\passwd", "backslash"],
    ["\\etc\\passwd", "backslash"],
    ["pxelinux.cfg\\default", "backslash"],
    ["a\nb", "control-character"],
    ["a\rb", "control-character"],
    ["\u001b[31mred", "control-character"],
    ["del\u007f", "control-character"],
    ["c1\u0085", "control-character"],
    ["line\u2028sep", "control-character"],
    ["a".repeat(MAX_NAME_LENGTH + 1), "too-long"],
    [`${"a".repeat(MAX_SEGMENT_LENGTH + 1)}/x`, "too-long"],
  ];
  for (const [raw, reason] of cases) {
    test(JSON.stringify(raw.length > 60 ? `${raw.slice(0, 20)}…(${raw.length})` : raw), () => {
      const r = sanitizeBootPath(raw);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.reason).toBe(reason);
        expect(r.detail.length).toBeGreaterThan(0);
      }
    });
  }

  test("a name of exactly the limits is accepted", () => {
    const seg = "s".repeat(MAX_SEGMENT_LENGTH);
    expect(sanitizeBootPath(seg)).toEqual({ ok: true, name: seg });
  });
});

describe("sanitizeBootPath invariants over random input", () => {
  test("every accepted name is relative, clean and has no .. segment", () => {
    // A deterministic pseudo-random generator so a failure reproduces.
    let seed = 0x2545f491;
    const rnd = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x100000000;
    };
    const alphabet = ["a", "b", ".", "..", "/", "\\", "\u0000", "\n", ":", "C:", "é", "\u0085", "//", "../"];
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      let s = "";
      const n = Math.floor(rnd() * 12);
      for (let j = 0; j < n; j++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      const r = sanitizeBootPath(s);
      if (!r.ok) continue;
      accepted++;
      const segs = r.name.split("/");
      expect(r.name.startsWith("/")).toBe(false);
      expect(segs.every((x) => x !== "" && x !== "." && x !== "..")).toBe(true);
      expect(/[\u0000-\u001f\\]/.test(r.name)).toBe(false);
      // Idempotent: a clean name sanitises to itself.
      expect(sanitizeBootPath(r.name)).toEqual(r);
    }
    expect(accepted).toBeGreaterThan(100);
  });
});
