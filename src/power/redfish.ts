import { maskSecret } from "./template";
import {
  type ActionOptions,
  type BmcTarget,
  type DriverOutcome,
  type PlannedCommand,
  type PowerAction,
  type PowerDriver,
  PowerError,
  type SensorReading,
} from "./types";

/**
 * Redfish (DMTF DSP0266) over HTTPS with fetch: the ComputerSystem subset drover needs.
 *
 *   GET  /redfish/v1/Systems                       → the first member is the node's ComputerSystem
 *   GET  {system}                                  → PowerState, the Reset action's target and allowed ResetTypes
 *   POST {system}/Actions/ComputerSystem.Reset     → {"ResetType": On|ForceOff|GracefulShutdown|ForceRestart|PowerCycle}
 *   PATCH {system}                                 → {"Boot": {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once"}}
 *   GET  /redfish/v1/Chassis → {chassis}/Thermal   → sensors
 *
 * Authentication is HTTP Basic on every request (no session to leak or expire). A BMC's certificate is
 * verified unless the node or its profile says `ipmi.insecure` (most BMCs ship a self-signed one).
 */
const RESET_TYPES: Record<Exclude<PowerAction, "status">, string> = {
  on: "On",
  off: "ForceOff",
  soft: "GracefulShutdown",
  reset: "ForceRestart",
  cycle: "PowerCycle",
};

/** Errors Bun/BoringSSL report for certificates that do not verify. */
const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME|certificate|ERR_TLS|unknown ca|HOSTNAME_MISMATCH/i;

type Json = Record<string, unknown>;

export type FetchLike = (url: string, init: RequestInit & { tls?: { rejectUnauthorized?: boolean } }) => Promise<Response>;

export class RedfishDriver implements PowerDriver {
  constructor(private readonly fetchImpl: FetchLike = fetch as unknown as FetchLike) {}

  private base(t: BmcTarget): string {
    const host = t.address.includes(":") && !t.address.startsWith("[") ? `[${t.address}]` : t.address;
    return `https://${host}${t.port && t.port !== 443 ? `:${t.port}` : ""}`;
  }

  plan(t: BmcTarget, action: PowerAction, opts: { pxe?: boolean }): PlannedCommand[] {
    const b = this.base(t);
    const who = `(user ${t.username ?? "?"}, password ********${t.insecure ? ", certificate not verified" : ""})`;
    const steps = [`GET ${b}/redfish/v1/Systems ${who}`, `GET ${b}{system}`];
    if (action === "cycle" && opts.pxe) steps.push(`PATCH ${b}{system} {"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Once"}}`);
    if (action !== "status") steps.push(`POST ${b}{system}/Actions/ComputerSystem.Reset {"ResetType":"${RESET_TYPES[action]}"}`);
    return [{ display: steps.join("\n  ") }];
  }

  private async request(t: BmcTarget, method: string, path: string, opts: ActionOptions, body?: Json): Promise<Json> {
    if (!t.username || !t.password) {
      throw new PowerError(
        "config",
        `node ${t.node} needs a BMC user name and password for Redfish; set them with: drover node set ${t.node} --ipmiuser U --ipmipass P`,
      );
    }
    const url = path.startsWith("http") ? path : `${this.base(t)}${path}`;
    const signals = [AbortSignal.timeout(opts.timeoutMs), ...(opts.signal ? [opts.signal] : [])];
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method,
        headers: {
          Authorization: `Basic ${Buffer.from(`${t.username}:${t.password}`).toString("base64")}`,
          Accept: "application/json",
          ...(body ? { "Content-Type": "application/json" } : {}),
          "OData-Version": "4.0",
        },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.any(signals),
        redirect: "manual",
        tls: { rejectUnauthorized: !t.insecure },
      });
    } catch (e) {
      const err = e as Error & { code?: string };
      const what = `${err.code ?? ""} ${err.message}`;
      if (err.name === "TimeoutError" || err.name === "AbortError") {
        throw new PowerError(
          "timeout",
          `no answer from Redfish BMC ${t.address} within ${Math.round(opts.timeoutMs / 1000)} s; check the address and port (--timeout to wait longer)`,
        );
      }
      if (TLS_CODES.test(what)) {
        throw new PowerError(
          "tls",
          `the TLS certificate of BMC ${t.address} is not trusted (${err.code ?? err.message}); if this BMC uses a self-signed certificate, allow it ` +
            `with: drover node set ${t.node} --bmcinsecure (or on its profile)`,
        );
      }
      throw new PowerError(
        "unreachable",
        maskSecret(`cannot reach Redfish BMC ${url}: ${err.code ?? err.message}; check --ipmiaddr/--ipmiport and that the BMC serves HTTPS`, t.password),
      );
    }
    const text = await res.text();
    if (res.status === 401 || res.status === 403) {
      throw new PowerError(
        "auth",
        `BMC ${t.address} refused the credentials (HTTP ${res.status}); check them with: drover node set ${t.node} --ipmiuser U --ipmipass P`,
      );
    }
    if (!res.ok) {
      throw new PowerError("bmc", maskSecret(`BMC ${t.address} answered ${method} ${path} with HTTP ${res.status}: ${redfishMessage(text)}`, t.password));
    }
    if (text.trim() === "") return {};
    try {
      return JSON.parse(text) as Json;
    } catch {
      if (method !== "GET") return {};
      throw new PowerError("bmc", `BMC ${t.address} did not answer ${path} with JSON; is it a Redfish service?`);
    }
  }

  /** The node's ComputerSystem: the first member of /redfish/v1/Systems. */
  private async system(t: BmcTarget, opts: ActionOptions): Promise<{ path: string; doc: Json }> {
    const coll = await this.request(t, "GET", "/redfish/v1/Systems", opts);
    const members = (coll.Members as { "@odata.id"?: string }[] | undefined) ?? [];
    const path = members[0]?.["@odata.id"];
    if (!path) throw new PowerError("bmc", `BMC ${t.address} lists no ComputerSystem under /redfish/v1/Systems`);
    return { path, doc: await this.request(t, "GET", path, opts) };
  }

  async run(t: BmcTarget, action: PowerAction, opts: ActionOptions): Promise<DriverOutcome> {
    const sys = await this.system(t, opts);
    const state = typeof sys.doc.PowerState === "string" ? sys.doc.PowerState : undefined;
    if (action === "status") return { state: state?.toLowerCase(), message: `PowerState ${state ?? "unknown"}` };
    const notes: string[] = [];
    if (action === "cycle" && opts.pxe) {
      await this.request(t, "PATCH", sys.path, opts, { Boot: { BootSourceOverrideTarget: "Pxe", BootSourceOverrideEnabled: "Once" } });
      notes.push("boot override Pxe (once)");
    }
    const reset = (sys.doc.Actions as Json | undefined)?.["#ComputerSystem.Reset"] as Json | undefined;
    const target = (reset?.target as string | undefined) ?? `${sys.path}/Actions/ComputerSystem.Reset`;
    const allowed = reset?.["ResetType@Redfish.AllowableValues"] as string[] | undefined;
    let types = [RESET_TYPES[action]];
    // Not every BMC offers PowerCycle; a cycle is then ForceOff + On (or just On when it is off already).
    if (action === "cycle" && allowed && !allowed.includes("PowerCycle")) types = state === "Off" ? ["On"] : ["ForceOff", "On"];
    for (const ty of types) {
      if (allowed && !allowed.includes(ty)) {
        throw new PowerError("bmc", `BMC ${t.address} does not offer ResetType ${ty} (it offers ${allowed.join(", ")})`);
      }
      await this.request(t, "POST", target, opts, { ResetType: ty });
      notes.push(`ResetType ${ty}`);
    }
    return { message: notes.join("; ") };
  }

  async sensors(t: BmcTarget, opts: ActionOptions): Promise<SensorReading[]> {
    const coll = await this.request(t, "GET", "/redfish/v1/Chassis", opts);
    const rows: SensorReading[] = [];
    for (const m of (coll.Members as { "@odata.id"?: string }[] | undefined) ?? []) {
      if (!m["@odata.id"]) continue;
      const chassis = await this.request(t, "GET", m["@odata.id"], opts);
      const thermalPath = (chassis.Thermal as { "@odata.id"?: string } | undefined)?.["@odata.id"];
      if (!thermalPath) continue;
      const thermal = await this.request(t, "GET", thermalPath, opts);
      for (const s of (thermal.Temperatures as Json[] | undefined) ?? []) {
        rows.push({ name: String(s.Name ?? "?"), value: String(s.ReadingCelsius ?? "na"), unit: "degrees C", status: health(s) });
      }
      for (const s of (thermal.Fans as Json[] | undefined) ?? []) {
        rows.push({ name: String(s.Name ?? s.FanName ?? "?"), value: String(s.Reading ?? "na"), unit: String(s.ReadingUnits ?? "RPM"), status: health(s) });
      }
    }
    return rows;
  }
}

function health(s: Json): string {
  const st = s.Status as Json | undefined;
  return String(st?.Health ?? st?.State ?? "na");
}

/** The first extended-info message in a Redfish error body, or the body's start. */
function redfishMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: { message?: string; "@Message.ExtendedInfo"?: { Message?: string }[] } };
    return j.error?.["@Message.ExtendedInfo"]?.[0]?.Message ?? j.error?.message ?? text.slice(0, 200);
  } catch {
    return text.slice(0, 200) || "(empty body)";
  }
}
