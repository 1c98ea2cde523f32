/**
 * drover serve's logger: one line per event with a level and a component.
 *
 * text (default), outside journald: `2026-12-03T08:10:00.123Z INFO  dhcp: br0: DISCOVER from …`
 * text under journald (JOURNAL_STREAM set): `<6>dhcp: br0: …` — journald reads the `<N>` syslog priority
 *   prefix (SyslogLevelPrefix=yes, its default) and stamps the time itself, so no timestamp is written.
 * json: `{"time":"…","level":"info","component":"dhcp","msg":"br0: …", …fields}` one object per line.
 *
 * The message text after the prefix is the text the call site wrote, so `dhcp: foo` is still in the line.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "text" | "json";
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
/** syslog priorities (sd-daemon.h): debug 7, info 6, warning 4, err 3. */
const SYSLOG: Record<LogLevel, number> = { debug: 7, info: 6, warn: 4, error: 3 };

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  log(level: LogLevel, msg: string, fields?: Fields): void;
  enabled(level: LogLevel): boolean;
  child(component: string): Logger;
  /**
   * Today's `(line) => void` signature: "dhcp: foo" becomes component dhcp, message "foo". The level is
   * `level` (info by default), or what the text says: a line that reports a failure is a warning.
   */
  asLineLog(component?: string, level?: LogLevel): (line: string) => void;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Under journald: `<N>` priority prefixes, no timestamp (text format only). */
  journald?: boolean;
  /** Where each finished line (with its newline) goes. */
  out: (text: string) => void;
  now?: () => Date;
}

/** journald connects a service's stderr/stdout to itself and says so in JOURNAL_STREAM (systemd.exec(5)). */
export function underJournald(env: Record<string, string | undefined>): boolean {
  return !!env.JOURNAL_STREAM;
}

export function parseLogLevel(v: string): LogLevel {
  const l = v.toLowerCase() === "warning" ? "warn" : v.toLowerCase();
  if (!(LOG_LEVELS as string[]).includes(l)) throw new Error(`--log-level must be one of ${LOG_LEVELS.join(", ")}, not '${v}'`);
  return l as LogLevel;
}

export function parseLogFormat(v: string): LogFormat {
  if (!(LOG_FORMATS as string[]).includes(v)) throw new Error(`--log-format must be one of ${LOG_FORMATS.join(", ")}, not '${v}'`);
  return v as LogFormat;
}

// Words that mark a line as reporting something wrong, when the call site gave no level.
const ERROR_RE = /\b(internal error|thread failed|crashed)\b/i;
const WARN_RE = /\b(failed|cannot|could not|refused|not answer|error)\b/i;
const COMPONENT_RE = /^([a-z][a-z0-9-]{0,23}): /;

/** The component and level of a legacy line, e.g. "tftp: cannot read x" → tftp, warn, "cannot read x". */
export function classifyLine(line: string, fallbackComponent: string, level: LogLevel = "info"): { component: string; level: LogLevel; msg: string } {
  const m = COMPONENT_RE.exec(line);
  const component = m ? m[1]! : fallbackComponent;
  const msg = m ? line.slice(m[0].length) : line;
  if (level === "info") {
    if (ERROR_RE.test(msg)) level = "error";
    else if (WARN_RE.test(msg)) level = "warn";
  }
  return { component, level, msg };
}

export function createLogger(o: LoggerOptions, component = "drover"): Logger {
  const min = RANK[o.level ?? "info"];
  const format = o.format ?? "text";
  const now = o.now ?? (() => new Date());
  const write = (level: LogLevel, comp: string, msg: string, fields?: Fields) => {
    if (RANK[level] < min) return;
    if (format === "json") {
      o.out(`${JSON.stringify({ time: now().toISOString(), level, component: comp, msg, ...fields })}\n`);
      return;
    }
    const extra =
      fields && Object.keys(fields).length
        ? ` ${Object.entries(fields)
            .map(([k, v]) => `${k}=${typeof v === "string" && !/\s|"/.test(v) ? v : JSON.stringify(v)}`)
            .join(" ")}`
        : "";
    // The component prefix ("dhcp: ") is the one the lines always had; the message follows unchanged.
    const body = `${comp}: ${msg}${extra}`;
    o.out(o.journald ? `<${SYSLOG[level]}>${body}\n` : `${now().toISOString()} ${level.toUpperCase().padEnd(5)} ${body}\n`);
  };
  const make = (comp: string): Logger => {
    const l: Logger = {
      debug: (m, f) => write("debug", comp, m, f),
      info: (m, f) => write("info", comp, m, f),
      warn: (m, f) => write("warn", comp, m, f),
      error: (m, f) => write("error", comp, m, f),
      log: (lv, m, f) => write(lv, comp, m, f),
      enabled: (lv) => RANK[lv] >= min,
      child: (c) => make(c),
      asLineLog: (fallback = comp, level = "info") => {
        // A debug line is never raised; an info line may be (a failure), so it is classified first.
        if (level !== "info" && RANK[level] < min) return () => {};
        return (line) => {
          for (const one of line.split("\n")) {
            if (!one) continue;
            const c = classifyLine(one, fallback, level);
            write(c.level, c.component, c.msg);
          }
        };
      },
    };
    return l;
  };
  return make(component);
}
