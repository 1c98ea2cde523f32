/**
 * A throw-away network lab made of Linux network namespaces, for tests that need real clients on a real
 * (virtual) wire: a "head node" namespace holding bridge br0, client namespaces joined to it by veth pairs,
 * and tap devices for QEMU VMs. Nothing here touches the host's own interfaces; all traffic stays inside
 * the namespaces this lab created. Every name carries a random suffix so concurrent tests never collide.
 *
 *   const lab = await Lab.create();          // needs root and iproute2; Lab.available() says why not
 *   const c = lab.addClient("c1");           // namespace c.ns, interface c.ifname, on br0
 *   lab.run(lab.hn, ["ip", "addr"]);         // run a command inside a namespace
 *   const p = lab.spawn(lab.hn, [...]);      // background process; killed (by PID) in destroy()
 *   await lab.destroy();
 */
import { type Subprocess, spawn, spawnSync } from "bun";

export interface LabClient {
  ns: string;
  ifname: string;
  mac: string;
}

export class Lab {
  readonly id = Math.random().toString(36).slice(2, 7);
  readonly hn = `dv${this.id}hn`;
  /** The head node's address on br0, and the /24 around it. */
  readonly subnet: string;
  readonly serverIp: string;
  readonly bridge = "br0";
  private namespaces: string[] = [];
  private procs: Subprocess[] = [];
  private clients = 0;

  private constructor(subnetIndex: number) {
    this.subnet = `10.${200 + (subnetIndex % 50)}.${subnetIndex % 250}`;
    this.serverIp = `${this.subnet}.1`;
  }

  /** Why a lab cannot be made here, or undefined when it can. */
  static unavailable(): string | undefined {
    if (process.getuid?.() !== 0) return "needs root (network namespaces); run the suite as root: sudo npm test";
    if (spawnSync(["which", "ip"]).exitCode !== 0) return "needs iproute2 (apt-get install iproute2)";
    return undefined;
  }

  static async create(): Promise<Lab> {
    const why = Lab.unavailable();
    if (why) throw new Error(`network lab ${why}`);
    const lab = new Lab(Math.floor(Math.random() * 12500));
    lab.addNamespace(lab.hn);
    lab.sh(
      lab.hn,
      `ip link set lo up && ip link add ${lab.bridge} type bridge && ip link set ${lab.bridge} type bridge forward_delay 0 stp_state 0 && ip addr add ${lab.serverIp}/24 dev ${lab.bridge} && ip link set ${lab.bridge} up`,
    );
    return lab;
  }

  private addNamespace(ns: string) {
    must(["ip", "netns", "add", ns]);
    this.namespaces.push(ns);
  }

  /** A client namespace joined to br0 through a veth pair; its interface has no address yet. */
  addClient(name = `c${this.clients}`, mac?: string): LabClient {
    const n = this.clients++;
    const ns = `dv${this.id}${name}`.slice(0, 15);
    this.addNamespace(ns);
    const host = `vh${this.id}${n}`;
    const peer = `vp${this.id}${n}`;
    const ifname = "eth0";
    const m = mac ?? `52:54:00:${hex(Number.parseInt(this.id.slice(0, 2), 36) % 256)}:${hex(n >> 8)}:${hex(n & 255)}`;
    must(["ip", "link", "add", host, "type", "veth", "peer", "name", peer]);
    must(["ip", "link", "set", host, "netns", this.hn]);
    must(["ip", "link", "set", peer, "netns", ns]);
    this.sh(this.hn, `ip link set ${host} master ${this.bridge} && ip link set ${host} up`);
    this.sh(ns, `ip link set lo up && ip link set ${peer} name ${ifname} && ip link set ${ifname} address ${m} && ip link set ${ifname} up`);
    return { ns, ifname, mac: m };
  }

  /** A tap device in the head node namespace, on br0, for a QEMU VM (`-netdev tap,ifname=…`). */
  addTap(): string {
    const tap = `tp${this.id}${this.clients++}`;
    this.sh(this.hn, `ip tuntap add dev ${tap} mode tap && ip link set ${tap} master ${this.bridge} && ip link set ${tap} up`);
    return tap;
  }

  /** A second namespace-local network on the head node (for relay tests): a veth into a router namespace. */
  run(ns: string, cmd: string[], opts: { timeoutMs?: number; stdin?: string } = {}) {
    const r = spawnSync(["ip", "netns", "exec", ns, ...cmd], { timeout: opts.timeoutMs ?? 30_000, stdin: opts.stdin ? Buffer.from(opts.stdin) : undefined });
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
  }

  sh(ns: string, script: string) {
    const r = this.run(ns, ["sh", "-c", script]);
    if (r.code !== 0) throw new Error(`in ${ns}: ${script}: ${r.err || r.out}`);
    return r.out;
  }

  /** Starts a background process in a namespace; it is killed by PID in destroy(). */
  spawn(
    ns: string,
    cmd: string[],
    opts: { env?: Record<string, string>; stdout?: "pipe" | "ignore" | "inherit"; stderr?: "pipe" | "ignore" | "inherit" } = {},
  ): Subprocess {
    const p = spawn(["ip", "netns", "exec", ns, ...cmd], {
      env: { ...process.env, ...opts.env },
      stdout: opts.stdout ?? "pipe",
      stderr: opts.stderr ?? "pipe",
    });
    this.procs.push(p);
    return p;
  }

  async destroy() {
    for (const p of this.procs) {
      try {
        p.kill("SIGTERM");
      } catch {}
    }
    await Promise.race([Promise.all(this.procs.map((p) => p.exited)), Bun.sleep(3000)]);
    for (const p of this.procs) {
      try {
        if (p.exitCode === null) p.kill("SIGKILL");
      } catch {}
    }
    for (const ns of this.namespaces.reverse()) spawnSync(["ip", "netns", "del", ns]);
    this.namespaces = [];
  }
}

function hex(n: number) {
  return n.toString(16).padStart(2, "0");
}

function must(cmd: string[]) {
  const r = spawnSync(cmd);
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
}
