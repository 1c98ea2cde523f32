/**
 * Boot-time benchmark: power-on → node callback for diskless QEMU VMs (BIOS and UEFI) netbooting from the
 * reference stack (dnsmasq + a static HTTP server) inside a network namespace, in three set-ups:
 *   stock     dnsmasq as shipped (pings each new address before offering it; iPXE waits for ProxyDHCP)
 *   tuned     --no-ping, and iPXE option 175.176 (no-pxedhcp) so iPXE does not wait for ProxyDHCP offers
 *   stock+ra  stock, plus IPv6 router advertisements so each iPXE stops waiting for IPv6 autoconfiguration
 *   tuned+ra  both
 * (iPXE configures IPv4 and IPv6 in parallel and waits for both, so the ~13 s IPv6 wait hides dnsmasq's ping
 * stall: tuned alone gains little; stock+ra against tuned+ra shows what --no-ping is worth.)
 * Everything runs under TCG (no KVM): the figures are for comparing servers on one machine, not absolutes,
 * and they move with the machine's load (printed per boot as the 1-minute load average): compare setups
 * from the same run, with --rounds 3 or more for medians.
 *   drover    `drover serve` alone (DHCP + TFTP + HTTP; the node registered by discovery), same image
 * drover runs through the same BootServer seam (test/helpers/drover-boot.ts).
 *
 *   bun bench/boot-reference.ts [--rounds 1] [--firmware bios,uefi] [--setups drover,stock,tuned,stock+ra,tuned+ra]
 *
 * Per boot it prints the total (QEMU start → the server records the node's callback) and where the time
 * went, from the serial console: firmware until the first iPXE, iPXE until it has its last script, loading
 * kernel + initrd until Linux prints its banner, Linux until /init, /init until the callback.
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import { tempDir } from "../test/helpers/cli";
import { DEFAULT_MARKER, buildBusyboxInitrd, testKernel } from "../test/helpers/initrd";
import { Lab } from "../test/helpers/netns";
import { DroverBootServer } from "../test/helpers/drover-boot";
import { type BootServer, ReferenceBootServer, referenceAvailable } from "../test/helpers/reference-boot";
import { type Firmware, qemuAvailable, startVm } from "../test/helpers/vm";
import { median } from "./_util";

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

export interface BootTiming {
  totalMs: number;
  /** Stage name → ms since QEMU started; a stage the serial log never showed is missing. */
  marks: Record<string, number>;
}

const STAGES: [string, RegExp][] = [
  ["ipxe", /iPXE initialising devices/],
  ["script", /\[script\]/],
  ["linux", /Linux version/],
  ["init", /Run \/init as init process/],
  ["up", new RegExp(DEFAULT_MARKER)],
];

/** Boots one VM from an already started server and times it. */
export async function bootOnce(o: {
  lab: Lab;
  server: BootServer;
  firmware: Firmware;
  mac: string;
  serialLog: string;
  timeoutMs?: number;
}): Promise<BootTiming> {
  const vm = startVm({ lab: o.lab, firmware: o.firmware, mac: o.mac, memoryMb: 512, serialLog: o.serialLog });
  try {
    await vm.waitFor(new RegExp(`${DEFAULT_MARKER} mac=${o.mac}`), o.timeoutMs ?? 300_000);
    const cb = await o.server.callbackSeen(o.mac);
    if (!cb) throw new Error(`the node printed ${DEFAULT_MARKER} but ${o.server.name} saw no callback`);
    const lines = vm.lines();
    const marks: Record<string, number> = {};
    for (const [name, re] of STAGES) {
      // The last script fetched (BIOS runs iPXE twice); the first of everything else.
      const hits = lines.filter((l) => re.test(l.text));
      const hit = name === "script" ? hits.at(-1) : hits[0];
      if (hit) marks[name] = hit.at - vm.startedAt;
    }
    marks.callback = cb.at - vm.startedAt;
    return { totalMs: cb.at - vm.startedAt, marks };
  } finally {
    await vm.stop();
  }
}

let kernelVersion = "";
const SETUPS: Record<string, () => BootServer> = {
  drover: () => new DroverBootServer(kernelVersion),
  stock: () => new ReferenceBootServer(),
  tuned: () => new ReferenceBootServer({ tuned: true }),
  "stock+ra": () => new ReferenceBootServer({ routerAdvertisements: true }),
  "tuned+ra": () => new ReferenceBootServer({ tuned: true, routerAdvertisements: true }),
};

function fmt(ms: number | undefined) {
  return ms === undefined ? "   -  " : `${(ms / 1000).toFixed(1).padStart(5)}s`;
}

function breakdown(m: Record<string, number>) {
  const seq = ["ipxe", "script", "linux", "init", "callback"];
  const label: Record<string, string> = { ipxe: "firmware", script: "ipxe→script", linux: "kernel+initrd load", init: "linux", callback: "init→callback" };
  let prev = 0;
  const parts: string[] = [];
  for (const s of seq) {
    const v = m[s];
    if (v === undefined) continue;
    parts.push(`${label[s]} ${((v - prev) / 1000).toFixed(1)}`);
    prev = v;
  }
  return parts.join(", ");
}

async function main() {
  const why = Lab.unavailable() ?? qemuAvailable() ?? referenceAvailable();
  if (why) {
    console.log(`boot-reference bench: skipped: ${why}`);
    return;
  }
  const rounds = Number(arg("rounds", "1"));
  const firmwares = arg("firmware", "bios,uefi").split(",") as Firmware[];
  const setups = arg("setups", "drover,stock,tuned,tuned+ra").split(",");
  for (const s of setups) if (!SETUPS[s]) throw new Error(`unknown setup ${s}; known: ${Object.keys(SETUPS).join(", ")}`);

  const kernel = await testKernel();
  kernelVersion = kernel.version;
  const initrd = await buildBusyboxInitrd({ kernel });
  const t = tempDir("drover-bench-boot-");
  const results: Record<string, number[]> = {};
  const waits: Record<string, number[]> = {};
  console.log(`boot-reference: QEMU TCG, 512 MB, virtio-net; kernel ${kernel.version}; ${rounds} round(s); power-on → callback`);
  try {
    let n = 0;
    for (let r = 0; r < rounds; r++) {
      for (const setup of setups) {
        for (const fw of firmwares) {
          // A fresh lab and server per boot: dnsmasq starts with no leases, as on a first boot.
          const lab = await Lab.create();
          const server = SETUPS[setup]!();
          try {
            await server.start(lab, { kernel: kernel.vmlinuz, initrd });
            const mac = `52:54:00:be:00:${(n++ % 256).toString(16).padStart(2, "0")}`;
            const b = await bootOnce({ lab, server, firmware: fw, mac, serialLog: join(t.dir, `${setup}-${fw}-${r}.log`) });
            const key = `${fw.padEnd(4)} ${setup}`;
            (results[key] ??= []).push(b.totalMs);
            if (b.marks.script !== undefined && b.marks.ipxe !== undefined) (waits[key] ??= []).push(b.marks.script - b.marks.ipxe);
            console.log(`  ${key.padEnd(14)} ${fmt(b.totalMs)}   (${breakdown(b.marks)}; load ${loadavg()[0]!.toFixed(1)})`);
          } finally {
            await server.stop();
            await lab.destroy();
          }
        }
      }
    }
  } finally {
    t.cleanup();
  }
  // Total time is CPU-bound under TCG and moves with the machine's load; the first iPXE → its last script
  // (DHCP, TFTP, the waits) is where the boot server makes the difference, and moves much less.
  console.log("power-on → callback (best, median) and first iPXE → last script (median):");
  for (const [k, v] of Object.entries(results))
    console.log(`  ${k.padEnd(14)} ${fmt(Math.min(...v))} ${fmt(median(v))}   ${fmt(median(waits[k] ?? []))}   over ${v.length}`);
}

if (import.meta.main) await main();
