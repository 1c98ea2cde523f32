/**
 * Diskless QEMU VMs that PXE-boot on a lab's bridge (see test/helpers/netns.ts and
 * /work/shared/docs/netboot-testing.md, whose recipe this follows).
 *
 *   const vm = startVm({ lab, firmware: "uefi", mac: "52:54:00:12:34:56", serialLog: "/tmp/vm.log" });
 *   await vm.waitFor(/DROVER-NODE-UP/, 180_000);   // throws early on a known boot failure
 *   await vm.stop();
 *
 * - BIOS: SeaBIOS, then the virtio-net option ROM from ipxe-qemu (already iPXE), `-boot n`; SeaBIOS's
 *   and iPXE's screen output is mirrored to the serial port (`etc/sercon-port`).
 * - UEFI: q35 + OVMF (non-Secure-Boot 4M build) with a private copy of the variable store, and the NIC's ROM
 *   removed (`romfile=`), so OVMF's own PXE does DHCP and loads an EFI iPXE over TFTP, like real hardware.
 * - uefi-arm64: QEMU's arm64 `virt` machine (cortex-a57) with AAVMF (edk2 for arm64, qemu-efi-aarch64), the
 *   NIC's ROM removed: its own PXE sends option 93 = 11 and loads drover's arm64 iPXE over TFTP.
 * Everything runs under TCG (`-accel tcg`): no KVM is needed, but boots take tens of seconds
 * (DROVER_TEST_KVM=1: KVM, where /dev/kvm exists).
 * `-no-reboot` turns the node's `poweroff -f` (and any reboot after a failure) into QEMU exiting.
 */
import { type Subprocess, spawnSync } from "bun";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Lab } from "./netns";

export type Firmware = "bios" | "uefi" | "uefi-arm64";

export const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
export const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";
const QEMU = "qemu-system-x86_64";
export const AAVMF_CODE = "/usr/share/AAVMF/AAVMF_CODE.fd";
export const AAVMF_VARS = "/usr/share/AAVMF/AAVMF_VARS.fd";
const QEMU_ARM64 = "qemu-system-aarch64";

/** Serial-log lines that mean the boot has failed and will not recover. */
export const BOOT_FAILURES = [/UEFI Interactive Shell/, /No bootable device/, /Kernel panic/, /DROVER-NODE-FAIL.*/];

export interface VmOptions {
  lab: Lab;
  firmware: Firmware;
  mac: string;
  memoryMb?: number;
  /** File the VM's serial console is written to (created/truncated). */
  serialLog: string;
  /** An existing tap in lab.hn; default a new one from lab.addTap(). */
  tap?: string;
  /** The NIC model. OVMF has no e1000 driver, so UEFI needs virtio. Default virtio. */
  nic?: "virtio" | "e1000";
}

export interface Vm {
  proc: Subprocess;
  tap: string;
  serialLog: string;
  /** When QEMU was started (ms since the epoch, Date.now()). */
  startedAt: number;
  /** The serial log so far. */
  log(): string;
  /**
   * Each serial line with the time it was first seen (ms since the epoch; sampled every 100 ms, escape
   * sequences removed). For benchmarks that break a boot into stages; tests should not look at the times.
   */
  lines(): { at: number; text: string }[];
  /**
   * Resolves with the first match of `re` in the serial log's complete lines. Rejects when a BOOT_FAILURES line appears,
   * when QEMU exits without the match, or after timeoutMs; the message carries the log's tail.
   */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Kills QEMU (by PID) if still running and removes the private firmware files. */
  stop(): Promise<void>;
}

/** TCG (the suite's default: no KVM needed); KVM when DROVER_TEST_KVM=1 and /dev/kvm exists. */
export function vmAccel(): "kvm" | "tcg" {
  return process.env.DROVER_TEST_KVM === "1" && existsSync("/dev/kvm") ? "kvm" : "tcg";
}

/** Why VMs cannot be started here (and how to fix it), or undefined when they can. */
export function qemuAvailable(firmware?: Firmware): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (taps in a network namespace); run the suite as root";
  if (!existsSync("/dev/net/tun")) return "needs /dev/net/tun (tap devices); run on a host or container that has it";
  if (firmware === "uefi-arm64") {
    if (spawnSync(["which", QEMU_ARM64]).exitCode !== 0) return "needs QEMU for arm64: apt-get install qemu-system-arm";
    if (!existsSync(AAVMF_CODE) || !existsSync(AAVMF_VARS)) return `needs AAVMF (${AAVMF_CODE}): apt-get install qemu-efi-aarch64`;
    return undefined;
  }
  if (spawnSync(["which", QEMU]).exitCode !== 0) return "needs QEMU: apt-get install qemu-system-x86 seabios ipxe-qemu";
  if (firmware !== "uefi" && !["/usr/share/qemu/efi-virtio.rom", "/usr/lib/ipxe/qemu/efi-virtio.rom"].some(existsSync))
    return "needs the iPXE option ROMs: apt-get install ipxe-qemu";
  if (firmware !== "bios" && (!existsSync(OVMF_CODE) || !existsSync(OVMF_VARS))) return `needs OVMF (${OVMF_CODE}): apt-get install ovmf`;
  return undefined;
}

/**
 * QEMU's command line. `sercon` is a file holding the serial port for SeaBIOS's screen mirror: SeaBIOS reads
 * `etc/sercon-port` as a little-endian binary integer, so `-fw_cfg …,string=0x3f8` (text) mirrors nothing.
 */
export function qemuArgs(o: {
  firmware: Firmware;
  mac: string;
  memoryMb: number;
  tap: string;
  serialLog: string;
  varsFile?: string;
  sercon?: string;
  nic: "virtio" | "e1000";
}): string[] {
  const dev = o.nic === "virtio" ? "virtio-net-pci" : "e1000";
  if (o.firmware === "uefi-arm64") {
    if (!o.varsFile) throw new Error("UEFI needs a private AAVMF variable store");
    // Always TCG: an x86 host cannot run arm64 code under KVM.
    return [
      QEMU_ARM64,
      "-nodefaults",
      "-no-reboot",
      "-accel",
      "tcg",
      "-machine",
      "virt",
      "-cpu",
      "cortex-a57",
      "-m",
      String(o.memoryMb),
      "-display",
      "none",
      "-serial",
      `file:${o.serialLog}`,
      "-drive",
      `if=pflash,format=raw,readonly=on,file=${AAVMF_CODE}`,
      "-drive",
      `if=pflash,format=raw,file=${o.varsFile}`,
      "-netdev",
      `tap,id=n0,ifname=${o.tap},script=no,downscript=no`,
      "-device",
      `virtio-net-pci,netdev=n0,mac=${o.mac},bootindex=1,romfile=`,
    ];
  }
  const args = [
    QEMU,
    "-nodefaults",
    "-no-reboot",
    "-accel",
    vmAccel(),
    "-m",
    String(o.memoryMb),
    "-display",
    "none",
    "-serial",
    `file:${o.serialLog}`,
    "-netdev",
    `tap,id=n0,ifname=${o.tap},script=no,downscript=no`,
  ];
  if (o.firmware === "bios") {
    args.push("-device", `${dev},netdev=n0,mac=${o.mac},bootindex=1`, "-boot", "n");
    if (o.sercon) args.push("-fw_cfg", `name=etc/sercon-port,file=${o.sercon}`);
  } else {
    if (!o.varsFile) throw new Error("UEFI needs a private OVMF variable store");
    args.push(
      "-machine",
      "q35",
      "-drive",
      `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`,
      "-drive",
      `if=pflash,format=raw,file=${o.varsFile}`,
      "-device",
      `${dev},netdev=n0,mac=${o.mac},bootindex=1,romfile=`,
    );
  }
  return args;
}

export function startVm(opts: VmOptions): Vm {
  const why = qemuAvailable(opts.firmware);
  if (why) throw new Error(`cannot start a VM: ${why}`);
  const tap = opts.tap ?? opts.lab.addTap();
  const priv = mkdtempSync(join(tmpdir(), "drover-vm-"));
  let varsFile: string | undefined;
  if (opts.firmware === "uefi") {
    varsFile = join(priv, "OVMF_VARS.fd");
    copyFileSync(OVMF_VARS, varsFile);
  } else if (opts.firmware === "uefi-arm64") {
    varsFile = join(priv, "AAVMF_VARS.fd");
    copyFileSync(AAVMF_VARS, varsFile);
  }
  const sercon = join(priv, "sercon-port");
  writeFileSync(sercon, Uint8Array.of(0xf8, 0x03)); // COM1, 0x3f8
  writeFileSync(opts.serialLog, "");
  const args = qemuArgs({
    firmware: opts.firmware,
    mac: opts.mac,
    memoryMb: opts.memoryMb ?? 512,
    tap,
    serialLog: opts.serialLog,
    varsFile,
    sercon,
    nic: opts.nic ?? "virtio",
  });
  const startedAt = Date.now();
  const proc = opts.lab.spawn(opts.lab.hn, args, { stdout: "pipe", stderr: "pipe" });
  let stderr = "";
  void (async () => {
    try {
      stderr = await new Response(proc.stderr as ReadableStream).text();
    } catch {}
  })();

  const log = () => {
    try {
      return readFileSync(opts.serialLog, "latin1");
    } catch {
      return "";
    }
  };
  const seen: { at: number; text: string }[] = [];
  let consumed = 0;
  let partial = "";
  const sample = () => {
    const text = log();
    if (text.length <= consumed) return;
    const chunk = partial + text.slice(consumed);
    consumed = text.length;
    const parts = chunk.split(/\r?\n|\r/);
    partial = parts.pop() ?? "";
    const at = Date.now();
    for (const p of parts) {
      const t = p.replace(/\x1b\[[0-9;?=]*[A-Za-z]/g, "").trim();
      if (t) seen.push({ at, text: t });
    }
  };
  const sampler = setInterval(sample, 100);
  void proc.exited.then(() => {
    sample();
    clearInterval(sampler);
  });
  const tail = () => {
    const t = log()
      .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "")
      .replace(/\r/g, "");
    return t.slice(-3000) + (stderr ? `\n[qemu stderr] ${stderr.slice(-1000)}` : "");
  };

  return {
    proc,
    tap,
    serialLog: opts.serialLog,
    startedAt,
    log,
    lines() {
      sample();
      return [...seen, ...(partial.trim() ? [{ at: Date.now(), text: partial.trim() }] : [])];
    },
    async waitFor(re, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const exited = proc.exitCode !== null || proc.signalCode !== null;
        // Only whole lines: QEMU may be half-way through writing the one that matters.
        const all = log();
        const text = exited ? all : all.slice(0, all.lastIndexOf("\n") + 1);
        const m = text.match(re);
        if (m) return m;
        for (const f of BOOT_FAILURES) {
          const bad = text.match(f);
          if (bad) throw new Error(`VM ${opts.mac} (${opts.firmware}) failed to boot: "${bad[0].trim()}"\n--- serial log tail ---\n${tail()}`);
        }
        if (exited) throw new Error(`VM ${opts.mac} (${opts.firmware}) exited (code ${proc.exitCode}) before ${re}\n--- serial log tail ---\n${tail()}`);
        if (Date.now() > deadline) throw new Error(`VM ${opts.mac} (${opts.firmware}): no ${re} after ${timeoutMs} ms\n--- serial log tail ---\n${tail()}`);
        await Bun.sleep(200);
      }
    },
    async stop() {
      clearInterval(sampler);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        await Promise.race([proc.exited, Bun.sleep(3000)]);
        if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
        await Promise.race([proc.exited, Bun.sleep(3000)]);
      }
      rmSync(priv, { recursive: true, force: true });
    },
  };
}
