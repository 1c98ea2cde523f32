import { type IpmiTemplate, type TemplateKey, displayArgv, loadTemplate, maskSecret, renderCommand } from "./template";
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

/** Runs a program and collects its output. Injectable so unit tests can see argv and env without ipmitool. */
export type ProcessRunner = (
  argv: readonly string[],
  env: Record<string, string>,
  opts: { timeoutMs: number; signal?: AbortSignal },
) => Promise<{ code: number; stdout: string; stderr: string; timedOut: boolean }>;

export const spawnRunner: ProcessRunner = async (argv, env, opts) => {
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn([...argv], {
      env: { ...process.env, ...env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT" || /not found|no such file/i.test(err.message)) {
      throw new PowerError(
        "missing-tool",
        `${argv[0]} is not installed or not on PATH; install it (Debian/Ubuntu: apt-get install ipmitool; EL: dnf install ipmitool)`,
      );
    }
    throw e;
  }
  let timedOut = false;
  const kill = () => {
    timedOut = true;
    proc.kill("SIGTERM");
  };
  const timer = setTimeout(kill, opts.timeoutMs);
  opts.signal?.addEventListener("abort", kill, { once: true });
  try {
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout as ReadableStream).text(),
      new Response(proc.stderr as ReadableStream).text(),
      proc.exited,
    ]);
    return { code, stdout, stderr, timedOut };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", kill);
  }
};

/** ipmitool prints this for every lanplus session on BMCs without the Get Channel Cipher Suites command. */
const NOISE = /^(Unable to Get Channel Cipher Suites|Set Session Privilege Level to .*)$/;

const ACTION_KEYS: Record<PowerAction, TemplateKey> = {
  on: "on",
  off: "off",
  cycle: "cycle",
  reset: "reset",
  soft: "soft",
  status: "status",
};

/**
 * IPMI through ipmitool, one process per operation, built from a command template (see template.ts).
 * The password goes to ipmitool in IPMI_PASSWORD (`-E`), so it never appears in `ps` or in `--show`.
 */
export class IpmitoolDriver implements PowerDriver {
  constructor(
    /** Folder of admin templates (`<data dir>/power`); undefined means built-ins only. */
    private readonly templateDir: string | undefined,
    private readonly runner: ProcessRunner = spawnRunner,
  ) {}

  private template(t: BmcTarget): { tpl: IpmiTemplate; name: string } {
    return { tpl: loadTemplate(t.template, this.templateDir), name: t.template || "ipmitool" };
  }

  /** The argv and environment for one template key, checked for what ipmitool needs. */
  command(t: BmcTarget, key: TemplateKey): { argv: string[]; env: Record<string, string> } {
    const { tpl, name } = this.template(t);
    const argv = renderCommand(tpl, key, t, name);
    const env: Record<string, string> = {};
    if (t.password !== undefined && t.password !== "") env.IPMI_PASSWORD = t.password;
    else if (argv.includes("-E")) {
      throw new PowerError("config", `node ${t.node} has no BMC password; set it with: drover node set ${t.node} --ipmipass PASSWORD (or on its profile)`);
    }
    return { argv, env };
  }

  plan(t: BmcTarget, action: PowerAction, opts: { pxe?: boolean }): PlannedCommand[] {
    const keys: TemplateKey[] = action === "cycle" && opts.pxe ? ["pxe", "cycle"] : [ACTION_KEYS[action]];
    return keys.map((k) => {
      const { argv, env } = this.command(t, k);
      return { display: displayArgv(argv, env, t.password) };
    });
  }

  private async exec(t: BmcTarget, key: TemplateKey, opts: ActionOptions): Promise<string> {
    const { argv, env } = this.command(t, key);
    const r = await this.runner(argv, env, { timeoutMs: opts.timeoutMs, signal: opts.signal });
    const stderr = r.stderr
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !NOISE.test(l));
    if (r.timedOut) {
      throw new PowerError(
        "timeout",
        `no answer from BMC ${t.address} within ${Math.round(opts.timeoutMs / 1000)} s; check the BMC address and that it is reachable (--timeout to wait longer)`,
      );
    }
    if (r.code !== 0) {
      const said = maskSecret(stderr.join("; ") || r.stdout.trim(), t.password);
      if (/RAKP|unauthorized|password|Unable to establish IPMI v2|Activate Session|session/i.test(said)) {
        throw new PowerError(
          "auth",
          `BMC ${t.address} refused the session (${said}); check the user name and password (drover node set ${t.node} --ipmiuser U --ipmipass P), and that the BMC is reachable`,
        );
      }
      throw new PowerError("bmc", `ipmitool failed (exit ${r.code}): ${said || "no output"}`);
    }
    return maskSecret(r.stdout, t.password);
  }

  async run(t: BmcTarget, action: PowerAction, opts: ActionOptions): Promise<DriverOutcome> {
    if (action === "cycle" && opts.pxe) await this.exec(t, "pxe", opts);
    const out = await this.exec(t, ACTION_KEYS[action], opts);
    const text = out.trim().split("\n").filter(Boolean).pop() ?? "";
    if (action === "status") {
      const m = /power is (on|off)/i.exec(out) ?? /\b(on|off)\b/i.exec(out);
      return { state: m ? m[1]!.toLowerCase() : undefined, message: text };
    }
    return { message: (opts.pxe && action === "cycle" ? "boot device pxe (once); " : "") + text };
  }

  async sensors(t: BmcTarget, opts: ActionOptions): Promise<SensorReading[]> {
    const out = await this.exec(t, "sensors", opts);
    return parseSensorList(out);
  }
}

/** Parses `ipmitool sensor list` (pipe-separated: name | value | unit | status | thresholds…). */
export function parseSensorList(text: string): SensorReading[] {
  const rows: SensorReading[] = [];
  for (const line of text.split("\n")) {
    const cols = line.split("|").map((c) => c.trim());
    if (cols.length < 4 || cols[0] === "") continue;
    rows.push({ name: cols[0]!, value: cols[1]!, unit: cols[2]!, status: cols[3]! });
  }
  return rows;
}
