import { describe, expect, test } from "bun:test";
import { mergeAccounts, parseAccounts, planAlignment } from "../../../src/domain/accounts";

const p = (s: string) => parseAccounts(s.replace(/ /g, "\n"));

describe("syncuser's rule", () => {
  test("accounts in both take the head node's ids; the head's regular accounts are added, its system-only ones never", () => {
    const plan = planAlignment(
      "passwd",
      p("root:x:0:0 munge:x:101:101 debian:x:1500:1500"),
      p("root:x:0:0 munge:x:991:991 sshd:x:105:65534 alice:x:1000:1000 nobody:x:65534:65534"),
    );
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
    expect([...b.moves.values()]).toEqual([
      { from: 101, to: 991 },
      { from: 104, to: 101 },
    ]);
    expect(b.conflicts).toEqual([]);
  });
  test("image syncuser (relocate) moves an image-only system account out of the way to a free system id", () => {
    // A stock Debian image gave 104 to sshd; the head node's munge is 104: sshd moves to 999, munge takes 104.
    const a = planAlignment("passwd", p("munge:x:100:103 sshd:x:104:65534 svc:x:999:999"), p("munge:x:104:107 sshd2:x:998:998"), "deb12", { relocate: true });
    expect(Object.fromEntries(a.moves)).toEqual({ munge: { from: 100, to: 104 }, sshd: { from: 104, to: 997 } });
    expect(a.conflicts).toEqual([]);
    // Without relocate (the overlay, which cannot re-own files) the same is a reported conflict.
    expect(planAlignment("passwd", p("munge:x:100:103 sshd:x:104:65534"), p("munge:x:104:107")).conflicts.length).toBe(1);
    // An image-only regular account is never moved: a true conflict, reported.
    const c = planAlignment("passwd", p("debian:x:1001:1001 slurm:x:976:976"), p("slurm:x:1001:1001"), "deb12", { relocate: true });
    expect(c.moves.size).toBe(0);
    expect(c.conflicts[0]).toContain("user 'slurm' keeps the image's id (the head node's is 1001, which the image's 'debian' has)");
  });
  test("a head regular user whose id an image account has is not added, with the fix", () => {
    const plan = planAlignment("passwd", p("debian:x:1000:1000"), p("alice:x:1000:1000"), "img");
    expect(plan.added).toEqual([]);
    expect(plan.conflicts[0]).toContain(
      "the head node's user 'alice' (id 1000) is not added: the image's 'debian' has that id; give 'debian' another id (drover image exec img -- usermod -u NEWID debian)",
    );
  });
  test("passwd follows the groups' alignment for primary groups", () => {
    const r = mergeAccounts("passwd", "munge:x:101:101::/:/bin/false\n", "munge:x:991:991::/:/bin/false\n", {
      groups: { image: "munge:x:101:\n", head: "munge:x:991:\n" },
    });
    expect(r).toEqual({ text: "munge:x:991:991::/:/bin/false", conflicts: [] });
  });
});
