/**
 * The head node's cluster services for the end-to-end Slurm test, each run inside a lab's head-node
 * namespace from Debian's packages, with all state in a private folder (nothing of the host's is touched):
 *
 *   const nfs = startNfs(lab, dir, exportDir)            NFSv4 server exporting exportDir as /home
 *   const munge = startMunge(lab, dir)                   munged with a fresh key, its socket in dir
 *   const ctld = startSlurmctld(lab, dir, conf, munge)   slurmctld, plus sinfo/srun through ctld.run()
 *
 * NFS: this machine's kernel has no nfsd (no `nfsd` in /proc/filesystems), so the kernel server cannot run
 * here; NFS-Ganesha (Debian's nfs-ganesha + nfs-ganesha-vfs) is a user-space NFSv4 server that runs in the
 * namespace without rpcbind. Where the kernel has nfsd, a site's nfs-kernel-server is the usual choice —
 * the nodes' side (mount.nfs from nfs-common, an fstab line) is the same.
 */
import type { Subprocess } from "bun";
import { spawnSync } from "bun";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Lab } from "./netns";

export interface Service {
  proc: Subprocess;
  log(): string;
}

/** Why the cluster services cannot run here (which package is missing), or undefined. */
export function clusterServicesUnavailable(): string | undefined {
  const need: [string, string][] = [
    ["/usr/bin/ganesha.nfsd", "nfs-ganesha nfs-ganesha-vfs"],
    ["/usr/sbin/munged", "munge"],
    ["/usr/sbin/slurmctld", "slurmctld"],
    ["/usr/bin/srun", "slurm-client"],
    ["/usr/bin/setpriv", "util-linux"],
  ];
  const missing = need.filter(([p]) => !existsSync(p)).map(([, pkg]) => pkg);
  if (missing.length) return `needs ${missing.join(", ")}: apt-get install ${missing.join(" ")} (test/run.sh does, as root)`;
  if (uid("munge") === undefined) return "the munge package's user 'munge' is missing on this host";
  if (uid("slurm") === undefined) return "the slurm packages' user 'slurm' is missing on this host";
  return undefined;
}

/** A user's uid and gid on this host (the head node), from /etc/passwd. */
export function uid(name: string): { uid: number; gid: number } | undefined {
  for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
    const f = line.split(":");
    if (f[0] === name) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

function fileLog(path: string) {
  return () => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return "";
    }
  };
}

export function startNfs(lab: Lab, dir: string, exportDir: string): Service {
  const d = join(dir, "nfs");
  mkdirSync(join(d, "recovery"), { recursive: true });
  const conf = join(d, "ganesha.conf");
  writeFileSync(
    conf,
    `NFS_CORE_PARAM { Protocols = 4; Enable_NLM = false; Enable_RQUOTA = false; NFS_Port = 2049; Bind_addr = ${lab.serverIp}; }
NFSV4 { Graceless = true; Lease_Lifetime = 15; RecoveryBackend = fs; RecoveryRoot = ${join(d, "recovery")}; }
EXPORT {
  Export_Id = 1; Path = ${exportDir}; Pseudo = /home; Access_Type = RW; Squash = No_Root_Squash;
  SecType = sys; Protocols = 4; Transports = TCP; FSAL { Name = VFS; }
}
LOG { Default_Log_Level = EVENT; }
`,
  );
  const log = join(d, "ganesha.log");
  const proc = lab.spawn(lab.hn, ["/usr/bin/ganesha.nfsd", "-F", "-f", conf, "-L", log, "-p", join(d, "pid"), "-N", "NIV_EVENT"], {
    stdout: "ignore",
    stderr: "ignore",
  });
  return { proc, log: fileLog(log) };
}

export interface Munge extends Service {
  socket: string;
  /** The key, 1 KiB of random bytes: the nodes get the same key through an overlay. */
  keyFile: string;
}

export function startMunge(lab: Lab, dir: string): Munge {
  const d = join(dir, "munge");
  const m = uid("munge")!;
  mkdirSync(d, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const keyFile = join(d, "munge.key");
  writeFileSync(keyFile, crypto.getRandomValues(new Uint8Array(1024)), { mode: 0o400 });
  chownSync(keyFile, m.uid, m.gid);
  chownSync(d, m.uid, m.gid);
  const socket = join(d, "munge.socket");
  const log = join(d, "munged.log");
  const proc = lab.spawn(
    lab.hn,
    [
      "setpriv",
      "--reuid",
      String(m.uid),
      "--regid",
      String(m.gid),
      "--clear-groups",
      "/usr/sbin/munged",
      "-F",
      `--key-file=${keyFile}`,
      `--socket=${socket}`,
      `--pid-file=${join(d, "pid")}`,
      `--log-file=${log}`,
      `--seed-file=${join(d, "seed")}`,
    ],
    { stdout: "ignore", stderr: "ignore" },
  );
  return { proc, log: fileLog(log), socket, keyFile };
}

export interface Slurmctld extends Service {
  conf: string;
  /** Runs a Slurm client (sinfo, srun, scontrol) in the head-node namespace against this controller. */
  run(cmd: string[], timeoutMs?: number): { code: number; out: string; err: string };
}

/**
 * The slurm.conf the nodes get (through an overlay) and, with the munge socket added, the controller's.
 * NodeAddr gives each node's literal address (the lab write-up's fix for a node resolving its own name).
 */
export function slurmConf(o: { controllerHost: string; controllerIp: string; nodes: string; nodeAddrs: string }): string {
  return `# drover end-to-end test cluster
ClusterName=drover
SlurmctldHost=${o.controllerHost}(${o.controllerIp})
AuthType=auth/munge
SlurmUser=slurm
SlurmdSpoolDir=/var/spool/slurmd
SlurmdPidFile=/run/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
SelectType=select/cons_tres
NodeName=${o.nodes} NodeAddr=${o.nodeAddrs} CPUs=1 State=UNKNOWN
PartitionName=normal Nodes=${o.nodes} Default=YES MaxTime=INFINITE State=UP
`;
}

export function startSlurmctld(lab: Lab, dir: string, nodeConf: string, munge: Munge): Slurmctld {
  const d = join(dir, "slurmctld");
  const s = uid("slurm")!;
  mkdirSync(join(d, "state"), { recursive: true });
  chownSync(join(d, "state"), s.uid, s.gid);
  const log = join(d, "slurmctld.log");
  const conf = join(d, "slurm.conf");
  writeFileSync(
    conf,
    `${nodeConf}AuthInfo=socket=${munge.socket}\nStateSaveLocation=${join(d, "state")}\nSlurmctldPidFile=${join(d, "pid")}\nSlurmctldLogFile=${log}\n`,
  );
  const proc = lab.spawn(lab.hn, ["/usr/sbin/slurmctld", "-D", "-f", conf], { stdout: "ignore", stderr: "ignore", env: { SLURM_CONF: conf } });
  return {
    proc,
    conf,
    log: fileLog(log),
    run(cmd, timeoutMs = 60_000) {
      const r = spawnSync(["ip", "netns", "exec", lab.hn, "timeout", String(Math.ceil(timeoutMs / 1000)), ...cmd], {
        env: { ...process.env, SLURM_CONF: conf },
      });
      return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
    },
  };
}
