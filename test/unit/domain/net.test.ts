import { describe, expect, test } from "bun:test";
import { addToIPv4, isHostname, netmaskToPrefix, normalizeMac, parseAddressWithPrefix, prefixToNetmask } from "../../../src/domain/net";

describe("MAC addresses", () => {
  for (const [input, want] of [
    ["52:54:00:AB:CD:EF", "52:54:00:ab:cd:ef"],
    ["52-54-00-ab-cd-ef", "52:54:00:ab:cd:ef"],
    ["525400abcdef", "52:54:00:ab:cd:ef"],
    ["5254.00ab.cdef", "52:54:00:ab:cd:ef"],
  ])
    test(input!, () => expect(normalizeMac(input!)).toBe(want!));
  for (const bad of ["52:54:00:ab:cd", "zz:54:00:ab:cd:ef", "", "52:54:00:ab:cd:ef:01"]) {
    test(`rejects '${bad}'`, () => expect(() => normalizeMac(bad)).toThrow(/not a MAC address/));
  }
});

describe("IPv4", () => {
  test("address with prefix", () => expect(parseAddressWithPrefix("10.0.0.2/24")).toEqual({ ip: "10.0.0.2", netmask: "255.255.255.0" }));
  test("address alone", () => expect(parseAddressWithPrefix("10.0.0.2")).toEqual({ ip: "10.0.0.2" }));
  for (const bad of ["10.0.0", "10.0.0.256", "10.0.0.2/33", "10.0.0.2/x", "01.0.0.1", "a.b.c.d"]) {
    test(`rejects ${bad}`, () => expect(() => parseAddressWithPrefix(bad)).toThrow());
  }
  test("prefix <-> netmask", () => {
    expect(prefixToNetmask(16)).toBe("255.255.0.0");
    expect(netmaskToPrefix("255.255.252.0")).toBe(22);
    expect(() => netmaskToPrefix("255.0.255.0")).toThrow(/contiguous/);
  });
  test("increment carries across octets and refuses to overflow", () => {
    expect(addToIPv4("10.0.0.250", 10)).toBe("10.0.1.4");
    expect(() => addToIPv4("255.255.255.255", 1)).toThrow(/past/);
  });
});

test("host names", () => {
  expect(isHostname("n001")).toBe(true);
  expect(isHostname("rack1-node01.cluster")).toBe(true);
  for (const bad of ["-n1", "n1-", "n_1", "n 1", "", "a".repeat(64)]) expect(isHostname(bad)).toBe(false);
});
