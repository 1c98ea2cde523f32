/**
 * A tiny node image for netboot tests: a gzip'd newc cpio holding busybox-static (with its applet links),
 * the NIC modules from the Debian kernel package, and an `/init` that brings the NIC up with udhcpc, calls
 * the boot server back over HTTP and prints a marker line on the serial console, then powers off.
 *
 *   const k = await testKernel();                       // Debian's vmlinuz + modules (./kernel.ts)
 *   const initrd = await buildBusyboxInitrd({ kernel: k });
 *   // kernel line: console=ttyS0 drover.callback=http://10.1.2.1:8080/callback
 *
 * The callback URL comes from the kernel command line (`drover.callback=`) so one cached image serves every
 * lab address; `callbackUrl` bakes a fallback in. The node fetches `CALLBACK?mac=…&ip=…`, then prints
 * `MARKER mac=… ip=…` (marker default `DROVER-NODE-UP`). When anything fails it prints
 * `DROVER-NODE-FAIL reason` so a test waiting on the serial log can stop at once.
 *
 * The cpio is written here in TypeScript (device nodes need no root, no cpio binary, and the output is
 * byte-for-byte reproducible: every mtime is 0, every owner root).
 */
import { spawnSync } from "bun";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { debianKernel } from "./kernel";

export const WORK_DIR = join(import.meta.dir, "..", ".work");

/** A kernel and its module tree (test/helpers/kernel.ts's debianKernel() returns one). */
export interface TestKernel {
  vmlinuz: string;
  version: string;
  /** The `lib/modules/VERSION` directory (at least the NIC modules under it). */
  modulesDir: string;
}

/** virtio-net and e1000/e1000e, dependencies first. `virtio_pci` must be named: nothing depends on it. */
export const NIC_MODULES = [
  "virtio_ring",
  "virtio",
  "virtio_pci_modern_dev",
  "virtio_pci_legacy_dev",
  "virtio_pci",
  "failover",
  "net_failover",
  "virtio_net",
  "e1000",
  "e1000e",
];

export const DEFAULT_MARKER = "DROVER-NODE-UP";
export const FAIL_MARKER = "DROVER-NODE-FAIL";

export interface InitrdOptions {
  kernel: TestKernel;
  /** Fallback callback URL when the kernel line has no `drover.callback=`. */
  callbackUrl?: string;
  /** The line prefix printed on the console once the callback answered. */
  marker?: string;
  /** Module names to load in this order (their dependencies are added first). Default NIC_MODULES. */
  modules?: string[];
  /** Replaces the generated /init entirely. */
  init?: string;
  /** More files: path inside the image → contents (string or bytes), optionally with a mode. */
  extraFiles?: Record<string, string | Uint8Array | { data: string | Uint8Array; mode: number }>;
  /** Where to write the image; default a content-addressed file under test/.work/initrd/. */
  out?: string;
}

/** Builds (or reuses, when the same inputs were built before) the image and returns its path. */
export async function buildBusyboxInitrd(opts: InitrdOptions): Promise<string> {
  const busybox = findBusybox();
  const modules = resolveModules(opts.kernel.modulesDir, opts.modules ?? NIC_MODULES);
  const init = opts.init ?? initScript({ callbackUrl: opts.callbackUrl ?? "", marker: opts.marker ?? DEFAULT_MARKER, modules: modules.map((m) => m.name) });

  const cpio = new CpioWriter();
  for (const d of ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "run", "etc", "lib", "lib/modules", "root", "var", "var/run"])
    cpio.dir(d);
  cpio.chr("dev/console", 0o600, 5, 1);
  cpio.chr("dev/null", 0o666, 1, 3);
  cpio.chr("dev/ttyS0", 0o600, 4, 64);
  cpio.file("bin/busybox", readFileSync(busybox), 0o755);
  for (const applet of busyboxApplets(busybox)) if (applet !== "bin/busybox") cpio.symlink(applet, "/bin/busybox");
  for (const m of modules) cpio.file(`lib/modules/${m.name}.ko`, readFileSync(m.path), 0o644);
  cpio.file("etc/udhcpc.script", UDHCPC_SCRIPT, 0o755);
  cpio.file("init", init, 0o755);
  for (const [path, v] of Object.entries(opts.extraFiles ?? {})) {
    const rel = path.replace(/^\/+/, "");
    if (dirname(rel) !== ".") cpio.dir(dirname(rel));
    if (typeof v === "string" || v instanceof Uint8Array) cpio.file(rel, v, 0o644);
    else cpio.file(rel, v.data, v.mode);
  }
  const bytes = Bun.gzipSync(cpio.finish());

  const out = opts.out ?? join(WORK_DIR, "initrd", `busybox-${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}.cpio.gz`);
  if (!existsSync(out)) {
    mkdirSync(dirname(out), { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, out);
  }
  return out;
}

/** The generated /init. Reads `drover.callback=` and `drover.marker=` from the kernel command line. */
export function initScript(o: { callbackUrl: string; marker: string; modules: string[] }): string {
  return `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec >/dev/console 2>&1 </dev/console
fail() { echo "${FAIL_MARKER} $*"; poweroff -f; sleep 60; }
CB=${shq(o.callbackUrl)}
MARKER=${shq(o.marker)}
for a in $(cat /proc/cmdline); do
  case "$a" in
    drover.callback=*) CB="\${a#drover.callback=}" ;;
    drover.marker=*) MARKER="\${a#drover.marker=}" ;;
  esac
done
for m in ${o.modules.join(" ")}; do insmod /lib/modules/$m.ko || echo "drover-init: insmod $m failed"; done
IF=
for i in $(seq 1 100); do
  for d in /sys/class/net/*; do
    n=\${d##*/}
    [ "$n" = lo ] || { IF=$n; break; }
  done
  [ -n "$IF" ] && break
  sleep 0.1
done
[ -n "$IF" ] || fail "no network interface"
MAC=$(cat /sys/class/net/$IF/address)
ip link set lo up
ip link set "$IF" up
udhcpc -i "$IF" -f -q -n -t 10 -T 2 -s /etc/udhcpc.script >/tmp/udhcpc.log 2>&1 || { cat /tmp/udhcpc.log; fail "dhcp on $IF mac=$MAC"; }
IP=$(cat /tmp/ip)
echo "drover-init: $IF mac=$MAC ip=$IP"
[ -n "$CB" ] || fail "no callback URL (drover.callback=) mac=$MAC ip=$IP"
ok=
for i in 1 2 3 4 5; do
  if timeout 10 wget -q -O- "$CB?mac=$MAC&ip=$IP" >/tmp/cb 2>/dev/null; then ok=1; break; fi
  sleep 1
done
[ -n "$ok" ] || fail "callback $CB mac=$MAC ip=$IP"
echo "$MARKER mac=$MAC ip=$IP"
poweroff -f
sleep 60
`;
}

const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route add default via \${router%% *} dev "$interface"
    echo "$ip" > /tmp/ip ;;
esac
exit 0
`;

function shq(s: string) {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function findBusybox(): string {
  for (const p of ["/bin/busybox", "/usr/bin/busybox"]) {
    if (!existsSync(p)) continue;
    const ldd = spawnSync(["ldd", p]);
    if (ldd.stdout.toString().includes("not a dynamic") || ldd.stderr.toString().includes("not a dynamic")) return p;
  }
  throw new Error("needs a static busybox: apt-get install busybox-static");
}

function busyboxApplets(busybox: string): string[] {
  const r = spawnSync([busybox, "--list-full"]);
  if (r.exitCode !== 0) throw new Error(`${busybox} --list-full failed`);
  return r.stdout.toString().split("\n").filter(Boolean);
}

/** Finds each module's .ko under modulesDir and orders them so dependencies come first (modinfo). */
function resolveModules(modulesDir: string, wanted: string[]): { name: string; path: string }[] {
  const index = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ko")) index.set(e.name.slice(0, -3).replace(/-/g, "_"), p);
    }
  };
  walk(modulesDir);
  const out: { name: string; path: string }[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    const n = name.replace(/-/g, "_");
    if (seen.has(n)) return;
    seen.add(n);
    const path = index.get(n);
    if (!path) throw new Error(`module ${n}.ko not found under ${modulesDir} (compressed .ko.xz is not supported)`);
    const deps = spawnSync(["modinfo", "-F", "depends", path]);
    if (deps.exitCode !== 0) throw new Error(`modinfo ${path} failed (apt-get install kmod)`);
    for (const d of deps.stdout.toString().trim().split(",").filter(Boolean)) visit(d);
    out.push({ name: n, path });
  };
  for (const w of wanted) visit(w);
  return out;
}

/** newc ("070701") cpio writer. Directories are emitted once, before anything inside them. */
class CpioWriter {
  private parts: Uint8Array[] = [];
  private ino = 1;
  private dirs = new Set<string>();

  dir(path: string) {
    if (this.dirs.has(path)) return;
    const parent = dirname(path);
    if (parent !== "." && parent !== "") this.dir(parent);
    this.dirs.add(path);
    this.entry(path, 0o040755, new Uint8Array(0));
  }
  file(path: string, data: string | Uint8Array, mode: number) {
    this.entry(path, 0o100000 | mode, typeof data === "string" ? new TextEncoder().encode(data) : data);
  }
  symlink(path: string, target: string) {
    const parent = dirname(path);
    if (parent !== ".") this.dir(parent);
    this.entry(path, 0o120777, new TextEncoder().encode(target));
  }
  chr(path: string, mode: number, major: number, minor: number) {
    this.entry(path, 0o020000 | mode, new Uint8Array(0), major, minor);
  }
  finish(): Uint8Array<ArrayBuffer> {
    this.entry("TRAILER!!!", 0, new Uint8Array(0), 0, 0, 0);
    return Buffer.concat(this.parts);
  }

  private entry(name: string, mode: number, data: Uint8Array, rmajor = 0, rminor = 0, ino = this.ino++) {
    const nameBytes = new TextEncoder().encode(`${name}\0`);
    const h = (n: number) => n.toString(16).padStart(8, "0");
    // magic ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
    const header = `070701${h(ino)}${h(mode)}${h(0)}${h(0)}${h(mode & 0o040000 ? 2 : 1)}${h(0)}${h(data.length)}${h(0)}${h(0)}${h(rmajor)}${h(rminor)}${h(nameBytes.length)}${h(0)}`;
    this.push(new TextEncoder().encode(header));
    this.push(nameBytes);
    this.pad();
    this.push(data);
    this.pad();
  }
  private size = 0;
  private push(b: Uint8Array) {
    this.parts.push(b);
    this.size += b.length;
  }
  private pad() {
    const n = (4 - (this.size % 4)) % 4;
    if (n) this.push(new Uint8Array(n));
  }
}

/** The kernel tests boot: Debian's, from test/helpers/kernel.ts (throws KernelUnavailable when it cannot). */
export async function testKernel(): Promise<TestKernel> {
  return debianKernel();
}
