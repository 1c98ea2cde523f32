import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A Redfish BMC simulator for tests: the DMTF ComputerSystem subset drover uses, over HTTPS with a
 * self-signed certificate made by `openssl` at test time.
 *
 * One in-process server plays many BMCs: it listens on 127.0.0.1, 127.0.0.2, … (all loopback; Linux
 * routes the whole 127/8 to lo) on one port, and the address a request arrived on says which BMC it
 * is. That lets nodes added with a hostlist (`--ipmiaddr 127.0.0.1` increments per node) each have
 * their own BMC, while one counter sees every request in flight across all of them.
 *
 * Each system holds PowerState, a boot override and the list of resets it received.
 */
export interface SimSystem {
  address: string;
  powerState: "On" | "Off";
  bootTarget: string;
  bootEnabled: string;
  resets: string[];
  /** Answer every request with this HTTP status (a broken BMC). */
  failWith?: number;
  /** Leave PowerCycle out of the allowed ResetTypes. */
  noPowerCycle?: boolean;
}

export interface RedfishLab {
  port: number;
  addresses: string[];
  systems: Map<string, SimSystem>;
  /** Requests being handled right now, and the most there ever were at once. */
  inFlight: number;
  maxInFlight: number;
  /** Every request: which BMC, what, and when it arrived (performance.now()). */
  requests: { address: string; method: string; path: string; at: number }[];
  /** The CA certificate (PEM) a client would need to trust these BMCs. */
  certPem: string;
  stop(): Promise<void>;
}

export function haveOpenssl(): boolean {
  return Bun.which("openssl") !== null;
}

/** A self-signed certificate for 127.0.0.1–127.0.0.255, valid one day. */
export function makeSelfSignedCert(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "drover-bmc-cert-"));
  try {
    const sans = Array.from({ length: 255 }, (_, i) => `IP:127.0.0.${i + 1}`).join(",");
    const r = Bun.spawnSync(
      [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=drover-test-bmc",
        "-addext",
        `subjectAltName=${sans}`,
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    if (r.exitCode !== 0) throw new Error(`openssl failed: ${r.stderr.toString()}`);
    return { cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startRedfishLab(opts: {
  count: number;
  username: string;
  password: string;
  /** Hold every request this long, so concurrent operations overlap and can be counted. */
  delayMs?: number;
  initialPower?: "On" | "Off";
}): Promise<RedfishLab> {
  if (opts.count < 1 || opts.count > 250) throw new Error("count must be 1..250");
  const tls = makeSelfSignedCert();
  const addresses = Array.from({ length: opts.count }, (_, i) => `127.0.0.${i + 1}`);
  const systems = new Map<string, SimSystem>(
    addresses.map((a) => [a, { address: a, powerState: opts.initialPower ?? "Off", bootTarget: "None", bootEnabled: "Disabled", resets: [] }]),
  );
  const expectedAuth = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString("base64")}`;
  const sysPath = "/redfish/v1/Systems/1";

  const lab: RedfishLab = {
    port: 0,
    addresses,
    systems,
    inFlight: 0,
    maxInFlight: 0,
    requests: [],
    certPem: tls.cert,
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop(true)));
    },
  };

  const json = (status: number, body: unknown) => Response.json(body, { status, headers: { "OData-Version": "4.0" } });
  const redfishError = (status: number, msg: string) =>
    json(status, { error: { code: "Base.1.0.GeneralError", message: msg, "@Message.ExtendedInfo": [{ Message: msg }] } });

  async function handle(address: string, req: Request): Promise<Response> {
    const sys = systems.get(address)!;
    const url = new URL(req.url);
    lab.requests.push({ address, method: req.method, path: url.pathname, at: performance.now() });
    lab.inFlight++;
    lab.maxInFlight = Math.max(lab.maxInFlight, lab.inFlight);
    try {
      if (opts.delayMs) await Bun.sleep(opts.delayMs);
      if (req.headers.get("authorization") !== expectedAuth) return redfishError(401, "Invalid username or password");
      if (sys.failWith) return redfishError(sys.failWith, "simulated BMC failure");
      const p = url.pathname.replace(/\/$/, "");
      if (req.method === "GET" && p === "/redfish/v1/Systems") {
        return json(200, {
          "@odata.id": "/redfish/v1/Systems",
          Name: "Computer System Collection",
          "Members@odata.count": 1,
          Members: [{ "@odata.id": sysPath }],
        });
      }
      if (req.method === "GET" && p === sysPath) {
        return json(200, {
          "@odata.id": sysPath,
          "@odata.type": "#ComputerSystem.v1_20_0.ComputerSystem",
          Id: "1",
          Name: `Simulated system at ${address}`,
          PowerState: sys.powerState,
          Boot: { BootSourceOverrideTarget: sys.bootTarget, BootSourceOverrideEnabled: sys.bootEnabled },
          Actions: {
            "#ComputerSystem.Reset": {
              target: `${sysPath}/Actions/ComputerSystem.Reset`,
              "ResetType@Redfish.AllowableValues": ["On", "ForceOff", "GracefulShutdown", "ForceRestart", ...(sys.noPowerCycle ? [] : ["PowerCycle"])],
            },
          },
        });
      }
      if (req.method === "PATCH" && p === sysPath) {
        const body = (await req.json()) as { Boot?: { BootSourceOverrideTarget?: string; BootSourceOverrideEnabled?: string } };
        if (!body.Boot) return redfishError(400, "PATCH without Boot");
        sys.bootTarget = body.Boot.BootSourceOverrideTarget ?? sys.bootTarget;
        sys.bootEnabled = body.Boot.BootSourceOverrideEnabled ?? sys.bootEnabled;
        return new Response(null, { status: 204 });
      }
      if (req.method === "POST" && p === `${sysPath}/Actions/ComputerSystem.Reset`) {
        const { ResetType } = (await req.json()) as { ResetType?: string };
        const allowed = ["On", "ForceOff", "GracefulShutdown", "ForceRestart", ...(sys.noPowerCycle ? [] : ["PowerCycle"])];
        if (!ResetType || !allowed.includes(ResetType)) return redfishError(400, `ResetType ${ResetType} not supported`);
        sys.resets.push(ResetType);
        if (ResetType === "On" || ResetType === "ForceRestart" || ResetType === "PowerCycle") sys.powerState = "On";
        if (ResetType === "ForceOff" || ResetType === "GracefulShutdown") sys.powerState = "Off";
        return new Response(null, { status: 204 });
      }
      if (req.method === "GET" && p === "/redfish/v1/Chassis") {
        return json(200, { Members: [{ "@odata.id": "/redfish/v1/Chassis/1" }] });
      }
      if (req.method === "GET" && p === "/redfish/v1/Chassis/1") {
        return json(200, { Id: "1", Thermal: { "@odata.id": "/redfish/v1/Chassis/1/Thermal" } });
      }
      if (req.method === "GET" && p === "/redfish/v1/Chassis/1/Thermal") {
        return json(200, {
          Temperatures: [{ Name: "CPU1 Temp", ReadingCelsius: 41, Status: { Health: "OK" } }],
          Fans: [{ Name: "FAN1", Reading: 5400, ReadingUnits: "RPM", Status: { Health: "OK" } }],
        });
      }
      return redfishError(404, `no resource ${req.method} ${p}`);
    } finally {
      lab.inFlight--;
    }
  }

  const servers: ReturnType<typeof Bun.serve>[] = [];
  const listen = (address: string, port: number) =>
    Bun.serve({ hostname: address, port, tls: { cert: tls.cert, key: tls.key }, fetch: (req) => handle(address, req) });
  // The first listener picks a free port; the others take the same port on their own address. A
  // collision with some other program on 127.0.0.k is unlikely but possible: retry with a new port.
  for (let attempt = 0; attempt < 5 && servers.length < addresses.length; attempt++) {
    for (const s of servers.splice(0)) s.stop(true);
    try {
      const first = listen(addresses[0]!, 0);
      servers.push(first);
      for (const a of addresses.slice(1)) servers.push(listen(a, first.port!));
      lab.port = first.port!;
    } catch {
      continue;
    }
  }
  if (servers.length < addresses.length) throw new Error("could not bind the simulated BMCs on loopback");
  return lab;
}
