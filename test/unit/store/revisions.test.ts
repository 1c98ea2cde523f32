import { expect, test } from "bun:test";
import { openStore } from "../../../src/store/db";
import { sqliteNodeStore } from "../../../src/store/node-store";
import { tempDir } from "../../helpers/cli";

// The change counters a reader uses to read only what was written since its last look (the overlay
// snapshot): every write of nodes bumps `nodes` and stamps the rows it wrote, deletions and profile
// writes bump their own counters, and another connection (another drover process) sees all of it.

const conf = (tag: string) => ({ profiles: [], tags: { t: tag } });
const put = (names: string[], tag: string) => names.map((name) => ({ name, conf: conf(tag), addresses: [] }));

test("writes bump the counters; the rows written since a revision are found by it, even from another process", () => {
  const t = tempDir();
  try {
    const sa = openStore(t.dir);
    const sb = openStore(t.dir); // another process on the same data dir
    const a = sqliteNodeStore(sa.db);
    const b = sqliteNodeStore(sb.db);
    const r0 = a.read((tx) => tx.revision());
    a.write((tx) => tx.putNodes(put(["n1", "n2", "n3"], "a")));
    const r1 = b.read((tx) => tx.revision());
    expect(r1.nodes).toBeGreaterThan(r0.nodes);
    expect(b.read((tx) => tx.nodesWrittenSince(r0.nodes)).sort()).toEqual(["n1", "n2", "n3"]);
    expect(b.read((tx) => tx.nodesWrittenSince(r1.nodes))).toEqual([]);

    // The same document length written twice in the same millisecond is still two changes.
    b.write((tx) => tx.putNodes(put(["n2"], "b")));
    b.write((tx) => tx.putNodes(put(["n2"], "c")));
    expect(a.read((tx) => tx.nodesWrittenSince(r1.nodes))).toEqual(["n2"]);
    expect(a.read((tx) => tx.nodes(["n2"])).get("n2")?.tags).toEqual({ t: "c" });

    const r2 = a.read((tx) => tx.revision());
    a.write((tx) => tx.deleteNodes(["n3"]));
    const r3 = b.read((tx) => tx.revision());
    expect(r3.nodeDeletes).toBeGreaterThan(r2.nodeDeletes);
    expect(r3.profiles).toBe(r2.profiles);
    b.write((tx) => tx.putProfile("rack", { tags: { rack: "r1" } }));
    expect(a.read((tx) => tx.revision()).profiles).toBeGreaterThan(r3.profiles);
    const r4 = a.read((tx) => tx.revision());
    a.write((tx) => tx.deleteProfile("rack"));
    expect(b.read((tx) => tx.revision()).profiles).toBeGreaterThan(r4.profiles);
    sa.close();
    sb.close();
  } finally {
    t.cleanup();
  }
});
