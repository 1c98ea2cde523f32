import { expect, test } from "bun:test";
import { sqliteLeaseStore } from "../../../src/store/boot-store";
import { openStore } from "../../../src/store/db";
import { tempDir } from "../../helpers/cli";

test("leases persist across a restart; an address moves to its new holder; delete forgets", async () => {
  const t = tempDir();
  try {
    const a = openStore(t.dir);
    const la = sqliteLeaseStore(a.db);
    la.put({ mac: "52:54:00:00:00:01", ip: "10.0.0.11", expiresAt: 1000, node: "n1", hostname: "n1" });
    la.put({ mac: "52:54:00:00:00:02", ip: "10.0.0.12", expiresAt: 2000 });
    la.put({ mac: "52:54:00:00:00:01", ip: "10.0.0.11", expiresAt: 5000, node: "n1", hostname: "n1" }); // renewal
    await la.flush();
    a.close();

    const b = openStore(t.dir);
    const lb = sqliteLeaseStore(b.db);
    expect(lb.get("52:54:00:00:00:01")).toEqual({ mac: "52:54:00:00:00:01", ip: "10.0.0.11", expiresAt: 5000, node: "n1", hostname: "n1" });
    expect(lb.byIp("10.0.0.12")).toEqual({ mac: "52:54:00:00:00:02", ip: "10.0.0.12", expiresAt: 2000 });
    // 10.0.0.12 is given to another MAC: the old holder's lease on it goes.
    lb.put({ mac: "52:54:00:00:00:03", ip: "10.0.0.12", expiresAt: 3000 });
    expect(lb.get("52:54:00:00:00:02")).toBeUndefined();
    expect(lb.byIp("10.0.0.12")?.mac).toBe("52:54:00:00:00:03");
    lb.delete("52:54:00:00:00:01");
    expect(lb.all().map((l) => l.ip)).toEqual(["10.0.0.12"]);
    await lb.flush();
    b.close();
    // What memory said is what the disk says.
    const c = openStore(t.dir);
    expect(sqliteLeaseStore(c.db).all()).toEqual([{ mac: "52:54:00:00:00:03", ip: "10.0.0.12", expiresAt: 3000 }]);
    c.close();
  } finally {
    t.cleanup();
  }
});
