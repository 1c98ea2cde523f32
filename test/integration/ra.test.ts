/**
 * IPv6 router advertisements from `drover serve`: a real client (rdisc6, Debian's ndisc6) solicits on the
 * provisioning network and gets drover's RA, which announces nothing (lifetime 0, no prefix, no M/O flags),
 * so iPXE stops waiting for IPv6 without any host learning a route or an address from it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { routerAdvertisement } from "../../src/protocols/ra/packet";
import { tempDir } from "../helpers/cli";
import { type DroverProcess, startDroverIn } from "../helpers/drover-server";
import { Lab } from "../helpers/netns";

test("the RA announces no router, no prefix and no DHCPv6", () => {
  const p = routerAdvertisement("52:54:00:aa:bb:cc");
  expect([...p.subarray(0, 16)]).toEqual([134, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  expect([...p.subarray(16)]).toEqual([1, 1, 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc]);
});

const why = Lab.unavailable() ?? (Bun.spawnSync(["which", "rdisc6"]).exitCode !== 0 ? "needs rdisc6 (apt-get install ndisc6)" : undefined);
if (why) console.log(`skipping the router advertisement tests: ${why}`);

describe.skipIf(!!why)("router advertisements on the served interface", () => {
  let lab: Lab;
  const t = tempDir();
  let server: DroverProcess;
  beforeAll(async () => {
    lab = await Lab.create();
    server = await startDroverIn(lab, join(t.dir, "data"), ["-i", "br0", "--port", "9873", "--no-tftp"]);
  });
  afterAll(async () => {
    await server?.stop();
    await lab?.destroy();
    t.cleanup();
  });

  test("a solicitation is answered with an RA that configures nothing", async () => {
    // The RA server starts just after the DHCP line the start-up waits for.
    await server.waitForLog(/router advertisements .* on br0/);
    const c = lab.addClient();
    // The client's link-local address must finish duplicate address detection before it can solicit.
    await Bun.sleep(2500);
    const r = lab.run(c.ns, ["rdisc6", "-1", "-w", "2000", "-r", "3", "eth0"]);
    expect(r.out).toMatch(/Router lifetime\s*:\s*0 \(0x00000000\) seconds/);
    expect(r.out).toMatch(/Stateful address conf\.\s*:\s*No/);
    expect(r.out).toMatch(/Stateful other conf\.\s*:\s*No/);
    expect(r.out).not.toMatch(/Prefix/);
    // The client learned no default route and no global address from it.
    expect(lab.run(c.ns, ["ip", "-6", "route", "show", "default"]).out.trim()).toBe("");
    expect(lab.run(c.ns, ["ip", "-6", "addr", "show", "scope", "global"]).out.trim()).toBe("");
  });

  test("--no-ipv6-ra and proxy mode send none", async () => {
    await server.stop();
    server = await startDroverIn(lab, join(t.dir, "data"), ["-i", "br0", "--port", "9873", "--no-tftp", "--dhcp", "proxy"]);
    expect(server.log()).not.toMatch(/router advertisements/);
    const c = lab.addClient("q");
    await Bun.sleep(2500);
    const r = lab.run(c.ns, ["rdisc6", "-1", "-w", "1000", "-r", "2", "eth0"]);
    expect(r.out).not.toMatch(/Router lifetime/);
    // A restart, 2.5 s for the client's address, and 2 s of listening: more than the default 5 s.
  }, 30_000);
});
