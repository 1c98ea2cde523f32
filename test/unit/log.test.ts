import { describe, expect, test } from "bun:test";
import { classifyLine, createLogger, parseLogFormat, parseLogLevel, underJournald } from "../../src/runtime/log";

const at = new Date("2026-12-03T08:00:00.000Z");
const capture = (o: Partial<Parameters<typeof createLogger>[0]> = {}) => {
  const lines: string[] = [];
  const log = createLogger({ out: (t) => lines.push(t), now: () => at, ...o });
  return { log, lines };
};

describe("logger", () => {
  test("text: timestamp, level and component before the message, which stays intact", () => {
    const { log, lines } = capture();
    log.asLineLog()("drover: DHCP (authoritative) on br0:67");
    log.child("tftp").warn("cannot read x");
    expect(lines).toEqual(["2026-12-03T08:00:00.000Z INFO  drover: DHCP (authoritative) on br0:67\n", "2026-12-03T08:00:00.000Z WARN  tftp: cannot read x\n"]);
    expect(lines[0]).toMatch(/drover: (DHCP \(|DHCP is off)/);
  });

  test("levels below the minimum are dropped", () => {
    const { log, lines } = capture({ level: "warn" });
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    log.asLineLog()("dhcp: br0: DISCOVER");
    log.asLineLog()("tftp: internal error handling a packet");
    expect(lines.map((l) => l.split(" ")[1])).toEqual(["WARN", "ERROR", "ERROR"]);
    expect(log.enabled("info")).toBe(false);
    const d = capture({ level: "debug" });
    d.log.asLineLog("drover", "debug")("dhcp: dropped");
    expect(d.lines).toEqual(["2026-12-03T08:00:00.000Z DEBUG dhcp: dropped\n"]);
    expect(capture().log.asLineLog("x", "debug").toString()).toContain("=> {}");
  });

  test("json: one object per line with time, level, component, msg and the fields", () => {
    const { log, lines } = capture({ format: "json", journald: true });
    log.child("api").info("PATCH /api/v1/nodes/n1", { user: "admin", status: 200 });
    log.asLineLog()("drover: settings change by bob refused, the previous settings stay in effect: x");
    expect(lines.every((l) => l.endsWith("}\n"))).toBe(true);
    expect(JSON.parse(lines[0]!)).toEqual({
      time: at.toISOString(),
      level: "info",
      component: "api",
      msg: "PATCH /api/v1/nodes/n1",
      user: "admin",
      status: 200,
    });
    expect(JSON.parse(lines[1]!)).toMatchObject({
      level: "warn",
      component: "drover",
      msg: "settings change by bob refused, the previous settings stay in effect: x",
    });
  });

  test("journald: a <N> syslog priority, no timestamp", () => {
    const { log, lines } = capture({ journald: true, level: "debug" });
    log.debug("a");
    log.info("b");
    log.warn("c");
    log.error("d");
    log.asLineLog()("no component here");
    expect(lines).toEqual(["<7>drover: a\n", "<6>drover: b\n", "<4>drover: c\n", "<3>drover: d\n", "<6>drover: no component here\n"]);
    expect(underJournald({ JOURNAL_STREAM: "8:12345" })).toBe(true);
    expect(underJournald({})).toBe(false);
  });

  test("legacy lines: component from the prefix, warnings and errors from the words", () => {
    expect(classifyLine("dhcp: foo", "drover")).toEqual({ component: "dhcp", level: "info", msg: "foo" });
    expect(classifyLine("drover: could not record kernel of aa", "drover").level).toBe("warn");
    expect(classifyLine("tftp: the data plane thread failed: x", "drover").level).toBe("error");
    expect(classifyLine("DHCP: not a component", "drover")).toEqual({ component: "drover", level: "info", msg: "DHCP: not a component" });
  });

  test("the serve flags' values", () => {
    expect(parseLogLevel("debug")).toBe("debug");
    expect(parseLogLevel("WARNING")).toBe("warn");
    expect(() => parseLogLevel("loud")).toThrow(/--log-level must be one of debug, info, warn, error/);
    expect(parseLogFormat("json")).toBe("json");
    expect(() => parseLogFormat("xml")).toThrow(/--log-format/);
  });
});
