import { chmodSync, existsSync, lchownSync, lstatSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveIn } from "./fspath";
import { getXattr, setXattr } from "./native";
import { type Account, parseAccounts as parse, planAlignment } from "../domain/accounts";

/**
 * The image's users and groups as `image syncuser` would change them (domain/accounts.ts has the rule):
 * accounts present in both take the head node's ids (an image-only system account in the way moves to a free
 * system id), files owned by the old ids follow. Conflicts are left
 * as they are and reported, never refused: the rest is still aligned.
 */
function plan(
  kind: "passwd" | "group",
  image: Account[],
  host: Account[],
  imageName: string,
): { map: Map<number, number>; changed: string[]; conflicts: string[] } {
  const p = planAlignment(kind, image, host, imageName, { relocate: true });
  const map = new Map<number, number>();
  for (const m of p.moves.values()) map.set(m.from, m.to);
  return { map, changed: [...p.moves.keys()], conflicts: p.conflicts };
}

export interface SyncResult {
  changedUsers: string[];
  changedGroups: string[];
  /** Accounts left alone, with the command that fixes each. */
  conflicts: string[];
  /** Files and directories re-owned. */
  files: number;
}

/**
 * Gives the image's users and groups the head node's UIDs/GIDs and re-owns the files that had the old ones.
 * `dryRun` only plans (what `image build` and `overlay lint` report).
 */
export function syncUsers(rootfs: string, hostEtc: string, opts: { imageName?: string; dryRun?: boolean } = {}): SyncResult {
  const read = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : "");
  const passwdPath = resolveIn(rootfs, "etc/passwd", true);
  const groupPath = resolveIn(rootfs, "etc/group", true);
  const iu = parse(read(passwdPath));
  const ig = parse(read(groupPath));
  const name = opts.imageName ?? "IMAGE";
  const users = plan("passwd", iu, parse(read(join(hostEtc, "passwd"))), name);
  const groups = plan("group", ig, parse(read(join(hostEtc, "group"))), name);
  const uidMap = users.map;
  const gidMap = groups.map;
  const changedUsers = users.changed;
  const changedGroups = groups.changed;
  const conflicts = [...users.conflicts, ...groups.conflicts];
  if ((!uidMap.size && !gidMap.size) || opts.dryRun) return { changedUsers, changedGroups, conflicts, files: 0 };
  const rewrite = (path: string, text: string, f: (fields: string[]) => void) => {
    const out = text
      .split("\n")
      .map((l) => {
        if (!l || l.startsWith("#")) return l;
        const fields = l.split(":");
        if (fields.length < 3) return l;
        f(fields);
        return fields.join(":");
      })
      .join("\n");
    writeFileSync(path, out);
  };
  if (uidMap.size || gidMap.size)
    rewrite(passwdPath, read(passwdPath), (f) => {
      const u = Number(f[2]);
      const g = Number(f[3]);
      if (uidMap.has(u)) f[2] = String(uidMap.get(u));
      if (gidMap.has(g)) f[3] = String(gidMap.get(g));
    });
  if (gidMap.size)
    rewrite(groupPath, read(groupPath), (f) => {
      const g = Number(f[2]);
      if (gidMap.has(g)) f[2] = String(gidMap.get(g));
    });
  let files = 0;
  const walk = (p: string) => {
    const st = lstatSync(p);
    const u = uidMap.get(st.uid);
    const g = gidMap.get(st.gid);
    if (u !== undefined || g !== undefined) {
      // chown clears setuid/setgid and file capabilities: keep both.
      const cap = st.isFile() ? getXattr(p, "security.capability") : undefined;
      lchownSync(p, u ?? st.uid, g ?? st.gid);
      if (!st.isSymbolicLink()) chmodSync(p, st.mode & 0o7777);
      if (cap) setXattr(p, "security.capability", cap);
      files++;
    }
    if (st.isDirectory()) for (const c of readdirSync(p)) walk(join(p, c));
  };
  walk(rootfs);
  return { changedUsers, changedGroups, conflicts, files };
}
