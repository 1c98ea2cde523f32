import { expect, test } from "bun:test";
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { syncUsers } from "../../../src/image/syncuser";

// `image syncuser`: aligns what it can, re-owns the files of the ids that changed, and reports (never
// refuses) what it cannot align.
test.skipIf(process.getuid?.() !== 0)("aligns munge and re-owns its files; an image-only system group in the way moves to a free id, its files follow", () => {
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
    writeFileSync(join(root, "etc/deb-owned"), "d");
    chownSync(join(root, "etc/deb-owned"), 0, 102);
    writeFileSync(join(etc, "passwd"), "root:x:0:0::/root:/bin/sh\nmunge:x:991:991::/:/bin/false\n");
    writeFileSync(join(etc, "group"), "root:x:0:\nmunge:x:991:\n_ssh:x:102:\n");
    const dry = syncUsers(root, etc, { imageName: "deb12", dryRun: true });
    expect(dry.files).toBe(0);
    expect(statSync(join(root, "etc/munge/munge.key")).uid).toBe(101);
    const r = syncUsers(root, etc, { imageName: "deb12" });
    expect(r.changedUsers).toEqual(["munge"]);
    // _ssh takes the head's 102: the image-only system group deb there moves to a free system id (999).
    expect(r.changedGroups).toEqual(["munge", "_ssh", "deb"]);
    expect(r.conflicts).toEqual([]);
    expect(statSync(join(root, "etc/deb-owned")).gid).toBe(999);
    expect(dry.conflicts).toEqual(r.conflicts);
    const st = statSync(join(root, "etc/munge/munge.key"));
    expect([st.uid, st.gid]).toEqual([991, 991]);
    expect(readFileSync(join(root, "etc/group"), "utf8")).toBe("root:x:0:\nmunge:x:991:\n_ssh:x:102:\ndeb:x:999:\n");
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
