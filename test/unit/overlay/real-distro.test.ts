import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isRefusal } from "../../../src/boot/service";
import { readArtifact } from "../../../src/boot/artifact";
import { readCpio } from "../../../src/overlay/cpio";
import { DEFAULT_PROFILE } from "../../../src/services/nodes";
import type { OverlayService } from "../../../src/services/overlays";
import { type World, world } from "./world";

// Issue 11: a real distribution boots with the seed commands as written. A node added with a MAC and an
// address but no device name, an image without some network stack, a runtime overlay that fails: the
// node still gets an archive, and what was left out is said before it boots.

let w: World | undefined;
afterEach(() => w?.cleanup());

async function files(o: OverlayService, kind: "system" | "runtime", node: string): Promise<Map<string, string>> {
  const a = await o.archive(kind, node);
  if (isRefusal(a)) throw new Error(a.message);
  return new Map(
    readCpio(readArtifact(a))
      .filter((e) => e.type === "file")
      .map((e) => [e.path, new TextDecoder().decode(e.data)]),
  );
}

const SEED = { profiles: [], image: "rocky", networkDevices: { default: { hwaddr: "52:54:00:00:00:04", ipaddr: "10.0.0.14", netmask: "255.255.255.0" } } };

describe("network overlays with no --netdev", () => {
  test("the default profile's system overlays build for a node made as the seeds make it", async () => {
    w = world({ c1: { ...SEED, systemOverlay: [...DEFAULT_PROFILE.systemOverlay!] } });
    const f = await files(w.overlays, "system", "c1");
    expect(f.get("etc/NetworkManager/system-connections/drover-default.nmconnection")).toContain("mac-address=52:54:00:00:00:04");
    expect(f.get("etc/systemd/network/20-drover-default.network")).toContain("[Match]\nMACAddress=52:54:00:00:00:04\n");
    // ifupdown cannot name the device: the file says so instead of failing the node's archive.
    expect(f.get("etc/network/interfaces.d/drover-default")).toContain("--netdev eth0");
    expect(f.get("etc/network/interfaces.d/drover-default")).not.toContain("iface");
    expect(await w.overlays.lint(["c1"])).toEqual([]);
  });
  test("with a device name too, udev and networkd rename the interface with that MAC to it", async () => {
    w = world({
      c1: {
        ...SEED,
        networkDevices: { default: { ...SEED.networkDevices.default, device: "eth0" } },
        systemOverlay: ["NetworkManager", "systemd.networkd", "ifupdown"],
      },
    });
    const f = await files(w.overlays, "system", "c1");
    expect(f.get("etc/udev/rules.d/70-drover-net.rules")).toContain('SUBSYSTEM=="net", ACTION=="add", ATTR{address}=="52:54:00:00:00:04", NAME="eth0"');
    expect(f.get("etc/systemd/network/10-drover-default.link")).toContain("[Link]\nName=eth0");
    expect(f.get("etc/network/interfaces.d/drover-default")).toContain("iface eth0 inet static");
  });
});

describe("an overlay for a network stack the image lacks", () => {
  test("is skipped with a note, and comes back when the image gets it", async () => {
    w = world({ c1: { ...SEED, systemOverlay: ["hostname", "NetworkManager", "systemd.networkd", "ifupdown"] } });
    rmSync(join(w.imageRoot, "usr/sbin/ifup"));
    rmSync(join(w.imageRoot, "usr/lib/systemd/systemd-networkd"));
    let f = await files(w.overlays, "system", "c1");
    expect(f.has("etc/hostname")).toBe(true);
    expect(f.has("etc/NetworkManager/system-connections/drover-default.nmconnection")).toBe(true);
    expect([...f.keys()].some((p) => p.startsWith("etc/network/") || p.startsWith("etc/systemd/network/"))).toBe(false);
    expect([...f.keys()].some((p) => p.includes(".drover-requires"))).toBe(false);

    const built = await w.overlays.build(["c1"], ["system"]);
    expect(built[0]!.notes).toEqual([
      {
        overlay: "systemd.networkd",
        level: "skipped",
        message: "skipped: image rocky has none of /usr/lib/systemd/systemd-networkd, /lib/systemd/systemd-networkd",
      },
      { overlay: "ifupdown", level: "skipped", message: "skipped: image rocky has none of /sbin/ifup, /usr/sbin/ifup" },
    ]);
    // A note, not a warning: lint says it and does not fail.
    const lint = await w.overlays.lint(["c1"]);
    expect(lint.map((x) => [x.level, x.message, x.nodes])).toContainEqual([
      "note",
      "system overlay ifupdown: skipped: image rocky has none of /sbin/ifup, /usr/sbin/ifup",
      ["c1"],
    ]);
    expect(lint.every((x) => x.level === "note")).toBe(true);
    expect((await w.overlays.archiveProblems(["c1"])).get("c1")).toContain(
      "system overlay ifupdown: skipped: image rocky has none of /sbin/ifup, /usr/sbin/ifup",
    );

    // Installing ifupdown in the image is an input change: the next request has the overlay.
    writeFileSync(join(w.imageRoot, "usr/sbin/ifup"), "");
    f = await files(w.overlays, "system", "c1");
    expect(f.has("etc/network/interfaces.d/drover-default")).toBe(true);
  });
});

describe("a failing overlay", () => {
  const failing = (w: World) => {
    const d = join(w.dir, "data", "overlays", "broken", "etc");
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "x.eta"), "<% it.fail('set the x tag: drover node set ' + it.node.name + ' --tagadd x=1') %>\n");
  };
  test("in the runtime list drops only itself; the rest of the runtime archive is served", async () => {
    w = world({ c1: { ...SEED, runtimeOverlay: ["hosts", "broken", "ssh.authorized_keys"] } });
    failing(w);
    const f = await files(w.overlays, "runtime", "c1");
    expect(f.has("etc/hosts")).toBe(true);
    expect(f.has("root/.ssh/authorized_keys")).toBe(true);
    expect(f.has("etc/x")).toBe(false);
    const lint = await w.overlays.lint(["c1"]);
    expect(lint).toEqual([
      {
        message: "runtime overlay broken left out: overlay broken, template etc/x.eta line 1, node c1: set the x tag: drover node set c1 --tagadd x=1",
        nodes: ["c1"],
      },
    ]);
  });
  test("in the system list fails the archive, and lint and node problems say so before the node boots", async () => {
    w = world({ c1: { ...SEED, systemOverlay: ["hostname", "broken"] } });
    failing(w);
    const a = await w.overlays.archive("system", "c1");
    expect(isRefusal(a)).toBe(true);
    const lint = await w.overlays.lint([]);
    expect(lint.map((x) => x.message)).toContain(
      "the system archive would not build, so the node would not boot: overlay broken, template etc/x.eta line 1, node c1: set the x tag: drover node set c1 --tagadd x=1",
    );
    expect((await w.overlays.archiveProblems(["c1"])).get("c1")).toEqual([
      "system overlay cannot be built: overlay broken, template etc/x.eta line 1, node c1: set the x tag: drover node set c1 --tagadd x=1",
    ]);
  });
});

describe("syncuser on a Debian head node", () => {
  test("a head system group whose id an image account has is left alone with a note; the poll is never refused", async () => {
    w = world({ c1: { ...SEED, runtimeOverlay: ["hosts", "syncuser"] } });
    writeFileSync(join(w.headRoot, "etc/group"), "root:x:0:\n_ssh:x:101:\nmunge:x:991:\nalice:x:1000:\n");
    writeFileSync(join(w.imageRoot, "etc/group"), "root:x:0:\nmunge:x:101:\n_ssh:x:104:\nslurm:x:976:\n");
    let f = await files(w.overlays, "runtime", "c1");
    // munge moves to the head's 991, which frees 101 for _ssh: both aligned, nothing to report.
    expect(f.get("etc/group")).toBe("root:x:0:\nmunge:x:991:\n_ssh:x:101:\nslurm:x:976:\nalice:x:1000:\n");
    expect((await w.overlays.build(["c1"], ["runtime"]))[0]!.notes).toBeUndefined();

    // The head node has no munge: _ssh cannot take 101, which the image's munge keeps.
    writeFileSync(join(w.headRoot, "etc/group"), "root:x:0:\n_ssh:x:101:\nalice:x:1000:\n");
    f = await files(w.overlays, "runtime", "c1");
    expect(f.get("etc/group")).toBe("root:x:0:\nmunge:x:101:\n_ssh:x:104:\nslurm:x:976:\nalice:x:1000:\n");
    expect(f.has("etc/hosts")).toBe(true);
    const lint = await w.overlays.lint(["c1"]);
    expect(lint.map((x) => x.message)).toEqual([
      "runtime overlay syncuser: etc/group.eta: syncuser: group '_ssh' keeps the image's id (the head node's is 101, which the image's 'munge' has); to align it, give 'munge' the head node's id or a free one (drover image exec rocky -- groupmod -g NEWID munge), then drover image syncuser rocky",
    ]);
  });
});
