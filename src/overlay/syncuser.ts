/**
 * The syncuser overlay's merge: the node gets the image's /etc/passwd (or /etc/group) where every account
 * that also exists on the head node takes the head node's ids, plus the head node's regular accounts
 * (ids 1000-65533) that the image lacks. Files on shared NFS homes then have the same owners everywhere.
 * Ids that would collide with a different image account are refused with both names.
 */

export class MergeConflict extends Error {}

const REGULAR_MIN = 1000;
const REGULAR_MAX = 65533;

interface Line {
  name: string;
  fields: string[];
}

function parse(text: string): Line[] {
  return text
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l && !l.startsWith("#") && !l.startsWith("+") && !l.startsWith("-"))
    .map((l) => ({ name: l.split(":")[0]!, fields: l.split(":") }));
}

export function mergeAccounts(kind: "passwd" | "group", image: string, head: string): string {
  const img = parse(image);
  const hst = parse(head);
  const hostBy = new Map(hst.map((l) => [l.name, l]));
  const out: string[][] = [];
  const idOwner = new Map<string, string>();
  const claim = (id: string, name: string) => {
    const other = idOwner.get(id);
    if (other && other !== name)
      throw new MergeConflict(
        `syncuser: ${kind === "passwd" ? "user" : "group"} '${name}' would get id ${id}, which the image's '${other}' already has; give one of them another id (in the image: drover image exec IMAGE -- ${kind === "passwd" ? "usermod -u" : "groupmod -g"} NEWID NAME), or remove syncuser from the node's overlays`,
      );
    idOwner.set(id, name);
  };
  for (const l of img) {
    const f = [...l.fields];
    const h = hostBy.get(l.name);
    if (h) {
      f[2] = h.fields[2]!;
      if (kind === "passwd") f[3] = h.fields[3]!;
      else {
        const members = new Set([...(f[3] ?? "").split(","), ...(h.fields[3] ?? "").split(",")].filter(Boolean));
        f[3] = [...members].join(",");
      }
    }
    claim(f[2]!, l.name);
    out.push(f);
  }
  const have = new Set(img.map((l) => l.name));
  for (const h of hst) {
    const id = Number(h.fields[2]);
    if (have.has(h.name) || !(id >= REGULAR_MIN && id <= REGULAR_MAX)) continue;
    claim(h.fields[2]!, h.name);
    out.push([...h.fields]);
  }
  return out.map((f) => f.join(":")).join("\n");
}
