/**
 * Seed 004's payoff, end to end: two diskless Debian 12 VMs (c1 under BIOS, c2 under UEFI with OVMF's own
 * PXE and no NIC ROM; 3 GiB each, TCG) boot through `drover serve` alone from a stock Debian image (two-stage,
 * the default for an image this size: stage 1 streams it into a tmpfs), join a
 * Slurm cluster and run a job the scheduler placed on both — with the lab write-up's commands, `wwctl`
 * replaced by `drover`, and no `--netdev` anywhere (devices are found by their MACs).
 *
 * The head node is the lab's namespace: drover, an NFSv4 server exporting /home (see
 * helpers/cluster-services.ts for why NFS-Ganesha), munged (the head node's munge UID differs from the
 * image's: syncuser must align it) and slurmctld. The nodes run munge and slurmd and mount /home from the
 * profile's fstab resource.
 *
 * Pass: `sinfo` shows both nodes idle, `srun -N2 -l hostname` prints `0: c1` and `1: c2`, and both nodes
 * read a file the head node wrote into /home. The test prints what each stage took.
 *
 * The image: test/helpers/debian-image.ts (mmdebstrap, cached under /var/cache/drover-test; the first run
 * makes it in a minute or two). Needs root, QEMU, OVMF, mmdebstrap, nfs-ganesha, munge, slurmctld and
 * slurm-client: test/run.sh installs them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { droverBinary } from "../helpers/binary";
import { tempDir } from "../helpers/cli";
import { clusterServicesUnavailable, type Munge, type Slurmctld, slurmConf, startMunge, startNfs, startSlurmctld, uid } from "../helpers/cluster-services";
import { debianRootfs, debianRootfsUnavailable } from "../helpers/debian-image";
import { type DroverProcess, startDroverIn } from "../helpers/drover-server";
import { Lab } from "../helpers/netns";
import { type Firmware, qemuAvailable, startVm, type Vm } from "../helpers/vm";

const why = Lab.unavailable() ?? qemuAvailable() ?? debianRootfsUnavailable() ?? clusterServicesUnavailable();
if (why) console.log(`skipping the real-distribution (Debian 12 + Slurm) boot test: ${why}`);

const NODES: { name: string; fw: Firmware; mac: string; host: number }[] = [
  { name: "c1", fw: "bios", mac: "52:54:00:aa:00:01", host: 2 },
  { name: "c2", fw: "uefi", mac: "52:54:00:aa:00:02", host: 3 },
];
const TOTAL_TIMEOUT = 30 * 60_000;
const BOOT_TIMEOUT = 12 * 60_000;

describe.skipIf(!!why)("a real distribution boots with the seed commands: Debian 12 + Slurm on two diskless VMs", () => {
  const t = tempDir("drover-e2e-debian-");
  const stages: [string, number][] = [];
  let last = Date.now();
  const stage = (name: string) => {
    const now = Date.now();
    stages.push([name, now - last]);
    last = now;
  };
  let lab: Lab;
  let data: string;
  let server: DroverProcess | undefined;
  let munge: Munge;
  let ctld: Slurmctld;
  const vms: Vm[] = [];

  const drover = (...args: string[]) => {
    const r = Bun.spawnSync([droverBinary(), "-d", data, ...args], { env: { ...process.env, EDITOR: process.env.EDITOR ?? "false" } });
    if (r.exitCode !== 0) throw new Error(`drover ${args.join(" ")} (exit ${r.exitCode}):\n${r.stderr.toString()}${r.stdout.toString()}`);
    return r.stdout.toString();
  };

  beforeAll(async () => {
    const img = await debianRootfs();
    stage(img.builtMs ? "make the Debian root filesystem (mmdebstrap)" : "Debian root filesystem (cached)");
    lab = await Lab.create();
    data = join(t.dir, "data");
    const net = lab.subnet;

    // ---- the head node's services ----
    const home = join(t.dir, "home");
    mkdirSync(home, { recursive: true });
    chmodSync(t.dir, 0o755);
    writeFileSync(join(home, "hello-from-head"), "shared /home works\n");
    startNfs(lab, t.dir, home);
    munge = startMunge(lab, t.dir);
    const conf = slurmConf({ controllerHost: hostname(), controllerIp: lab.serverIp, nodes: "c[1-2]", nodeAddrs: `${net}.[2-3]` });
    ctld = startSlurmctld(lab, t.dir, conf, munge);
    stage("start NFS, munged and slurmctld in the head-node namespace");

    // ---- the image, as the write-up builds it (wwctl → drover) ----
    drover("image", "import", img.dir, "debian12");
    drover("image", "exec", "debian12", "--no-build", "--", "/bin/sh", "-c", "mkdir -p /var/spool/slurmd && chown slurm:slurm /var/spool/slurmd");
    // The head node's munge UID differs from the image's: align it (and re-own its files), then build.
    const imagePasswd = join(data, "images", "debian12", "rootfs", "etc", "passwd");
    const mungeIn = () =>
      readFileSync(imagePasswd, "utf8")
        .split("\n")
        .find((l) => l.startsWith("munge:"))
        ?.split(":")[2];
    const head = uid("munge")!;
    const before = mungeIn();
    expect(before).toBeDefined();
    expect(before).not.toBe(String(head.uid)); // otherwise this test would not show syncuser aligning anything
    drover("image", "syncuser", "debian12");
    expect(mungeIn()).toBe(String(head.uid));
    console.log(`image syncuser: the image's munge UID ${before} → ${head.uid} (the head node's)`);
    drover("image", "build", "debian12");
    stage("import, exec, syncuser and build the image");

    // ---- the shared munge key and slurm.conf ride in a system overlay ----
    const files = join(t.dir, "overlay-src");
    mkdirSync(files, { recursive: true });
    writeFileSync(join(files, "slurm.conf"), conf);
    drover("overlay", "create", "slurm");
    drover("overlay", "import", "slurm", munge.keyFile, "/etc/munge/munge.key");
    const m = uid("munge")!;
    drover("overlay", "chown", "slurm", "/etc/munge/munge.key", String(m.uid), String(m.gid));
    drover("overlay", "chmod", "slurm", "/etc/munge/munge.key", "400");
    drover("overlay", "import", "slurm", join(files, "slurm.conf"), "/etc/slurm/slurm.conf");

    // ---- nodes, exactly as the write-up registers them ----
    for (const n of NODES) drover("node", "add", n.name, `--ipaddr=${net}.${n.host}`, "--netmask=255.255.255.0", `--hwaddr=${n.mac}`);
    drover("node", "set", "c1,c2", "--image=debian12");
    const sys = drover("profile", "list", "default", "--json");
    const systemOverlays: string[] = JSON.parse(sys)[0].conf.systemOverlay;
    drover("profile", "set", "default", "--kernelargs", "console=ttyS0,115200", `--system-overlays=${[...systemOverlays, "slurm"].join(",")}`);
    // /home from the head node, through the fstab resource (wwctl profile edit, as a site would).
    const editor = join(t.dir, "edit-profile.sh");
    const fstab = [
      "    resources:",
      "      fstab:",
      `        - spec: ${lab.serverIp}:/home`,
      "          file: /home",
      "          vfstype: nfs4",
      "          mntops: defaults",
    ];
    // The "editor": puts the resource into the default profile, before the document's `nodes:` key.
    writeFileSync(editor, `#!/bin/sh\nawk '/^nodes:/ { ${fstab.map((l) => `print "${l}";`).join(" ")} } { print }' "$1" >"$1.new" && mv "$1.new" "$1"\n`, {
      mode: 0o755,
    });
    const e = Bun.spawnSync([droverBinary(), "-d", data, "profile", "edit", "default"], { env: { ...process.env, EDITOR: editor } });
    if (e.exitCode !== 0) throw new Error(`drover profile edit default: ${e.stderr.toString()}`);
    const lint = Bun.spawnSync([droverBinary(), "-d", data, "overlay", "lint"]);
    console.log(`drover overlay lint (exit ${lint.exitCode}):\n${lint.stdout.toString()}${lint.stderr.toString()}`);
    // The nodes as the write-up adds them (no --netdev) and the image after syncuser: nothing keeps an archive from building.
    expect(`exit ${lint.exitCode}: ${lint.stdout.toString()}${lint.stderr.toString()}`).toMatch(/^exit 0: (note: .*\n)*no problems found\n$/);
    drover("overlay", "build");
    stage("overlays, nodes and profile");

    server = await startDroverIn(lab, data, ["-i", "br0", "--port", "9873"]);
  }, TOTAL_TIMEOUT);

  afterAll(async () => {
    for (const vm of vms) await vm.stop();
    await server?.stop();
    await lab?.destroy();
    console.log(`real-distribution test, what each stage took:\n${stages.map(([s, ms]) => `  ${(ms / 1000).toFixed(1).padStart(7)} s  ${s}`).join("\n")}`);
    t.cleanup();
  });

  test(
    "both nodes boot, Slurm sees them idle, and srun -N2 -l hostname runs on c1 and c2",
    async () => {
      try {
        for (const n of NODES) vms.push(startVm({ lab, firmware: n.fw, mac: n.mac, memoryMb: 3072, serialLog: join(t.dir, `${n.name}-${n.fw}.log`) }));
        // Both reach a login prompt on their serial consoles (systemd is up on the stock image).
        await Promise.all(vms.map((vm) => vm.waitFor(/on an x86_64 \(ttyS0\)/, BOOT_TIMEOUT)));
        stage("power-on → the login prompt on both nodes (run together)");
        // Both came up two-stage (the default for an image this size): stage 1 streamed and checked the image.
        for (const vm of vms) {
          const inPlace = vm.log().match(/drover-stage1: image in place: .*sha256 ok/);
          expect(inPlace?.[0]).toBeDefined();
          console.log(`${vm.serialLog}: ${inPlace?.[0]}`);
        }
        // drover's record: both booted (the agent reported init up), the agent's first heartbeat seen, no error.
        type Row = { node: string; state: string; stage: string; agentUp?: number; stages: Record<string, number> };
        const status = () => JSON.parse(drover("node", "status", "--json")) as Row[];
        const end = Date.now() + 180_000;
        while (!status().every((s) => s.state === "booted" && s.agentUp) && Date.now() < end) await Bun.sleep(1000);
        const st = status();
        for (const n of NODES) {
          const row = st.find((s) => s.node === n.name);
          expect(row?.state).toBe("booted");
          expect(row?.agentUp).toBeGreaterThan(0);
          expect(Object.keys(row?.stages ?? {})).not.toContain("error");
        }
        stage("login prompt → drover shows both booted with the agent up");
        // Slurm: both nodes idle.
        let sinfo = "";
        const idleBy = Date.now() + 240_000;
        for (;;) {
          sinfo = ctld.run(["sinfo", "-h", "-N", "-o", "%N %T"]).out;
          if (/^c1 idle$/m.test(sinfo) && /^c2 idle$/m.test(sinfo)) break;
          if (Date.now() > idleBy) throw new Error(`sinfo never showed both nodes idle:\n${sinfo}\n--- slurmctld ---\n${ctld.log().slice(-3000)}`);
          await Bun.sleep(2000);
        }
        stage("login prompt → both nodes idle in sinfo");
        console.log(ctld.run(["sinfo"]).out);
        const job = ctld.run(["srun", "-N2", "-l", "--chdir=/", "hostname"], 120_000);
        expect(job.err).toBe("");
        expect(job.out.trim().split("\n").sort()).toEqual(["0: c1", "1: c2"]);
        const home = ctld.run(["srun", "-N2", "-l", "--chdir=/", "cat", "/home/hello-from-head"], 120_000);
        expect(home.out.trim().split("\n").sort()).toEqual(["0: shared /home works", "1: shared /home works"]);
        stage("srun on both nodes (hostname, a file from the NFS /home)");
      } catch (err) {
        const logs = vms
          .map(
            (vm) =>
              `--- ${vm.serialLog} ---\n${vm
                .log()
                .replace(/\x1b\[[0-9;?=]*[A-Za-z]/g, "")
                .slice(-4000)}`,
          )
          .join("\n");
        throw new Error(
          `${(err as Error).message}\n${logs}\n--- drover ---\n${server?.log().slice(-4000)}\n--- munged ---\n${munge.log().slice(-1000)}\n--- slurmctld ---\n${ctld.log().slice(-2000)}`,
        );
      }
    },
    TOTAL_TIMEOUT,
  );
});
