import { describe, expect, test } from "bun:test";
import { DEFAULT_MAX_IMAGE_STREAMS, type HostInterface, fromFlags, inputsGiven, resolveServeConfig } from "../../../src/config/serve";
import { DroverError } from "../../../src/domain/errors";

const one: HostInterface[] = [{ name: "eth1", address: "10.0.0.1", netmask: "255.255.255.0" }];
const two: HostInterface[] = [...one, { name: "eth0", address: "192.168.1.5", netmask: "255.255.255.0" }];

describe("serve configuration", () => {
  test("defaults: HTTP 9873, TFTP on, DHCP off, discovery off", () => {
    const c = resolveServeConfig({}, "/d", two);
    expect(c.http).toEqual({ port: 9873, listen: "0.0.0.0", maxImageStreams: DEFAULT_MAX_IMAGE_STREAMS });
    expect(c.dhcp.mode).toBe("off");
    expect(c.dhcp.interfaces).toEqual([]);
    expect(c.discovery.enabled).toBe(false);
    expect(c.tftp.enabled).toBe(true);
    expect(c.tftp.address).toBe("0.0.0.0");
    expect(Object.isFrozen(c)).toBe(true);
  });
  test("--max-image-streams: a whole number, 0 for no limit; anything else is refused with the fix", () => {
    expect(resolveServeConfig(fromFlags({ maxImageStreams: "0" }), "/d", two).http.maxImageStreams).toBe(0);
    expect(resolveServeConfig(fromFlags({ maxImageStreams: "64" }), "/d", two).http.maxImageStreams).toBe(64);
    for (const bad of ["-1", "2.5", "many", ""])
      expect(() => fromFlags({ maxImageStreams: bad })).toThrow(/--max-image-streams .*whole number.*0 for no limit/);
    for (const bad of [-1, 2.5, 100_001])
      expect(() => resolveServeConfig({ maxImageStreams: bad }, "/d", two)).toThrow(/--max-image-streams .*whole number.*0 for no limit/);
  });
  test("--lease-sync: normal by default, full fsyncs each group commit; anything else is refused with the choices", () => {
    expect(resolveServeConfig({}, "/d", two).dhcp.leaseSync).toBe("normal");
    expect(resolveServeConfig(fromFlags({ leaseSync: "full" }), "/d", two).dhcp.leaseSync).toBe("full");
    for (const bad of ["FULL", "fsync", ""]) expect(() => fromFlags({ leaseSync: bad })).toThrow(/--lease-sync .*: use normal .* or full/);
  });
  test("--listen binds TFTP as well as HTTP", () => {
    const c = resolveServeConfig({ listen: "10.0.0.1" }, "/d", two);
    expect(c.http.listen).toBe("10.0.0.1");
    expect(c.tftp.address).toBe("10.0.0.1");
  });
  test("an interface turns authoritative DHCP on, with its subnet", () => {
    const c = resolveServeConfig({ interfaces: ["eth1"] }, "/d", two);
    expect(c.dhcp.mode).toBe("authoritative");
    expect(c.dhcp.interfaces).toEqual([{ name: "eth1", serverIp: "10.0.0.1", network: "10.0.0.0", netmask: "255.255.255.0" }]);
  });
  test("--dhcp without an interface picks the only one", () => {
    expect(resolveServeConfig({ dhcpMode: "proxy" }, "/d", one).dhcp.interfaces[0]?.name).toBe("eth1");
  });
  test("--dhcp without an interface and several choices lists them", () => {
    expect(() => resolveServeConfig({ dhcpMode: "authoritative" }, "/d", two)).toThrow(
      /--interface NAME \(interfaces with IPv4: eth1 \(10.0.0.1\), eth0 \(192.168.1.5\)\)/,
    );
  });
  test("unknown interface", () => expect(() => resolveServeConfig({ interfaces: ["eth9"] }, "/d", two)).toThrow(/--interface eth9: no such interface/));
  test("bad mode", () => {
    expect(() => fromFlags({ dhcp: "maybe" })).toThrow(/authoritative, proxy or off/);
    // A saved row is typed only by what wrote it: checked all the same.
    expect(() => resolveServeConfig({ dhcpMode: "maybe" as never }, "/d", two)).toThrow(/authoritative, proxy or off/);
  });
  test("bad port", () => {
    expect(() => resolveServeConfig(fromFlags({ port: "99999" }), "/d", two)).toThrow(/not a port number/);
    expect(() => fromFlags({ tftpPort: "sixty-nine" })).toThrow("--tftp-port sixty-nine is not a port number (0-65535)");
  });
  test("pool and relay subnets", () => {
    const c = resolveServeConfig(
      { interfaces: ["eth1"], pool: "10.0.0.100-10.0.0.199", relaySubnets: ["10.1.0.9/24,router=10.1.0.1,pool=10.1.0.100-10.1.0.120"] },
      "/d",
      two,
    );
    expect(c.dhcp.interfaces[0]?.pool).toEqual({ start: "10.0.0.100", end: "10.0.0.199" });
    expect(c.dhcp.relaySubnets).toEqual([
      { network: "10.1.0.0", netmask: "255.255.255.0", router: "10.1.0.1", pool: { start: "10.1.0.100", end: "10.1.0.120" } },
    ]);
  });
  test("bad ranges", () => {
    expect(() => resolveServeConfig({ interfaces: ["eth1"], pool: "10.0.0.9-10.0.0.1" }, "/d", two)).toThrow(/not an address range/);
    expect(() => resolveServeConfig({ relaySubnets: ["10.1.0.0"] }, "/d", two)).toThrow(/NETWORK\/PREFIX/);
  });
  test("registration needs discovery and a valid pattern", () => {
    expect(() => resolveServeConfig({ registerPattern: "n[001-010]" }, "/d", one)).toThrow(/add --discovery/);
    expect(() => resolveServeConfig({ discovery: true, registerPattern: "n[1-" }, "/d", one)).toThrow(/without '\]'/);
    const c = resolveServeConfig({ interfaces: ["eth1"], discovery: true, registerPattern: "n[001-010]", registerRange: "10.0.0.50-10.0.0.60" }, "/d", one);
    expect(c.discovery.register).toEqual({ pattern: "n[001-010]", range: { start: "10.0.0.50", end: "10.0.0.60", netmask: "255.255.255.0" } });
  });
});

describe("the command line as typed input", () => {
  /** What commander gives `drover serve` when nothing is typed. */
  const defaults = {
    port: "9873",
    listen: "0.0.0.0",
    leaseTime: "86400",
    tftpPort: "69",
    dhcpPort: "67",
    pxePort: "4011",
    pollInterval: "60",
    maxImageStreams: "128",
    tftp: true,
  };
  const refusal = (run: () => unknown) => {
    try {
      run();
    } catch (e) {
      return e as DroverError;
    }
    throw new Error("accepted");
  };

  test("numbers become numbers, each flag its input; flags not given stay unset", () => {
    const input = fromFlags({
      ...defaults,
      interface: ["eth1"],
      dhcp: "proxy",
      relaySubnet: ["10.1.0.0/24"],
      registerProfile: ["gpu"],
      apiSubnet: ["10.0.0.0/24"],
      ipv6Ra: false,
    });
    expect(input).toEqual({
      httpPort: 9873,
      listen: "0.0.0.0",
      leaseSeconds: 86400,
      tftpPort: 69,
      dhcpPort: 67,
      pxePort: 4011,
      pollSeconds: 60,
      maxImageStreams: 128,
      tftp: true,
      interfaces: ["eth1"],
      dhcpMode: "proxy",
      relaySubnets: ["10.1.0.0/24"],
      registerProfiles: ["gpu"],
      apiSubnets: ["10.0.0.0/24"],
      ipv6Ra: false,
    });
    expect(Object.keys(fromFlags({}))).toEqual([]);
  });

  test("a value that is not one names its flag, and its input in field", () => {
    const lease = refusal(() => fromFlags({ ...defaults, leaseTime: "soon" }));
    expect(lease).toBeInstanceOf(DroverError);
    expect([lease.kind, lease.field, lease.message]).toEqual(["invalid", "leaseSeconds", "--lease-time soon: at least 60 seconds"]);
    const poll = refusal(() => fromFlags({ pollInterval: "1m" }));
    expect([poll.field, poll.message]).toEqual(["pollSeconds", "--poll-interval 1m: a whole number of seconds, 1-86400"]);
    expect(refusal(() => fromFlags({ port: "http" })).field).toBe("httpPort");
    expect(refusal(() => fromFlags({ dhcp: "maybe" })).field).toBe("dhcpMode");
    expect(refusal(() => fromFlags({ ipxeBuild: "toString" })).message).toBe("--ipxe-build toString: use current or debian-2019 (assets/ipxe/SOURCES.md)");
  });

  test("bounds are resolveServeConfig's, the same for a flag and a typed value", () => {
    const flag = refusal(() => resolveServeConfig(fromFlags({ leaseTime: "30" }), "/d", two));
    const typed = refusal(() => resolveServeConfig({ leaseSeconds: 30 }, "/d", two));
    expect([flag.field, flag.message]).toEqual(["leaseSeconds", "--lease-time 30: at least 60 seconds"]);
    expect([typed.field, typed.message]).toEqual([flag.field, flag.message]);
    expect(refusal(() => resolveServeConfig({ pollSeconds: 86401 }, "/d", two)).field).toBe("pollSeconds");
    expect(refusal(() => resolveServeConfig({ dhcpPort: -1 }, "/d", two)).message).toBe("--dhcp-port -1 is not a port number (0-65535)");
  });

  test("the options given on the command line name the inputs they fix", () => {
    expect([...inputsGiven(new Set(["interface", "leaseTime", "port", "ipv6Ra", "debug"]))].sort()).toEqual([
      "httpPort",
      "interfaces",
      "ipv6Ra",
      "leaseSeconds",
    ]);
  });
});
