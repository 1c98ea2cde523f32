/**
 * syncuser's rule, shared by the `syncuser` overlay (what a node's /etc/passwd and /etc/group say) and
 * `image syncuser` (the image's files and the owners of its files):
 *
 * - an account present in both the image and the head node (by name: munge, slurm, a regular user) takes
 *   the head node's id, so files on shared NFS homes and munge keys have the same owners everywhere;
 * - the head node's regular accounts (ids 1000–65533; not nobody/nogroup) that the image lacks are added
 *   (the overlay only; `image syncuser` never adds accounts);
 * - the image's other accounts keep their ids, and the head node's system-only accounts are never added;
 * - except, in `image syncuser` (which re-owns the files), an image-only system account (sshd, kvm, …) whose
 *   id a shared account must take: it moves to a free system id (nothing outside the image knows its
 *   number), so munge gets the head node's id even when a stock image gave that number to sshd;
 * - an account that cannot be aligned because its head id is (or stays) another image account's keeps its
 *   image id, and the conflict is reported with the command that fixes it. Never an error: syncuser must
 *   not stop a node from booting, nor a poll from bringing the other runtime overlays.
 *
 * Pure: text in, text and a plan out.
 */

export interface Account {
  name: string;
  id: number;
  fields: string[];
}

export const REGULAR_MIN = 1000;
/** Dynamic system ids (Debian's and EL's adduser/useradd -r range): where image-only accounts are moved to. */
export const SYSTEM_MIN = 100;
export const SYSTEM_MAX = 999;
export const REGULAR_MAX = 65533;

export function parseAccounts(text: string): Account[] {
  return text
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l && !l.startsWith("#") && !l.startsWith("+") && !l.startsWith("-"))
    .map((l) => {
      const f = l.split(":");
      return { name: f[0]!, id: Number(f[2]), fields: f };
    })
    .filter((a) => a.name && Number.isInteger(a.id));
}

export interface AlignPlan {
  /** Image accounts that take the head node's id, by name. */
  moves: Map<string, { from: number; to: number }>;
  /** Head-node regular accounts the image lacks (whose id no image account has). */
  added: Account[];
  /** Accounts left as they are, each with why and what to do. */
  conflicts: string[];
}

/**
 * Plans the alignment of one file (`kind` passwd or group). `image` names the image in the advice.
 * Accounts are reverted to their image ids until no two accounts end with the same id (an image that
 * already has duplicate ids keeps them: only a move can create a conflict).
 */
export function planAlignment(
  kind: "passwd" | "group",
  image: readonly Account[],
  head: readonly Account[],
  imageName = "IMAGE",
  opts: { relocate?: boolean } = {},
): AlignPlan {
  const what = kind === "passwd" ? "user" : "group";
  const mod = kind === "passwd" ? "usermod -u" : "groupmod -g";
  const headBy = new Map<string, Account>();
  for (const h of head) if (!headBy.has(h.name)) headBy.set(h.name, h);
  const moves = new Map<string, { from: number; to: number }>();
  for (const a of image) {
    const h = headBy.get(a.name);
    if (h && h.id !== a.id && !moves.has(a.name)) moves.set(a.name, { from: a.id, to: h.id });
  }
  // `relocate` (image syncuser, which re-owns the files): an image-only system account (sshd, kvm, …:
  // nothing on the head node or on shared storage knows its number) that holds an id a shared account must
  // take moves to a free system id instead of blocking it: from the top of the system range down, an id
  // neither the image, the head node nor a move uses. The overlay never relocates: it cannot re-own files.
  const used = new Set<number>([...image.map((a) => a.id), ...head.map((h) => h.id)]);
  for (const m of moves.values()) used.add(m.to);
  const targets = new Set([...moves.values()].map((m) => m.to));
  let next = SYSTEM_MAX;
  for (const a of opts.relocate ? image : []) {
    if (headBy.has(a.name) || moves.has(a.name) || !targets.has(a.id) || a.id < SYSTEM_MIN || a.id > SYSTEM_MAX) continue;
    while (next >= SYSTEM_MIN && used.has(next)) next--;
    if (next < SYSTEM_MIN) break;
    moves.set(a.name, { from: a.id, to: next });
    used.add(next);
  }
  const conflicts: string[] = [];
  const advice = (name: string, to: number, holder: string) =>
    `syncuser: ${what} '${name}' keeps the image's id (the head node's is ${to}, which the image's '${holder}' has); to align it, give '${holder}' ` +
    `the head node's id or a free one (drover image exec ${imageName} -- ${mod} NEWID ${holder}), then drover image syncuser ${imageName}`;
  // The image's ids after the moves; an id shared by a mover and anything else reverts the mover.
  for (let changed = true; changed; ) {
    changed = false;
    const holders = new Map<number, string[]>();
    for (const a of image) {
      const id = moves.get(a.name)?.to ?? a.id;
      let l = holders.get(id);
      if (!l) holders.set(id, (l = []));
      if (!l.includes(a.name)) l.push(a.name);
    }
    // A mover leaving an id that another image account keeps would re-own that account's files too.
    const fromShared = new Map<number, string[]>();
    for (const a of image) {
      let l = fromShared.get(a.id);
      if (!l) fromShared.set(a.id, (l = []));
      if (!l.includes(a.name)) l.push(a.name);
    }
    for (const [name, m] of moves) {
      const at = holders.get(m.to)!;
      const others = at.filter((n) => n !== name);
      const blocker = others.find((n) => !moves.has(n)) ?? (others.length && at[0] !== name ? at[0] : undefined);
      const sharer = fromShared.get(m.from)!.find((n) => n !== name && moves.get(n)?.to !== m.to);
      if (blocker !== undefined || sharer !== undefined) {
        moves.delete(name);
        conflicts.push(
          blocker !== undefined
            ? advice(name, m.to, blocker)
            : `syncuser: ${what} '${name}' keeps the image's id ${m.from} (the head node's is ${m.to}): the image's '${sharer}' has the same id; give ` +
                `one of them its own id in the image (drover image exec ${imageName} -- ${mod} NEWID ${name})`,
        );
        changed = true;
      }
    }
  }
  const taken = new Set(image.map((a) => moves.get(a.name)?.to ?? a.id));
  const have = new Set(image.map((a) => a.name));
  const added: Account[] = [];
  for (const h of head) {
    if (have.has(h.name) || !(h.id >= REGULAR_MIN && h.id <= REGULAR_MAX)) continue;
    if (taken.has(h.id)) {
      const holder = image.find((a) => (moves.get(a.name)?.to ?? a.id) === h.id)?.name ?? "?";
      conflicts.push(
        `syncuser: the head node's ${what} '${h.name}' (id ${h.id}) is not added: the image's '${holder}' has that id; give '${holder}' another id ` +
          `(drover image exec ${imageName} -- ${mod} NEWID ${holder})`,
      );
      continue;
    }
    taken.add(h.id);
    have.add(h.name);
    added.push(h);
  }
  return { moves, added, conflicts };
}

/**
 * The syncuser overlay's file: the image's /etc/passwd (or /etc/group) with the plan applied, plus the head
 * node's regular accounts it lacks. For passwd, `groups` (the image's and the head node's /etc/group) map
 * each user's primary group to the group's aligned id.
 */
export function mergeAccounts(
  kind: "passwd" | "group",
  image: string,
  head: string,
  opts: { imageName?: string; groups?: { image: string; head: string } } = {},
): { text: string; conflicts: string[] } {
  const img = parseAccounts(image);
  const hst = parseAccounts(head);
  const plan = planAlignment(kind, img, hst, opts.imageName);
  const gidMap = new Map<number, number>();
  if (kind === "passwd" && opts.groups) {
    const g = planAlignment("group", parseAccounts(opts.groups.image), parseAccounts(opts.groups.head), opts.imageName);
    for (const m of g.moves.values()) gidMap.set(m.from, m.to);
  }
  const headBy = new Map(hst.map((h) => [h.name, h]));
  const out: string[][] = [];
  for (const a of img) {
    const f = [...a.fields];
    const m = plan.moves.get(a.name);
    if (m) f[2] = String(m.to);
    if (kind === "passwd") {
      const g = Number(f[3]);
      if (gidMap.has(g)) f[3] = String(gidMap.get(g));
    } else {
      const h = headBy.get(a.name);
      if (h) f[3] = [...new Set([...(f[3] ?? "").split(","), ...(h.fields[3] ?? "").split(",")].filter(Boolean))].join(",");
    }
    out.push(f);
  }
  for (const h of plan.added) out.push([...h.fields]);
  return { text: out.map((f) => f.join(":")).join("\n"), conflicts: plan.conflicts };
}
