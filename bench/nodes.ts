// Node store at cluster scale, with the compiled executable as an admin runs it:
//   node add n[00001-10000] …   and   node list -a --json over 10,000 nodes.
// Target (issue 2): each ≤ 2 s on a 2-core machine. Median of 3 runs, each on a fresh data dir.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drover, median, timed } from "./_util";

const runs = 3;
const add: number[] = [];
const listAll: number[] = [];
const list: number[] = [];
let rssAdd = 0;
let rssList = 0;
for (let i = 0; i < runs; i++) {
  const dir = mkdtempSync(join(tmpdir(), "drover-bench-"));
  try {
    timed([drover, "-d", dir, "profile", "list"]); // first start: schema + default profile, not measured
    const a = timed([drover, "-d", dir, "node", "add", "n[00001-10000]", "--ipaddr", "10.0.0.1/16", "--ipmiaddr", "10.1.0.1/16", "--tagadd", "rack=r1"]);
    add.push(a.ms);
    rssAdd = Math.max(rssAdd, a.maxRssMb);
    const l = timed([drover, "-d", dir, "node", "list", "-a", "--json"]);
    listAll.push(l.ms);
    rssList = Math.max(rssList, l.maxRssMb);
    if (JSON.parse(l.stdout.toString()).length !== 10000) throw new Error("list did not return 10,000 nodes");
    list.push(timed([drover, "-d", dir, "node", "list"]).ms);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const row = (name: string, xs: number[], rss?: number) =>
  console.log(
    `${name.padEnd(40)} median ${(median(xs) / 1000).toFixed(2)} s  (runs: ${xs.map((x) => (x / 1000).toFixed(2)).join(", ")})${rss ? `  peak RSS ${rss.toFixed(0)} MB` : ""}`,
  );
row("node add n[00001-10000] (target ≤ 2 s)", add, rssAdd);
row("node list -a --json, 10k nodes (≤ 2 s)", listAll, rssList);
row("node list, 10k nodes", list);
