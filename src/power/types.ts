import type { BmcType } from "../domain/conf";

/**
 * The seam between the power service and the BMC drivers. Drivers know how to talk to one BMC
 * (ipmitool, Redfish); they never see the node store, the cascade or the CLI. The service resolves
 * nodes into `BmcTarget`s, runs drivers under the fan-out limits, and turns outcomes into results.
 */

/** drover's power verbs, as Warewulf's `wwctl power` spells them. */
export type PowerAction = "on" | "off" | "cycle" | "reset" | "soft" | "status";
export const POWER_ACTIONS: readonly PowerAction[] = ["on", "off", "cycle", "reset", "soft", "status"];

/** Everything a driver needs to reach one node's BMC, already resolved through the profile cascade. */
export interface BmcTarget {
  node: string;
  type: Exclude<BmcType, "none">;
  /** BMC host: an IPv4/IPv6 address or a name (Warewulf stores the address in `ipmi.ipaddr`). */
  address: string;
  /** UDP port for IPMI (default 623), TCP port for Redfish HTTPS (default 443). */
  port?: number;
  username?: string;
  /** Never printed: drivers hand it to ipmitool through the environment, or to Redfish in a header. */
  password?: string;
  /** ipmitool interface (default lanplus). */
  interface?: string;
  /** Serial-over-LAN escape character (default ~). */
  escapechar?: string;
  /** Name of the ipmitool command template (default "ipmitool"). */
  template?: string;
  /** Accept a self-signed or otherwise untrusted TLS certificate (Redfish). */
  insecure: boolean;
  /** The node's `ipmi.tags`, usable in templates as {{tag.KEY}}. */
  tags: Record<string, string>;
}

export interface ActionOptions {
  /** Before `cycle`: set a one-time boot override to PXE. */
  pxe?: boolean;
  /** Give up on this BMC after this long. */
  timeoutMs: number;
  /** Cancels the operation (the service's overall cancel). */
  signal?: AbortSignal;
}

/** What one BMC said. `state` is "on"/"off" when the BMC reported a power state. */
export interface DriverOutcome {
  state?: string;
  message: string;
}

/** One sensor reading, whatever protocol it came from. */
export interface SensorReading {
  name: string;
  value: string;
  unit: string;
  status: string;
}

/** A command line as it would run, for `--show`; secrets are already masked. */
export interface PlannedCommand {
  /** Human-readable: the argv joined, or the HTTP requests. */
  display: string;
}

export interface PowerDriver {
  run(target: BmcTarget, action: PowerAction, opts: ActionOptions): Promise<DriverOutcome>;
  sensors(target: BmcTarget, opts: ActionOptions): Promise<SensorReading[]>;
  /** What `run` would do, with the password masked. Does no I/O beyond reading templates. */
  plan(target: BmcTarget, action: PowerAction, opts: { pxe?: boolean }): PlannedCommand[];
}

/**
 * A failure talking to one BMC. `kind` lets the service and the CLI group failures; the message says
 * what to do next and never contains the password.
 */
export type PowerErrorKind = "config" | "auth" | "tls" | "unreachable" | "timeout" | "bmc" | "missing-tool";

export class PowerError extends Error {
  constructor(
    readonly kind: PowerErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "PowerError";
  }
}
