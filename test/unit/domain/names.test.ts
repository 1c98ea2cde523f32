import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  IMAGE_NAME,
  INTERFACE_NAME,
  LIST_ENTRY,
  NETWORK_NAME,
  OVERLAY_NAME,
  POWER_TEMPLATE_NAME,
  USER_NAME,
  isHostname,
  isTemplateName,
} from "../../../src/domain/names";
import { human } from "../../../src/domain/size";

const all = (re: RegExp | ((s: string) => boolean), xs: string[]) => xs.filter((x) => (typeof re === "function" ? re(x) : re.test(x)));

test("image and overlay names: a directory name under the data dir, at most 128 characters", () => {
  expect(OVERLAY_NAME).toBe(IMAGE_NAME);
  const ok = ["rocky-10", "wwinit", "site.tools_v2+x", "9", "a".repeat(128)];
  expect(all(IMAGE_NAME, ok)).toEqual(ok);
  expect(all(IMAGE_NAME, ["", ".hidden", "-rf", "_x", "a/b", "..", "a b", "a\u0000b", "a\nb", "a".repeat(129), "ä"])).toEqual([]);
});

test("node and profile names are RFC 1123 host names", () => {
  const ok = ["n001", "rack1-node01.cluster", "compute", "N1", "a".repeat(63)];
  expect(all(isHostname, ok)).toEqual(ok);
  expect(all(isHostname, ["", "-n1", "n1-", "n_1", "n 1", "a..b", ".a", "a".repeat(64), `${"a.".repeat(127)}ab`])).toEqual([]);
});

test("network names and list entries (a leading ~ takes an entry out)", () => {
  expect(all(NETWORK_NAME, ["default", "ib0", "a_b.c-d"])).toEqual(["default", "ib0", "a_b.c-d"]);
  expect(all(NETWORK_NAME, ["", "~default", "a b", "a/b", "a:b"])).toEqual([]);
  expect(all(LIST_ENTRY, ["wwinit", "~wwinit", "a_b.c-d"])).toEqual(["wwinit", "~wwinit", "a_b.c-d"]);
  expect(all(LIST_ENTRY, ["", "~", "~~a", "a~", "a b", "a,b"])).toEqual([]);
});

test("interface names fit IFNAMSIZ", () => {
  expect(all(INTERFACE_NAME, ["eth0", "enp1s0f1", "ib0.8001", "bond0:1", "veth@if2", "a".repeat(15)])).toHaveLength(6);
  expect(all(INTERFACE_NAME, ["", "a".repeat(16), "eth 0", "a/b"])).toEqual([]);
});

test("template and user names", () => {
  expect(all(isTemplateName, ["default", "_x", "site-2.v1"])).toHaveLength(3);
  expect(all(isTemplateName, [".x", "-x", "a/b", "x".repeat(65)])).toEqual([]);
  expect(all(POWER_TEMPLATE_NAME, ["ipmitool", "site.redfish_2"])).toHaveLength(2);
  expect(all(POWER_TEMPLATE_NAME, ["", ".x", "_x", "a/b"])).toEqual([]);
  expect(all(USER_NAME, ["admin", "_svc", "ops.team-1"])).toHaveLength(3);
  expect(all(USER_NAME, ["Admin", "1ops", "", "a".repeat(33)])).toEqual([]);
});

test("human(): binary units, one decimal above bytes; nothing is the empty text", () => {
  expect([0, 1023, 1024, 1536, 5 * 2 ** 20, 3.25 * 2 ** 30, 2 ** 50].map(human)).toEqual([
    "0 B",
    "1023 B",
    "1.0 KiB",
    "1.5 KiB",
    "5.0 MiB",
    "3.3 GiB",
    "1024.0 TiB",
  ]);
  expect(human(undefined)).toBe("");
});

test("the rules are written once: no copy of a name pattern outside domain/names.ts", () => {
  const root = join(import.meta.dir, "../../..");
  const copies: string[] = [];
  for (const dir of ["src", "ui"])
    for (const f of new Bun.Glob("**/*.ts").scanSync(join(root, dir))) {
      if (`${dir}/${f}` === "src/domain/names.ts") continue;
      const text = readFileSync(join(root, dir, f), "utf8");
      for (const p of ["[A-Za-z0-9][A-Za-z0-9._+-]{0,127}", "^~?[A-Za-z0-9_.-]+$", "/^[A-Za-z0-9_.-]+$/", "(?!-)[a-z0-9-]{1,63}"])
        if (text.includes(p)) copies.push(`${dir}/${f}: ${p}`);
    }
  expect(copies).toEqual([]);
});
