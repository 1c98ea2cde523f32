import { expect, test } from "bun:test";
import { formatNodesConf, parseNodesConf } from "../../../src/domain/nodesconf";

// Kernel arguments keep their commas (console=ttyS0,115200n8) through nodes.conf: Warewulf's list form is
// kept item by item, and its older one-string form is split only at spaces, as the kernel splits it.
test("nodes.conf kernel args: a list keeps each item whole; a string splits at spaces only", () => {
  const nc = parseNodesConf(`nodeprofiles:
  default:
    kernel:
      args:
        - quiet
        - console=ttyS0,115200n8
nodes:
  n1:
    kernel:
      args: "console=ttyS0,115200n8 ip=10.0.0.2::10.0.0.1:255.255.255.0::eth0:off"
`);
  expect(nc.profiles.default!.kernel?.args).toEqual(["quiet", "console=ttyS0,115200n8"]);
  expect(nc.nodes.n1!.kernel?.args).toEqual(["console=ttyS0,115200n8", "ip=10.0.0.2::10.0.0.1:255.255.255.0::eth0:off"]);
  expect(parseNodesConf(formatNodesConf(nc)).nodes.n1!.kernel?.args).toEqual(nc.nodes.n1!.kernel!.args!);
});
