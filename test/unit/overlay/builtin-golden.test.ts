import { afterAll, describe, expect, test } from "bun:test";
import { builtinNames } from "../../../src/overlay/repo";
import { expectGolden } from "../../helpers/golden";
import { FIXTURE_NODES, world } from "./world";

// Every file of every built-in overlay, rendered for each fixture node and read back from the archive a
// node would get. Goldens live in test/golden/overlay/OVERLAY/NODE/…; a manifest per node records each
// entry's type, mode and owner. Regenerate on purpose with UPDATE_GOLDEN=1, then review the diff.
const w = world();
afterAll(() => w.cleanup());

const BUILTINS = [
  "wwinit",
  "wwclient",
  "hosts",
  "hostname",
  "resolv",
  "NetworkManager",
  "systemd.networkd",
  "ifupdown",
  "fstab",
  "ssh.authorized_keys",
  "ssh.host_keys",
  "syncuser",
  "issue",
  "debug",
];

test("the built-in overlays are the ones Warewulf users know", () => {
  expect(builtinNames()).toEqual([...BUILTINS].sort());
});

for (const overlay of BUILTINS) {
  describe(overlay, () => {
    for (const node of Object.keys(FIXTURE_NODES)) {
      test(node, async () => {
        const entries = await w.overlays.preview(node, [overlay]);
        const manifest: string[] = [];
        for (const e of entries) {
          manifest.push(`${e.type.padEnd(7)} ${e.mode.toString(8).padStart(4, "0")} ${e.uid}:${e.gid} /${e.path}${e.target ? ` -> ${e.target}` : ""}`);
          if (e.type === "file") expectGolden(`overlay/${overlay}/${node}/${e.path}`, new TextDecoder().decode(e.data));
        }
        expectGolden(`overlay/${overlay}/${node}/_manifest.txt`, `${manifest.join("\n")}\n`);
      });
    }
  });
}
