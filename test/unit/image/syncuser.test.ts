import { expect, test } from "bun:test";
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { syncUsers } from "../../../src/image/syncuser";

// `image syncuser`: aligns what it can, re-owns the files of the ids that changed, and reports (never
// refuses) what it cannot align.
test.skipIf(process.getuid?.() !== 0)("aligns munge and re-owns its files; a conflicting account is reported and left alone", () => {
  const d = mkdtempSync(join(tmpdir(), "drover-syncuser-"));
  try {
    const root = join(d, "rootfs");
    const etc = join(d, "head");
    mkdirSync(join(root, "etc/munge"), { recursive: true });
    mkdirSync(etc);
    writeFileSync(join(root, "etc/passwd"), "root:x:0:0::/root:/bin/sh\nmunge:x:101:101::/:/bin/false\n_ssh:x:104:65534::/:/bin/false\n");
    writeFileSync(join(root, "etc/group"), "root:x:0:\nmunge:x:101:\n_ssh:x:104:\ndeb:x:102:\n");
    writeFileSync(join(root, "etc/munge/munge.key"), "k");
    chownSync(join(root, "etc/munge/munge.key"), 101, 101);
    writeFileSync(join(etc, "passwd"), "root:x:0:0::/root:/bin/sh\nmunge:x:991:991::/:/bin/false\n");
    writeFileSync(join(etc, "group"), "root:x:0:\nmunge:x:991:\n_ssh:x:102:\n");
    const dry = syncUsers(root, etc, { imageName: "deb12", dryRun: true });
    expect(dry.files).toBe(0);
    expect(statSync(join(root, "etc/munge/munge.key")).uid).toBe(101);
    const r = syncUsers(root, etc, { imageName: "deb12" });
    expect(r.changedUsers).toEqual(["munge"]);
    expect(r.changedGroups).toEqual(["munge"]);
    expect(r.conflicts).toEqual([
      "syncuser: group '_ssh' keeps the image's id (the head node's is 102, which the image's 'deb' has); to align it, give 'deb' the head node's id or a free one (drover image exec deb12 -- groupmod -g NEWID deb), then drover image syncuser deb12",
    ]);
    expect(dry.conflicts).toEqual(r.conflicts);
    const st = statSync(join(root, "etc/munge/munge.key"));
    expect([st.uid, st.gid]).toEqual([991, 991]);
    expect(readFileSync(join(root, "etc/group"), "utf8")).toBe("root:x:0:\nmunge:x:991:\n_ssh:x:104:\ndeb:x:102:\n");
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
