import { describe, expect, test } from "bun:test";
import { compressHostlist, expandHostlist, expandHostlists, matchNames } from "../../../src/domain/hostlist";

describe("expandHostlist", () => {
  const cases: [string, string[]][] = [
    ["n1", ["n1"]],
    ["n[01-03]", ["n01", "n02", "n03"]],
    ["n[01-03,12],m1", ["n01", "n02", "n03", "n12", "m1"]],
    ["n[001-002]", ["n001", "n002"]],
    ["n[8-11]", ["n8", "n9", "n10", "n11"]],
    ["r[1-2]n[1-2]", ["r1n1", "r1n2", "r2n1", "r2n2"]],
    ["gpu[1-2]-ib", ["gpu1-ib", "gpu2-ib"]],
  ];
  for (const [spec, want] of cases) test(spec, () => expect(expandHostlist(spec)).toEqual(want));

  const bad: [string, RegExp][] = [
    ["n[1-", /without '\]'/],
    ["n1]", /without '\['/],
    ["n[a-b]", /not a number/],
    ["n[5-1]", /backwards/],
    ["n[1-99999999]", /too large|more than|at most 100,000/],
  ];
  for (const [spec, msg] of bad) test(`rejects ${spec}`, () => expect(() => expandHostlist(spec)).toThrow(msg));

  test("several arguments are merged without duplicates", () => {
    expect(expandHostlists(["n[1-3]", "n2,n4"])).toEqual(["n1", "n2", "n3", "n4"]);
  });
});

describe("matchNames", () => {
  const all = ["n01", "n02", "n03", "n10", "gpu1"];
  test("hostlist", () => expect(matchNames(all, ["n[01-02]"])).toEqual(["n01", "n02"]));
  test("glob", () => expect(matchNames(all, ["n0*"])).toEqual(["n01", "n02", "n03"]));
  test("names that do not exist match nothing", () => expect(matchNames(all, ["x1"])).toEqual([]));
  test("no pattern matches all", () => expect(matchNames(all, [])).toEqual(all));
});

test("compressHostlist round-trips", () => {
  expect(compressHostlist(["n01", "n02", "n03", "n05", "gpu1"])).toBe("n[01-03,05],gpu1");
  expect(expandHostlist(compressHostlist(["n01", "n02", "n03", "n05"]))).toEqual(["n01", "n02", "n03", "n05"]);
});
