import { type Conf, NODE_DEFAULTS } from "../domain/conf";
import { invalid } from "../domain/errors";
import { runFanout } from "../power/fanout";
import { IpmitoolDriver } from "../power/ipmitool";
import { RedfishDriver } from "../power/redfish";
import { displayArgv, maskSecret } from "../power/template";
import { type BmcTarget, type PowerAction, type PowerDriver, PowerError, type SensorReading } from "../power/types";

/**
 * Power and console: the use cases behind `drover power …`, `node console` and `node sensors`, and
 * later the web API. Resolves node patterns to BMC targets through the profile cascade, runs the right
 * driver for each node's `ipmi.type` under the fan-out limits, and reports one result per node.
 *
 * Nothing this service returns contains a BMC password: commands are masked, and every error message
 * coming back from a driver is scrubbed of the node's password before it leaves.
 */
export interface PowerNodeSource {
  listNodes(patterns: readonly string[]): { name: string; conf: Conf }[];
}

export interface PowerServiceOptions {
  /** `<data dir>/power`: admin ipmitool templates. */
  templateDir?: string;
  drivers?: Partial<Record<BmcTarget["type"], PowerDriver>>;
  /** For tests: a fake sleep that records the stagger. */
  sleep?: (ms: number) => Promise<void>;
}

export interface RunOptions {
  /** At most this many BMC operations at once (default 50, as Warewulf). */
  fanout?: number;
  /** Wait this long between starting consecutive operations (default 0). */
  staggerMs?: number;
  /** `cycle` only: boot from the network once. */
  pxe?: boolean;
  /** Per-node limit (default 30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called as each node finishes, e.g. for progress output or server-sent events. */
  onResult?: (r: PowerResult) => void;
  /** Called as each node starts. */
  onStart?: (node: string) => void;
}

export interface PowerResult {
  node: string;
  bmc: BmcTarget["type"] | "none";
  ok: boolean;
  /** "on"/"off" for status when the BMC said so. */
  state?: string;
  message: string;
}

export interface PlannedNode {
  node: string;
  bmc: BmcTarget["type"] | "none";
  /** Each step, password masked; empty with `error` set when the node cannot be driven. */
  commands: string[];
  error?: string;
}

export interface SensorResult {
  node: string;
  ok: boolean;
  readings: SensorReading[];
  message: string;
}

export const DEFAULT_FANOUT = 50;
export const DEFAULT_TIMEOUT_MS = 30_000;

/** A node that cannot be reached through a driver, and why (said to the admin). */
type Resolution = { node: string; target: BmcTarget } | { node: string; bmc: "none" | BmcTarget["type"]; error: string };

export class PowerService {
  private readonly drivers: Record<BmcTarget["type"], PowerDriver>;

  constructor(
    private readonly nodes: PowerNodeSource,
    private readonly opts: PowerServiceOptions = {},
  ) {
    this.drivers = {
      ipmi: opts.drivers?.ipmi ?? new IpmitoolDriver(opts.templateDir),
      redfish: opts.drivers?.redfish ?? new RedfishDriver(),
    };
  }

  /** Node names from patterns, or every node with `all`. Refuses an empty selection. */
  private select(patterns: readonly string[], all = false): { name: string; conf: Conf }[] {
    if (!all && patterns.length === 0) throw invalid("give node names, a hostlist or a glob (e.g. n[001-100]), or -a for every node");
    return this.nodes.listNodes(all ? [] : patterns);
  }

  private resolveNode(n: { name: string; conf: Conf }): Resolution {
    const i = n.conf.ipmi ?? {};
    const type = (i.type ?? NODE_DEFAULTS.bmcType) as string;
    if (type === "none") {
      return {
        node: n.name,
        bmc: "none",
        error: `node ${n.name} has BMC type 'none', so drover does not drive its power; set --bmctype ipmi or redfish on the node or its profile`,
      };
    }
    if (type !== "ipmi" && type !== "redfish") {
      return { node: n.name, bmc: "none", error: `node ${n.name} has unknown BMC type '${type}'; use --bmctype ipmi, redfish or none` };
    }
    if (!i.ipaddr) {
      return { node: n.name, bmc: type, error: `node ${n.name} has no BMC address; set it with: drover node set ${n.name} --ipmiaddr ADDRESS` };
    }
    return {
      node: n.name,
      target: {
        node: n.name,
        type,
        address: i.ipaddr.split("/")[0]!,
        port: i.port,
        username: i.username,
        password: i.password,
        interface: i.interface,
        escapechar: i.escapechar,
        template: i.template,
        insecure: !!i.insecure,
        tags: { ...(i.tags ?? {}) },
      },
    };
  }

  private failure(node: string, bmc: PowerResult["bmc"], e: unknown, password?: string): PowerResult {
    const msg = e instanceof PowerError ? e.message : `unexpected error: ${(e as Error)?.message ?? String(e)}`;
    return { node, bmc, ok: false, message: maskSecret(msg, password) };
  }

  /** What `run` would do, for `--show`: no BMC is contacted. */
  plan(patterns: readonly string[], action: PowerAction, opts: { all?: boolean; pxe?: boolean } = {}): PlannedNode[] {
    checkPxe(action, opts.pxe);
    return this.select(patterns, opts.all).map((n) => {
      const r = this.resolveNode(n);
      if (!("target" in r)) return { node: r.node, bmc: r.bmc, commands: [], error: r.error };
      try {
        return { node: r.node, bmc: r.target.type, commands: this.drivers[r.target.type].plan(r.target, action, { pxe: opts.pxe }).map((c) => c.display) };
      } catch (e) {
        return { node: r.node, bmc: r.target.type, commands: [], error: this.failure(r.node, r.target.type, e, r.target.password).message };
      }
    });
  }

  /** Runs a power action on every selected node, at most `fanout` at once, `staggerMs` apart. */
  async run(patterns: readonly string[], action: PowerAction, opts: RunOptions & { all?: boolean } = {}): Promise<PowerResult[]> {
    checkPxe(action, opts.pxe);
    const fanout = opts.fanout ?? DEFAULT_FANOUT;
    const staggerMs = opts.staggerMs ?? 0;
    if (!Number.isInteger(fanout) || fanout < 1) throw invalid(`--fanout must be a whole number of at least 1, not ${fanout}`);
    if (!Number.isFinite(staggerMs) || staggerMs < 0) throw invalid(`--stagger must be milliseconds (0 or more), not ${staggerMs}`);
    const resolved = this.select(patterns, opts.all).map((n) => this.resolveNode(n));
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const settled = await runFanout(
      resolved,
      async (r) => {
        opts.onStart?.(r.node);
        let result: PowerResult;
        if (!("target" in r)) result = { node: r.node, bmc: r.bmc, ok: false, message: r.error };
        else {
          const t = r.target;
          try {
            const o = await this.drivers[t.type].run(t, action, { pxe: opts.pxe, timeoutMs, signal: opts.signal });
            result = { node: t.node, bmc: t.type, ok: true, state: o.state, message: maskSecret(o.message, t.password) };
          } catch (e) {
            result = this.failure(t.node, t.type, e, t.password);
          }
        }
        opts.onResult?.(result);
        return result;
      },
      // Nodes that cannot be driven are reported at once and do not count against the stagger.
      { fanout, staggerMs, sleep: this.opts.sleep, signal: opts.signal },
    );
    return settled.map((s, i) => (s.ok ? s.value : this.failure(resolved[i]!.node, "none", s.error)));
  }

  async sensors(patterns: readonly string[], opts: Omit<RunOptions, "pxe" | "onResult"> & { all?: boolean } = {}): Promise<SensorResult[]> {
    const resolved = this.select(patterns, opts.all).map((n) => this.resolveNode(n));
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const settled = await runFanout(
      resolved,
      async (r): Promise<SensorResult> => {
        if (!("target" in r)) return { node: r.node, ok: false, readings: [], message: r.error };
        const t = r.target;
        try {
          const readings = await this.drivers[t.type].sensors(t, { timeoutMs, signal: opts.signal });
          return { node: t.node, ok: true, readings, message: readings.length ? "" : "the BMC reports no sensors" };
        } catch (e) {
          return { node: t.node, ok: false, readings: [], message: this.failure(t.node, t.type, e, t.password).message };
        }
      },
      { fanout: opts.fanout ?? DEFAULT_FANOUT, staggerMs: opts.staggerMs ?? 0, sleep: this.opts.sleep, signal: opts.signal },
    );
    return settled.map((s, i) => (s.ok ? s.value : { node: resolved[i]!.node, ok: false, readings: [], message: String(s.error) }));
  }

  /**
   * The Serial-over-LAN command for one node's console: argv and environment for the caller to run with
   * the terminal attached. Only IPMI has a standard serial console.
   */
  console(name: string): { argv: string[]; env: Record<string, string>; display: string; escapechar: string } {
    const [n] = this.nodes.listNodes([name]);
    if (!n || n.name !== name) throw invalid(`console takes one node name, not a pattern ('${name}'); e.g. drover node console n001`);
    const r = this.resolveNode(n);
    if (!("target" in r)) throw invalid(r.error);
    if (r.target.type !== "ipmi") {
      throw invalid(
        `node ${name} uses a Redfish BMC; drover's console is IPMI Serial-over-LAN. Set --bmctype ipmi for the console (most Redfish BMCs also speak ` +
          `IPMI), or use the BMC's web console`,
      );
    }
    const driver = this.drivers.ipmi;
    if (!(driver instanceof IpmitoolDriver)) throw invalid("the IPMI driver in use has no console");
    try {
      const { argv, env } = driver.command(r.target, "console");
      return { argv, env, display: displayArgv(argv, env, r.target.password), escapechar: r.target.escapechar || "~" };
    } catch (e) {
      throw invalid(this.failure(name, "ipmi", e, r.target.password).message);
    }
  }
}

function checkPxe(action: PowerAction, pxe?: boolean) {
  if (pxe && action !== "cycle") throw invalid(`--pxe goes with 'power cycle' (a one-time network boot on the next start), not with '${action}'`);
}
