import { describe, expect, test } from "bun:test";
import { type HostInterface, type ServeConfig, fromFlags, inputsGiven } from "../../../src/config/serve";
import {
  ServeSettings,
  type ServeSettingsOptions,
  type StoredSettings,
  memorySettingsStorage,
  resolveWithFields,
  withSaved,
} from "../../../src/config/settings";
import { DroverError } from "../../../src/domain/errors";

const host: HostInterface[] = [
  { name: "eth1", address: "10.0.0.1", netmask: "255.255.255.0" },
  { name: "eth0", address: "192.168.1.5", netmask: "255.255.255.0" },
];
/** What `drover serve` passes when nothing is typed: commander's defaults. */
const defaults = { port: "9873", listen: "0.0.0.0", leaseTime: "86400", tftpPort: "69", dhcpPort: "67", pxePort: "4011", pollInterval: "60", tftp: true };

function make(o: Partial<ServeSettingsOptions> & { saved?: StoredSettings } = {}) {
  const storage = o.storage ?? memorySettingsStorage(o.saved);
  const log: string[] = [];
  const s = new ServeSettings({
    flags: { ...defaults, ...o.flags },
    explicit: o.explicit ?? new Set(),
    dataDir: "/d",
    storage,
    hosts: () => host,
    log: (l) => log.push(l),
    now: () => 1000,
  });
  const applied: Readonly<ServeConfig>[] = [];
  s.onApply(async (next) => void applied.push(next));
  return { s, storage, log, applied };
}

describe("merging flags and saved values", () => {
  test("saved values replace defaults, never flags given on the command line", () => {
    const input = fromFlags({ ...defaults, interface: ["eth1"], leaseTime: "3600" });
    const merged = withSaved(input, inputsGiven(new Set(["interface"])), { interfaces: ["eth0"], leaseSeconds: 600, discovery: true });
    expect(merged.interfaces).toEqual(["eth1"]);
    expect(merged.leaseSeconds).toBe(600);
    expect(merged.discovery).toBe(true);
    expect(merged.httpPort).toBe(9873);
    expect(input.leaseSeconds).toBe(3600); // the command line's input is left as it was
  });

  test("a flag typed on the command line beats the saved value; a saved number stays a number", () => {
    const saved: StoredSettings = { values: { leaseSeconds: 600, pollSeconds: 30 } };
    const { s } = make({ flags: { leaseTime: "3600" }, explicit: new Set(["leaseTime"]), saved });
    expect(s.config.dhcp.leaseSeconds).toBe(3600);
    expect(s.config.runtime.pollSeconds).toBe(30);
    const f = s.get().fields;
    expect(f.leaseSeconds).toMatchObject({ value: 3600, source: "command line", editable: "command line" });
    expect(f.pollSeconds).toMatchObject({ value: 30, source: "saved" });
    expect(typeof f.pollSeconds!.value).toBe("number");
    // Not given on the command line, the default (commander's "86400") gives way to the saved value.
    expect(make({ saved }).s.config.dhcp.leaseSeconds).toBe(600);
  });

  test("a bad flag value is refused naming the flag and its settings field", () => {
    const e = (() => {
      try {
        make({ flags: { pollInterval: "often" }, explicit: new Set(["pollInterval"]) });
      } catch (x) {
        return x as DroverError;
      }
    })();
    expect(e).toBeInstanceOf(DroverError);
    expect([e!.field, e!.message]).toEqual(["pollSeconds", "pollSeconds: --poll-interval often: a whole number of seconds, 1-86400"]);
  });

  test("at start: saved values apply, the command line wins, defaults fill the rest", () => {
    const { s } = make({
      flags: { dns: ["10.0.0.53"] },
      explicit: new Set(["dns"]),
      saved: { values: { dhcpMode: "authoritative", interfaces: ["eth1"], dns: ["9.9.9.9"], pollSeconds: 30 } },
    });
    const c = s.config;
    expect(c.dhcp.mode).toBe("authoritative");
    expect(c.dhcp.interfaces.map((i) => [i.name, i.dns])).toEqual([["eth1", ["10.0.0.53"]]]);
    expect(c.runtime.pollSeconds).toBe(30);
    expect(c.dhcp.leaseSeconds).toBe(86400);
    const f = s.get().fields;
    expect(f.dns).toMatchObject({ value: ["10.0.0.53"], source: "command line", editable: "command line" });
    expect(f.dns!.reason).toContain("set by --dns");
    expect(f.dhcpMode).toMatchObject({ value: "authoritative", source: "saved", editable: "live" });
    expect(f.leaseSeconds).toMatchObject({ value: 86400, source: "default", editable: "live" });
    expect(f.httpPort).toMatchObject({ value: 9873, editable: "restart" });
  });

  test("saved values that no longer fit the host (an interface gone) are set aside with a warning", () => {
    const { s } = make({ saved: { values: { dhcpMode: "authoritative", interfaces: ["eth7"] } } });
    expect(s.config.dhcp.mode).toBe("off");
    expect(s.startWarning).toContain("interfaces: --interface eth7: no such interface");
    expect(s.get().warning).toContain("not in effect");
    expect(s.get().fields.interfaces!.value).toEqual(["eth7"]);
  });

  test("an invalid command line still fails, saved values or not", () => {
    expect(() => make({ flags: { dhcp: "maybe" }, explicit: new Set(["dhcp"]), saved: { values: { discovery: true } } })).toThrow(
      /authoritative, proxy or off/,
    );
  });

  test("errors name the settings field of the flag they are about", () => {
    const host = [{ name: "eth1", address: "10.0.0.1", netmask: "255.255.255.0" }];
    const fail = (input: Parameters<typeof resolveWithFields>[0]) => {
      try {
        resolveWithFields(input, "/tmp/d", host);
      } catch (e) {
        return e as DroverError;
      }
      throw new Error("resolved");
    };
    const pool = fail({ interfaces: ["eth1"], pool: "1-2" });
    expect(pool).toBeInstanceOf(DroverError);
    expect([pool.field, pool.message]).toEqual(["pool", "pool: --pool '1-2' is not an address range like 10.0.0.100-10.0.0.199"]);
    expect(fail({ registerRange: "10.0.0.5-10.0.0.9" }).field).toBe("registerRange");
    expect(fail({ leaseSeconds: 5 }).message).toStartWith("leaseSeconds: --lease-time 5");
    expect(fail({ httpPort: 99999 }).message).toStartWith("httpPort: --port 99999");
    expect(fail({ dhcpMode: "maybe" as never }).field).toBe("dhcpMode");
  });
});

describe("changing settings while running", () => {
  test("a valid change is applied, then saved, and shows at once", async () => {
    const { s, storage, log, applied } = make();
    const v = await s.update({ dhcpMode: "authoritative", interfaces: ["eth1"], pool: "10.0.0.100-10.0.0.199", discovery: true }, "admin");
    expect(applied).toHaveLength(1);
    expect(v.running.dhcp.interfaces[0]).toMatchObject({ name: "eth1", pool: { start: "10.0.0.100", end: "10.0.0.199" } });
    expect(s.config.discovery.enabled).toBe(true);
    expect(storage.load()!.values).toEqual({ dhcpMode: "authoritative", interfaces: ["eth1"], pool: "10.0.0.100-10.0.0.199", discovery: true });
    expect(v.changed).toEqual({
      at: 1000,
      by: "admin",
      what: ["dhcpMode: (default) → authoritative", "interfaces: (default) → [eth1]", "pool: (default) → 10.0.0.100-10.0.0.199", "discovery: (default) → true"],
    });
    expect(log.at(-1)).toBe(
      "drover: settings changed by admin: dhcpMode: (default) → authoritative; interfaces: (default) → [eth1]; pool: (default) → 10.0.0.100-10.0.0.199; discovery: (default) → true",
    );
  });

  test("null, an empty text or an empty list removes the saved value", async () => {
    const { s, storage } = make({ saved: { values: { dhcpMode: "authoritative", interfaces: ["eth1"], pool: "10.0.0.100-10.0.0.199", dns: ["10.0.0.53"] } } });
    await s.update({ pool: "", dns: [], dhcpMode: null }, "admin");
    expect(storage.load()!.values).toEqual({ interfaces: ["eth1"] });
    // --interface alone means authoritative, as on the command line.
    expect(s.config.dhcp.mode).toBe("authoritative");
    expect(s.config.dhcp.interfaces[0]!.pool).toBeUndefined();
  });

  test("the whole merged configuration is validated; an error names the field and changes nothing", async () => {
    const { s, storage, applied } = make({ saved: { values: { dhcpMode: "authoritative", interfaces: ["eth1"] } } });
    const before = s.config;
    await expect(s.update({ pool: "10.0.0.200-10.0.0.100" }, "admin")).rejects.toThrow(/^pool: --pool '10.0.0.200-10.0.0.100' is not an address range/);
    await expect(s.update({ pool: "10.9.0.10-10.9.0.20" }, "admin")).rejects.toThrow(/^pool: .*not inside eth1's subnet 10.0.0.0/);
    await expect(s.update({ pool: "10.0.0.1-10.0.0.20" }, "admin")).rejects.toThrow(/^pool: .*own address 10.0.0.1/);
    await expect(s.update({ interfaces: ["eth9"] }, "admin")).rejects.toThrow(/^interfaces: --interface eth9: no such interface .*eth1 \(10.0.0.1\)/);
    await expect(s.update({ registerPattern: "n[01-10]" }, "admin")).rejects.toThrow(/^registerPattern: .*add --discovery/);
    await expect(s.update({ leaseSeconds: 5 }, "admin")).rejects.toThrow(/^leaseSeconds: --lease-time 5: at least 60 seconds/);
    await expect(s.update({ relaySubnets: ["10.1.0.0/24,pool=10.2.0.1-10.2.0.9"] }, "admin")).rejects.toThrow(/^relaySubnets: .*not inside 10.1.0.0\/24/);
    expect(applied).toHaveLength(0);
    expect(s.config).toBe(before);
    expect(storage.load()!.values).toEqual({ dhcpMode: "authoritative", interfaces: ["eth1"] });
  });

  test("a field fixed on the command line is refused with the flag to drop", async () => {
    const { s } = make({ flags: { dhcp: "proxy", interface: ["eth1"] }, explicit: new Set(["dhcp", "interface"]) });
    await expect(s.update({ dhcpMode: "authoritative" }, "admin")).rejects.toThrow(
      "dhcpMode: set by --dhcp on the command line; restart drover serve without it to change it here",
    );
    // Other fields still change.
    await s.update({ discovery: true }, "admin");
    expect(s.config.discovery.enabled).toBe(true);
  });

  test("--no-ipv6-ra is named as such", async () => {
    const { s } = make({ flags: { ipv6Ra: false }, explicit: new Set(["ipv6Ra"]) });
    expect(s.get().fields.ipv6Ra!.reason).toContain("set by --no-ipv6-ra");
  });

  test("when applying fails, the previous configuration stays and nothing is saved", async () => {
    const { s, storage, log } = make({ saved: { values: { discovery: false } } });
    s.onApply(async () => {
      throw new Error("bind EADDRINUSE 0.0.0.0:67");
    });
    const before = s.config;
    const e = await s.update({ dhcpMode: "authoritative", interfaces: ["eth1"] }, "admin").catch((x) => x);
    expect(e.kind).toBe("conflict");
    expect(e.message).toContain("EADDRINUSE");
    expect(e.message).toContain("previous settings stay in effect");
    expect(s.config).toBe(before);
    expect(storage.load()!.values).toEqual({ discovery: false });
    expect(log.at(-1)).toContain("refused");
  });

  test("when saving fails, the servers are put back", async () => {
    const saved = memorySettingsStorage();
    const { s, applied } = make({
      storage: {
        load: saved.load,
        save: () => {
          throw new Error("disk full");
        },
      },
    });
    await expect(s.update({ dhcpMode: "proxy", interfaces: ["eth1"] }, "admin")).rejects.toThrow("disk full");
    expect(applied.map((c) => c.dhcp.mode)).toEqual(["proxy", "off"]);
    expect(s.config.dhcp.mode).toBe("off");
  });

  test("a change that alters nothing is not applied or saved", async () => {
    const { s, storage, applied } = make({ saved: { values: { discovery: true } } });
    await s.update({ discovery: true }, "admin");
    expect(applied).toHaveLength(0);
    expect(storage.load()!.changed).toBeUndefined();
  });

  test("changes are applied one after another", async () => {
    const { s } = make();
    const order: string[] = [];
    s.onApply(async (next) => {
      order.push(`start ${next.runtime.pollSeconds}`);
      await Bun.sleep(5);
      order.push(`end ${next.runtime.pollSeconds}`);
    });
    await Promise.all([s.update({ pollSeconds: 30 }, "a"), s.update({ pollSeconds: 20 }, "b")]);
    expect(order).toEqual(["start 30", "end 30", "start 20", "end 20"]);
    expect(s.config.runtime.pollSeconds).toBe(20);
  });

  test("unknown fields and changes before the servers run are refused", async () => {
    await expect(make().s.update({ httpPort: 80 } as never, "admin")).rejects.toThrow("httpPort: not a setting that can change while drover runs");
    const s = new ServeSettings({ flags: defaults, explicit: new Set(), dataDir: "/d", storage: memorySettingsStorage(), hosts: () => host });
    await expect(s.update({ discovery: true }, "admin")).rejects.toThrow(/before drover serve has started/);
  });
});
