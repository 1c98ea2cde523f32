import { describe, expect, test } from "bun:test";
import { mergeAccounts, parseAccounts, planAlignment } from "../../../src/domain/accounts";

const p = (s: string) => parseAccounts(s.replace(/ /g, "\n"));

describe("syncuser's rule", () => {
  test("accounts in both take the head node's ids; the head's regular accounts are added, its system-only ones never", () => {
    const plan = planAlignment("passwd", p("root:x:0:0 munge:x:101:101 debian:x:1500:1500"), p("root:x:0:0 munge:x:991:991 sshd:x:105:65534 alice:x:1000:1000 nobody:x:65534:65534"));
    expect([...plan.moves]).toEqual([["munge", { from: 101, to: 991 }]]);
    expect(plan.added.map((a) => a.name)).toEqual(["alice"]);
    expect(plan.conflicts).toEqual([]);
  });
  test("a move into an id another image account keeps is left out with the fix; a chain of moves is not a conflict", () => {
    // _ssh wants 101, munge has it and stays (the head has no munge).
    const a = planAlignment("group", p("munge:x:101: _ssh:x:104:"), p("_ssh:x:101:"), "deb12");
    expect(a.moves.size).toBe(0);
    expect(a.conflicts).toEqual([
      "syncuser: group '_ssh' keeps the image's id (the head node's is 101, which the image's 'munge' has); to align it, give 'munge' the head node's id or a free one (drover image exec deb12 -- groupmod -g NEWID munge), then drover image syncuser deb12",
    ]);
    // munge leaves 101 for the head's 991: _ssh can take 101.
    const b = planAlignment("group", p("munge:x:101: _ssh:x:104:"), p("_ssh:x:101: munge:x:991:"));
    expect([...b.moves.values()]).toEqual([{ from: 101, to: 991 }, { from: 104, to: 101 }]);
    expect(b.conflicts).toEqual([]);
  });
  test("a head regular user whose id an image account has is not added, with the fix", () => {
    const plan = planAlignment("passwd", p("debian:x:1000:1000"), p("alice:x:1000:1000"), "img");
    expect(plan.added).toEqual([]);
    expect(plan.conflicts[0]).toContain("the head node's user 'alice' (id 1000) is not added: the image's 'debian' has that id; give 'debian' another id (drover image exec img -- usermod -u NEWID debian)");
  });
  test("passwd follows the groups' alignment for primary groups", () => {
    const r = mergeAccounts("passwd", "munge:x:101:101::/:/bin/false\n", "munge:x:991:991::/:/bin/false\n", { groups: { image: "munge:x:101:\n", head: "munge:x:991:\n" } });
    expect(r).toEqual({ text: "munge:x:991:991::/:/bin/false", conflicts: [] });
  });
});
