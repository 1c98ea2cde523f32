import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { displayArgv, loadTemplate, maskSecret, renderCommand } from "../../../src/power/template";
import { type BmcTarget, PowerError } from "../../../src/power/types";

const target = (over: Partial<BmcTarget> = {}): BmcTarget => ({
  node: "n001",
  type: "ipmi",
  address: "10.1.0.1",
  username: "admin",
  password: "pa ss'word",
  insecure: false,
  tags: {},
  ...over,
});

test("the built-in template: lanplus, -E for the password, optional port left out when unset", () => {
  const tpl = loadTemplate(undefined, undefined);
  expect(renderCommand(tpl, "on", target(), "ipmitool")).toEqual([
    "ipmitool",
    "-I",
    "lanplus",
    "-H",
    "10.1.0.1",
    "-U",
    "admin",
    "-E",
    "chassis",
    "power",
    "on",
  ]);
  expect(renderCommand(tpl, "status", target({ port: 6230, interface: "lan" }), "ipmitool")).toEqual([
    "ipmitool",
    "-I",
    "lan",
    "-H",
    "10.1.0.1",
    "-p",
    "6230",
    "-U",
    "admin",
    "-E",
    "chassis",
    "power",
    "status",
  ]);
  expect(renderCommand(tpl, "pxe", target(), "ipmitool").slice(-3)).toEqual(["chassis", "bootdev", "pxe"]);
  expect(renderCommand(tpl, "console", target({ escapechar: "&" }), "ipmitool").slice(-4)).toEqual(["-e", "&", "sol", "activate"]);
  expect(renderCommand(tpl, "console", target(), "ipmitool").slice(-4)).toEqual(["-e", "~", "sol", "activate"]);
});

test("the password is never in an argv, whatever the template", () => {
  const tpl = loadTemplate(undefined, undefined);
  for (const k of ["on", "off", "cycle", "reset", "soft", "status", "pxe", "console", "sensors"] as const) {
    expect(renderCommand(tpl, k, target(), "ipmitool").join(" ")).not.toContain("pa ss'word");
  }
});

test("an admin template in the data dir: per-node by name, and a file named ipmitool replaces the default", () => {
  const dir = mkdtempSync(join(tmpdir(), "drover-tpl-"));
  try {
    writeFileSync(join(dir, "dell.tmpl"), "# old iDRACs need cipher suite 3\nbase: ipmitool -I lanplus -H {{ipaddr}} -U {{username}} -C 3 -E\n");
    const dell = loadTemplate("dell", dir);
    expect(renderCommand(dell, "off", target(), "dell")).toEqual([
      "ipmitool",
      "-I",
      "lanplus",
      "-H",
      "10.1.0.1",
      "-U",
      "admin",
      "-C",
      "3",
      "-E",
      "chassis",
      "power",
      "off",
    ]);
    writeFileSync(join(dir, "ipmitool.tmpl"), "base: ipmitool -I lanplus -H {{ipaddr}} [-R {{tag.retries}}] -E\non: chassis power on\n");
    const site = loadTemplate(undefined, dir);
    expect(renderCommand(site, "on", target({ tags: { retries: "5" } }), "ipmitool")).toEqual([
      "ipmitool",
      "-I",
      "lanplus",
      "-H",
      "10.1.0.1",
      "-R",
      "5",
      "-E",
      "chassis",
      "power",
      "on",
    ]);
    expect(renderCommand(site, "on", target(), "ipmitool")).toEqual(["ipmitool", "-I", "lanplus", "-H", "10.1.0.1", "-E", "chassis", "power", "on"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("mistakes in templates are errors that say what to do", () => {
  const dir = mkdtempSync(join(tmpdir(), "drover-tpl-"));
  try {
    writeFileSync(join(dir, "leaky.tmpl"), "base: ipmitool -H {{ipaddr}} -P {{password}}\n");
    expect(() => renderCommand(loadTemplate("leaky", dir), "on", target(), "leaky")).toThrow(/visible to every user in 'ps'/);
    writeFileSync(join(dir, "typo.tmpl"), "base: ipmitool -H {{ipadr}} -E\n");
    expect(() => renderCommand(loadTemplate("typo", dir), "on", target(), "typo")).toThrow(/unknown variable \{\{ipadr\}\}/);
    writeFileSync(join(dir, "bad.tmpl"), "power-on: chassis power on\n");
    expect(() => loadTemplate("bad", dir)).toThrow(/line 1: expected 'KEY: words'/);
    expect(() => loadTemplate("missing", dir)).toThrow(/ipmi template 'missing' not found/);
    expect(() => loadTemplate("../../etc/passwd", dir)).toThrow(PowerError);
    // A required word with no value (no optional brackets) is refused rather than passed empty.
    writeFileSync(join(dir, "strict.tmpl"), "base: ipmitool -H {{ipaddr}} -p {{port}} -E\n");
    expect(() => renderCommand(loadTemplate("strict", dir), "on", target(), "strict")).toThrow(/has no value for this node/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("displayArgv quotes, masks environment values and any appearance of the password", () => {
  expect(displayArgv(["ipmitool", "-H", "h", "-e", "&", "sol", "activate"], { IPMI_PASSWORD: "pw" }, "pw")).toBe(
    "IPMI_PASSWORD=******** ipmitool -H h -e '&' sol activate",
  );
  expect(maskSecret("refused pass pw and pw", "pw")).toBe("refused pass ******** and ********");
  expect(maskSecret("nothing to hide", undefined)).toBe("nothing to hide");
});
