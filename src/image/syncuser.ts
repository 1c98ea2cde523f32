import { chmodSync, existsSync, lchownSync, lstatSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveIn } from "./fspath";
import { getXattr, setXattr } from "./native";

/** The image's users or groups cannot take the head node's ids without clashing. */
export class SyncUserError extends Error {}

interface Entry {
  name: string;
  id: number;
  fields: string[];
}

function parse(text: string): Entry[] {
  return text
    .split("\n")
    .filter((l) => l && !l.startsWith("#") && !l.startsWith("+") && !l.startsWith("-"))
    .map((l) => {
      const f = l.split(":");
      return { name: f[0]!, id: Number(f[2]), fields: f };
    })
    .filter((e) => Number.isInteger(e.id));
}

/**
 * For every user (group) that exists both in the image and on the head node under the same name, the image
 * takes the head node's id. Ids that would collide with another image account are refused, with both names.
 */
function plan(kind: "user" | "group", image: Entry[], host: Entry[]): Map<number, number> {
  const hostBy = new Map(host.map((e) => [e.name, e.id]));
  const map = new Map<number, number>();
  const renamed = new Set<string>();
  for (const e of image) {
    const h = hostBy.get(e.name);
    if (h !== undefined && h !== e.id) {
      const prev = map.get(e.id);
      if (prev !== undefined && prev !== h)
        throw new SyncUserError(`image ${kind}s sharing id ${e.id} would need different head-node ids (${prev} and ${h}); fix the image's /etc/${kind === "user" ? "passwd" : "group"} first`);
      map.set(e.id, h);
      renamed.add(e.name);
    }
  }
  const targets = new Map<number, string>();
  for (const e of image) {
    const to = map.get(e.id) ?? e.id;
    const other = targets.get(to);
    if (other && other !== e.name)
      throw new SyncUserError(
        `cannot give the image's ${kind} '${renamed.has(e.name) ? e.name : other}' the head node's id ${to}: the image's ${kind} '${renamed.has(e.name) ? other : e.name}' already has it. Give that ${kind} another id in the image (drover image exec … -- ${kind === "user" ? "usermod -u" : "groupmod -g"} NEWID NAME), or create it on the head node with the same id, then run syncuser again`,
      );
    targets.set(to, e.name);
  }
  return map;
}

export interface SyncResult {
  changedUsers: string[];
  changedGroups: string[];
  /** Files and directories re-owned. */
  files: number;
}

/** Gives the image's users and groups the head node's UIDs/GIDs and re-owns the files that had the old ones. */
export function syncUsers(rootfs: string, hostEtc: string): SyncResult {
  const read = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : "");
  const passwdPath = resolveIn(rootfs, "etc/passwd", true);
  const groupPath = resolveIn(rootfs, "etc/group", true);
  const iu = parse(read(passwdPath));
  const ig = parse(read(groupPath));
  const uidMap = plan("user", iu, parse(read(join(hostEtc, "passwd"))));
  const gidMap = plan("group", ig, parse(read(join(hostEtc, "group"))));
  const changedUsers = iu.filter((e) => uidMap.has(e.id)).map((e) => e.name);
  const changedGroups = ig.filter((e) => gidMap.has(e.id)).map((e) => e.name);
  if (!uidMap.size && !gidMap.size) return { changedUsers, changedGroups, files: 0 };
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
  return { changedUsers, changedGroups, files };
}
