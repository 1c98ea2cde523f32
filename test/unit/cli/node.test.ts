import { describe, expect } from "bun:test";
import { runTable } from "./table";

const add1 = ["node", "add", "n1", "--hwaddr", "52:54:00:00:00:01", "--ipaddr", "10.0.0.11/24"];

describe("node add", () => {
  runTable([
    {
      name: "adds one node with the default profile; /24 becomes a netmask; MAC normalised",
      run: ["node", "add", "n1", "--hwaddr", "52-54-00-AA-BB-CC", "--ipaddr", "10.0.0.11/24", "--gateway", "10.0.0.1"],
      out: /Added 1 node: n1/,
      state: (d) =>
        expect(d.nodes.n1).toEqual({
          profiles: ["default"],
          "network devices": { default: { hwaddr: "52:54:00:aa:bb:cc", ipaddr: "10.0.0.11", netmask: "255.255.255.0", gateway: "10.0.0.1" } },
        }),
    },
    {
      name: "a hostlist increments --ipaddr and --ipmiaddr per node",
      run: ["node", "add", "n[01-03]", "--ipaddr", "10.0.0.254", "--netmask", "255.255.0.0", "--ipmiaddr", "10.1.0.11/16"],
      out: /Added 3 nodes/,
      state: (d) => {
        expect(Object.keys(d.nodes)).toEqual(["n01", "n02", "n03"]);
        expect(d.nodes.n03["network devices"].default.ipaddr).toBe("10.0.1.0");
        expect(d.nodes.n03.ipmi).toEqual({ ipaddr: "10.1.0.13", netmask: "255.255.0.0" });
      },
    },
    {
      name: "--container is an alias of --image",
      given: [["node", "add", "x0", "--image", "rocky", "--allow-missing-image"]],
      run: ["node", "add", "n1", "--container", "rocky", "--allow-missing-image"],
      state: (d) => expect(d.nodes.n1["image name"]).toBe("rocky"),
    },
    { name: "unknown image is refused", run: ["node", "add", "n1", "--image", "rocky"], code: 2, err: /image 'rocky'.*not imported.*drover image import/ },
    { name: "address without netmask is refused", run: ["node", "add", "n1", "--ipaddr", "10.0.0.5"], code: 2, err: /has address 10.0.0.5 but no netmask/ },
    {
      name: "netmask from a profile satisfies the address",
      given: [["profile", "add", "net", "--netmask", "255.255.255.0"]],
      run: ["node", "add", "n1", "--profile", "default,net", "--ipaddr", "10.0.0.5"],
      state: (d) => expect(d.nodes.n1.profiles).toEqual(["default", "net"]),
    },
    {
      name: "duplicate MAC across nodes",
      given: [add1],
      run: ["node", "add", "n2", "--hwaddr", "52:54:00:00:00:01"],
      code: 4,
      err: /MAC 52:54:00:00:00:01 of node 'n2'.*already used by node 'n1'/,
    },
    {
      name: "duplicate IP across nodes",
      given: [add1],
      run: ["node", "add", "n2", "--ipaddr", "10.0.0.11/24"],
      code: 4,
      err: /IP address 10.0.0.11.*node 'n1'/,
    },
    {
      name: "duplicate IP between a BMC and a node interface",
      given: [add1],
      run: ["node", "add", "n2", "--ipmiaddr", "10.0.0.11/24"],
      code: 4,
      err: /10.0.0.11 of node 'n2' \(ipmi\).*node 'n1' \(default\)/,
    },
    {
      name: "duplicate MAC within one hostlist add writes nothing",
      run: ["node", "add", "n[1-3]", "--hwaddr", "52:54:00:00:00:09"],
      code: 4,
      state: (d) => expect(d.nodes).toEqual({}),
    },
    { name: "malformed MAC", run: ["node", "add", "n1", "--hwaddr", "52:54:00:zz:00:01"], code: 2, err: /not a MAC address/ },
    { name: "malformed IP", run: ["node", "add", "n1", "--ipaddr", "10.0.0.300/24"], code: 2, err: /not an IPv4 address/ },
    { name: "invalid host name", run: ["node", "add", "n_1"], code: 2, err: /not a valid node name/ },
    { name: "unknown profile", run: ["node", "add", "n1", "--profile", "nope"], code: 2, err: /profile 'nope'.*does not exist/ },
    { name: "existing node", given: [add1], run: ["node", "add", "n1"], code: 4, err: /already exist.*node set/ },
    { name: "bad bool", run: ["node", "add", "n1", "--discoverable", "maybe"], code: 2, err: /true or false/ },
    { name: "bad BMC type", run: ["node", "add", "n1", "--bmctype", "snmp"], code: 2, err: /BMC type 'snmp'/ },
    { name: "bad root", run: ["node", "add", "n1", "--root", "nfs"], code: 2, err: /root 'nfs'/ },
    { name: "no names", run: ["node", "add"], code: 2 },
    { name: "bad hostlist", run: ["node", "add", "n[1-"], code: 2, err: /without '\]'/ },
    {
      name: "tags, net tags and a second network",
      run: [
        "node",
        "add",
        "n1",
        "--tagadd",
        "rack=r1,row=2",
        "--netname",
        "ib",
        "--netdev",
        "ib0",
        "--type",
        "infiniband",
        "--ipaddr",
        "10.2.0.1/16",
        "--nettagadd",
        "pkey=0x8001",
      ],
      state: (d) => {
        expect(d.nodes.n1.tags).toEqual({ rack: "r1", row: "2" });
        expect(d.nodes.n1["network devices"].ib).toEqual({
          type: "infiniband",
          device: "ib0",
          ipaddr: "10.2.0.1",
          netmask: "255.255.0.0",
          tags: { pkey: "0x8001" },
        });
      },
    },
  ]);
});

describe("node set / unset / delete", () => {
  runTable([
    {
      name: "set changes matched nodes only",
      given: [["node", "add", "n[1-3]"]],
      run: ["node", "set", "n[1-2]", "--kernelargs", "console=ttyS0", "--comment", "hello"],
      out: /Changed 2 nodes/,
      state: (d) => {
        expect(d.nodes.n1.kernel).toEqual({ args: ["console=ttyS0"] });
        expect(d.nodes.n1.comment).toBe("hello");
        expect(d.nodes.n3.kernel).toBeUndefined();
      },
    },
    {
      name: "kernel arguments keep their commas: spaces or a repeated flag separate them",
      given: [["node", "add", "n1"]],
      run: ["node", "set", "n1", "--kernelargs", "console=ttyS0,115200n8  quiet", "--kernelargs", "ip=10.0.0.2::10.0.0.1:255.255.255.0:c1:eth0:off"],
      state: (d) => expect(d.nodes.n1.kernel).toEqual({ args: ["console=ttyS0,115200n8", "quiet", "ip=10.0.0.2::10.0.0.1:255.255.255.0:c1:eth0:off"] }),
    },
    {
      name: "set with UNDEF clears",
      given: [["node", "add", "n1", "--comment", "x"]],
      run: ["node", "set", "n1", "--comment", "UNDEF"],
      state: (d) => expect(d.nodes.n1.comment).toBeUndefined(),
    },
    {
      name: "set --all",
      given: [["node", "add", "n[1-2]"]],
      run: ["node", "set", "--all", "--cluster", "c1"],
      state: (d) => expect(d.nodes.n2["cluster name"]).toBe("c1"),
    },
    { name: "set on no match", given: [["node", "add", "n1"]], run: ["node", "set", "x*", "--comment", "a"], code: 3, err: /no node matches/ },
    { name: "set without names", given: [["node", "add", "n1"]], run: ["node", "set", "--comment", "a"], code: 2, err: /--all/ },
    {
      name: "set a MAC already used is refused and nothing changes",
      given: [add1, ["node", "add", "n2", "--comment", "keep"]],
      run: ["node", "set", "n2", "--hwaddr", "52:54:00:00:00:01", "--comment", "changed"],
      code: 4,
      state: (d) => expect(d.nodes.n2.comment).toBe("keep"),
    },
    { name: "set a node's own MAC again is fine", given: [add1], run: ["node", "set", "n1", "--hwaddr", "52:54:00:00:00:01"] },
    {
      name: "tagdel and netdel",
      given: [["node", "add", "n1", "--tagadd", "a=1,b=2", "--netname", "ib", "--netdev", "ib0"]],
      run: ["node", "set", "n1", "--tagdel", "a", "--netdel", "ib"],
      state: (d) => expect(d.nodes.n1).toEqual({ profiles: ["default"], tags: { b: "2" } }),
    },
    {
      name: "unset falls back to the profile",
      given: [["node", "add", "n1", "--kernelargs", "x", "--init", "/bin/sh"]],
      run: ["node", "unset", "n1", "--kernelargs", "--init"],
      state: (d) => expect(d.nodes.n1).toEqual({ profiles: ["default"] }),
    },
    { name: "unset with no field", given: [["node", "add", "n1"]], run: ["node", "unset", "n1"], code: 2, err: /at least one field/ },
    {
      name: "delete",
      given: [["node", "add", "n[1-3]"]],
      run: ["node", "delete", "n[1-2]"],
      out: /Deleted 2 nodes/,
      state: (d) => expect(Object.keys(d.nodes)).toEqual(["n3"]),
    },
    { name: "delete frees the MAC", given: [add1, ["node", "delete", "n1"]], run: ["node", "add", "n2", "--hwaddr", "52:54:00:00:00:01"] },
    { name: "delete no match", run: ["node", "delete", "zz"], code: 3 },
  ]);
});

describe("node list", () => {
  const given = [
    ["profile", "add", "p1", "--kernelargs", "quiet", "--tagadd", "rack=r1"],
    [
      "node",
      "add",
      "n1",
      "--profile",
      "default,p1",
      "--hwaddr",
      "52:54:00:00:00:01",
      "--ipaddr",
      "10.0.0.11/24",
      "--tagadd",
      "rack=r2",
      "--ipmipass",
      "hunter2",
      "--ipmiaddr",
      "10.1.0.1/24",
    ],
  ];
  runTable([
    {
      name: "default table",
      given,
      run: ["node", "list"],
      out: /NODE\s+PROFILES\s+HWADDR\s+IPADDR\s+IMAGE\nn1\s+default,p1\s+52:54:00:00:00:01\s+10.0.0.11\s+--/,
    },
    { name: "-a shows sources", given, run: ["node", "list", "-a", "n1"], out: /n1\s+Tags\[rack\]\s+SUPERSEDED\s+r2/ },
    { name: "-a list source names every contributor", given, run: ["node", "list", "-a"], out: /Kernel.Args\s+default,p1\s+quiet,crashkernel=no/ },
    { name: "-a masks the BMC password", given, run: ["node", "list", "-a"], out: /Ipmi.Password\s+--\s+\*{8}/ },
    { name: "--show-secrets shows it", given, run: ["node", "list", "-a", "--show-secrets"], out: /Ipmi.Password\s+--\s+hunter2/ },
    { name: "-n", given, run: ["node", "list", "-n"], out: /n1\s+default\s+52:54:00:00:00:01\s+10.0.0.11\s+255.255.255.0/ },
    { name: "-i", given, run: ["node", "list", "-i"], out: /n1\s+ipmi\s+10.1.0.1/ },
    { name: "-l", given, run: ["node", "list", "-l"], out: /n1\s+--\s+--\s+wwinit\S*\s+.*no image/i },
    {
      name: "-l shows an image that is not imported as a boot problem",
      given: [["node", "add", "n2", "--image", "ghost", "--allow-missing-image"]],
      run: ["node", "list", "-l", "n2"],
      out: /n2\s+--\s+ghost\s+\S+\s+.*ghost/,
    },
    {
      name: "--json is parseable and masks secrets",
      given,
      run: ["node", "list", "--json"],
      out: /"name": "n1"/,
      state: () => {},
    },
    { name: "--yaml", given, run: ["node", "list", "-y"], out: /name: n1/ },
    { name: "no match", given, run: ["node", "list", "zz"], code: 3 },
  ]);
});

describe("node export / import round trip", () => {
  runTable([
    {
      name: "export leaves secrets out by default",
      given: [["node", "add", "n1", "--ipmipass", "hunter2", "--asset", "tag1"]],
      run: ["node", "export"],
      state: () => {},
      out: /nodes:\n  n1:\n    profiles:\n      - default\n(?![\s\S]*hunter2)/,
    },
  ]);
});

describe("node status", () => {
  runTable([
    { name: "nodes that never booted", given: [["node", "add", "n[1-2]"]], run: ["node", "status"], out: /NODE\s+STATE\s+STAGE.*\nn1\s+never seen\s+--/ },
    { name: "--json", given: [["node", "add", "n1"]], run: ["node", "status", "--json"], out: /"state": "never seen"/ },
    { name: "no match", given: [["node", "add", "n1"]], run: ["node", "status", "zz"], code: 3 },
  ]);
});
