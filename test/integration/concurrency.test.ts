import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { join } from "node:path";
import { drover, tempDir } from "../helpers/cli";

test("two processes each adding 500 nodes at once end with 1000 nodes and an intact database", async () => {
  const t = tempDir();
  try {
    const script = join(import.meta.dir, "../helpers/add-many.ts");
    const run = (prefix: string, subnet: string) => Bun.spawn([process.execPath, script, t.dir, prefix, "500", subnet], { stdout: "pipe", stderr: "pipe" });
    const a = run("a", "10.1");
    const b = run("b", "10.2");
    const [ca, cb] = await Promise.all([a.exited, b.exited]);
    expect({ ca, cb, ea: await new Response(a.stderr).text(), eb: await new Response(b.stderr).text() }).toEqual({ ca: 0, cb: 0, ea: "", eb: "" });
    const list = JSON.parse((await drover(t.dir, "node", "list", "--json")).out) as unknown[];
    expect(list.length).toBe(1000);
    const db = new Database(join(t.dir, "drover.db"), { readonly: true });
    expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    expect(db.query("SELECT count(*) AS n FROM node_addresses").get()).toEqual({ n: 2000 });
    expect(db.query("PRAGMA foreign_key_check").all()).toEqual([]);
    db.close();
  } finally {
    t.cleanup();
  }
}, 240_000);
