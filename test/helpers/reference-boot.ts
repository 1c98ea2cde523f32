/**
 * The reference boot server: what a Warewulf site runs today (dnsmasq for DHCP + TFTP, a plain HTTP server for
 * the iPXE script, kernel and initrd), started inside a lab's head-node namespace. It proves the VM harness
 * and is the baseline drover's boot times are compared with.
 *
 * Tests and benchmarks talk to it through BootServer, the same seam a `drover serve` wrapper implements, so
 * swapping one for the other is one line:
 *
 *   const server: BootServer = new ReferenceBootServer({ tuned: true });   // or: new DroverBootServer(...)
 *   await server.start(lab, { kernel, initrd });
 *   const vm = startVm({ lab, firmware: "bios", mac, serialLog });
 *   await vm.waitFor(/DROVER-NODE-UP/, 240_000);
 *   expect(await server.callbackSeen(mac)).toBeDefined();
 *   await server.stop();
 *
 * Boot flow served here (tag matching in dnsmasq, like Warewulf's `configure dhcp`):
 * - DHCP user class `iPXE` (any iPXE)      → boot file `http://SERVER:PORT/boot.ipxe`
 * - else client arch 7/9 (x86-64 UEFI PXE)  → `snponly.efi` over TFTP
 * - else (BIOS PXE)                         → `undionly.kpxe` over TFTP
 * QEMU's BIOS NIC ROM is already iPXE, so the BIOS path would skip TFTP. With `biosViaTftp` (default on) the
 * script chains `undionly.kpxe` over TFTP when it runs in any iPXE but undionly, the path a real BIOS PXE ROM
 * takes (one more DHCP exchange).
 *
 * The script then loads `vmlinuz` and `initrd.img` over HTTP and boots with
 * `console=ttyS0 drover.callback=http://SERVER:PORT/callback`; the node (test/helpers/initrd.ts) calls that
 * URL with `?mac=…&ip=…` once its network is up, and the HTTP server records it.
 *
 * This file is also the HTTP server's program: `bun reference-boot.ts http ROOT PORT LOGDIR`, started in the
 * namespace by ReferenceBootServer.
 */
import { type Subprocess, spawnSync } from "bun";
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import type { Lab } from "./netns";

/** What a node boots: paths on the host. */
export interface BootFiles {
  kernel: string;
  initrd: string;
  /** Appended to the kernel line after console=ttyS0 and the callback argument. */
  kernelArgs?: string;
}

export interface CallbackRecord {
  mac: string;
  ip: string;
  /** Source address of the request, as the server saw it. */
  remote: string;
  /** ms since the epoch (Date.now() in the server). */
  at: number;
}

/** A boot server under test: the reference stack here, or drover itself. */
export interface BootServer {
  readonly name: string;
  /** Starts serving in lab.hn on lab.serverIp; resolves once it answers. */
  start(lab: Lab, files: BootFiles): Promise<void>;
  /** The node's callback, once it has made one (lower-case colon MAC). */
  callbackSeen(mac: string): Promise<CallbackRecord | undefined>;
  stop(): Promise<void>;
}

export interface ReferenceOptions {
  /**
   * Turn off what makes the stock stack slow (see netboot-testing.md): dnsmasq's ping before each new
   * address (`--no-ping`), and iPXE's wait for ProxyDHCP offers (option 175.176 no-pxedhcp = 1).
   */
  tuned?: boolean;
  /**
   * Also send IPv6 router advertisements (a ULA prefix from br0, SLAAC) so each iPXE stops waiting ~13 s for
   * IPv6 autoconfiguration.
   */
  routerAdvertisements?: boolean;
  /** BIOS: chain undionly.kpxe over TFTP from QEMU's iPXE ROM (default true). */
  biosViaTftp?: boolean;
  httpPort?: number;
  /** iPXE binaries; default the ipxe package's. */
  ipxeDir?: string;
}

export const IPXE_DIR = "/usr/lib/ipxe";

/** Why the reference server cannot run here, or undefined. */
export function referenceAvailable(): string | undefined {
  if (spawnSync(["which", "dnsmasq"]).exitCode !== 0) return "needs dnsmasq: apt-get install dnsmasq-base";
  for (const f of ["undionly.kpxe", "snponly.efi"]) if (!existsSync(join(IPXE_DIR, f))) return `needs ${IPXE_DIR}/${f}: apt-get install ipxe`;
  return undefined;
}

/** The iPXE script the reference server hands every iPXE. */
export function referenceScript(o: { base: string; biosViaTftp: boolean; serverIp: string; kernelArgs: string }): string {
  const chain = o.biosViaTftp
    ? `iseq \${platform} pcbios && iseq \${net0/chip} undionly || goto not_undionly\ngoto boot\n:not_undionly\niseq \${platform} pcbios && chain tftp://${o.serverIp}/undionly.kpxe ||\n`
    : "";
  return `#!ipxe
echo drover-ref: ipxe platform=\${platform} chip=\${net0/chip} mac=\${net0/mac}
${chain}:boot
kernel ${o.base}/vmlinuz initrd=initrd.img console=ttyS0 drover.callback=${o.base}/callback ${o.kernelArgs} || goto failed
initrd ${o.base}/initrd.img || goto failed
boot || goto failed
:failed
echo DROVER-NODE-FAIL ipxe could not load the node image
sleep 5
reboot
`;
}

export class ReferenceBootServer implements BootServer {
  readonly name: string;
  private dir?: string;
  private dnsmasq?: Subprocess;
  private http?: Subprocess;
  private lab?: Lab;
  readonly port: number;

  constructor(private opts: ReferenceOptions = {}) {
    this.port = opts.httpPort ?? 8080;
    this.name = `reference dnsmasq${opts.tuned ? " tuned" : " stock"}${opts.routerAdvertisements ? " +RA" : ""}`;
  }

  /** The directory holding the TFTP root, the HTTP root and the logs (dnsmasq.log, http.jsonl). */
  get workDir(): string {
    if (!this.dir) throw new Error("not started");
    return this.dir;
  }

  async start(lab: Lab, files: BootFiles): Promise<void> {
    const why = referenceAvailable();
    if (why) throw new Error(`reference boot server ${why}`);
    this.lab = lab;
    const dir = mkdtempSync(join(tmpdir(), "drover-ref-"));
    this.dir = dir;
    const tftp = join(dir, "tftp");
    const www = join(dir, "www");
    spawnSync(["mkdir", "-p", tftp, www]);
    const ipxe = this.opts.ipxeDir ?? IPXE_DIR;
    for (const f of ["undionly.kpxe", "snponly.efi", "ipxe.efi"]) if (existsSync(join(ipxe, f))) copyFileSync(join(ipxe, f), join(tftp, f));
    symlinkSync(files.kernel, join(www, "vmlinuz"));
    symlinkSync(files.initrd, join(www, "initrd.img"));
    const base = `http://${lab.serverIp}:${this.port}`;
    await Bun.write(
      join(www, "boot.ipxe"),
      referenceScript({ base, biosViaTftp: this.opts.biosViaTftp ?? true, serverIp: lab.serverIp, kernelArgs: files.kernelArgs ?? "" }),
    );

    // HTTP first, so the boot file URL answers as soon as DHCP hands it out.
    this.http = lab.spawn(lab.hn, [process.execPath, import.meta.path, "http", www, String(this.port), dir], { stdout: "pipe", stderr: "pipe" });
    await waitForLine(this.http, /^listening/, 10_000, "reference HTTP server");

    const s = lab.subnet;
    const args = [
      "dnsmasq",
      "--no-daemon",
      "--conf-file=/dev/null",
      "--port=0",
      `--interface=${lab.bridge}`,
      "--bind-interfaces",
      "--user=root",
      "--group=root",
      `--pid-file=${join(dir, "dnsmasq.pid")}`,
      `--dhcp-leasefile=${join(dir, "leases")}`,
      `--log-facility=${join(dir, "dnsmasq.log")}`,
      "--log-dhcp",
      `--dhcp-range=${s}.100,${s}.250,255.255.255.0,1h`,
      "--enable-tftp",
      `--tftp-root=${tftp}`,
      "--dhcp-match=set:efi64,option:client-arch,7",
      "--dhcp-match=set:efi64,option:client-arch,9",
      "--dhcp-userclass=set:ipxe,iPXE",
      `--dhcp-boot=tag:ipxe,${base}/boot.ipxe`,
      `--dhcp-boot=tag:!ipxe,tag:efi64,snponly.efi,,${lab.serverIp}`,
      `--dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe,,${lab.serverIp}`,
    ];
    if (this.opts.tuned) args.push("--no-ping", "--dhcp-option=encap:175,176,1");
    if (this.opts.routerAdvertisements) {
      // A ULA on br0 so dnsmasq has a prefix to advertise; it stays inside the lab.
      const v6 = `fd00:${Number.parseInt(lab.id, 36).toString(16).slice(-4)}::1/64`;
      lab.sh(lab.hn, `ip -6 addr add ${v6} dev ${lab.bridge} nodad`);
      args.push("--enable-ra", `--dhcp-range=::,constructor:${lab.bridge},ra-stateless,ra-names`);
    }
    this.dnsmasq = lab.spawn(lab.hn, args, { stdout: "pipe", stderr: "pipe" });
    const log = join(dir, "dnsmasq.log");
    const deadline = Date.now() + 10_000;
    while (!(existsSync(log) && readFileSync(log, "utf8").includes("TFTP root is"))) {
      if (this.dnsmasq.exitCode !== null) throw new Error(`dnsmasq exited: ${await new Response(this.dnsmasq.stderr as ReadableStream).text()}`);
      if (Date.now() > deadline) throw new Error("dnsmasq did not start within 10 s");
      await Bun.sleep(50);
    }
  }

  async callbackSeen(mac: string): Promise<CallbackRecord | undefined> {
    return this.callbacks().find((c) => c.mac === mac.toLowerCase());
  }

  /** Every callback so far, in arrival order. */
  callbacks(): CallbackRecord[] {
    return this.requests()
      .filter((r) => r.path === "/callback")
      .map((r) => ({ mac: (r.query.mac ?? "").toLowerCase(), ip: r.query.ip ?? "", remote: r.remote, at: r.at }));
  }

  /** Every HTTP request so far: { at, remote, path, query, status }. */
  requests(): HttpRecord[] {
    if (!this.dir) return [];
    const f = join(this.dir, "http.jsonl");
    if (!existsSync(f)) return [];
    return readFileSync(f, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as HttpRecord);
  }

  /** dnsmasq's log (DHCP exchanges with --log-dhcp, TFTP transfers). */
  dnsmasqLog(): string {
    return this.dir && existsSync(join(this.dir, "dnsmasq.log")) ? readFileSync(join(this.dir, "dnsmasq.log"), "utf8") : "";
  }

  async stop(): Promise<void> {
    for (const p of [this.dnsmasq, this.http]) {
      if (!p || p.exitCode !== null || p.signalCode !== null) continue;
      p.kill("SIGTERM");
      await Promise.race([p.exited, Bun.sleep(3000)]);
      if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    }
    this.dnsmasq = this.http = undefined;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}

export interface HttpRecord {
  at: number;
  remote: string;
  path: string;
  query: Record<string, string>;
  status: number;
}

async function waitForLine(p: Subprocess, re: RegExp, timeoutMs: number, what: string) {
  const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
  let buf = "";
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await Promise.race([reader.read(), Bun.sleep(Math.max(0, deadline - Date.now())).then(() => undefined)]);
    if (!r || r.done) break;
    buf += new TextDecoder().decode(r.value);
    if (buf.split("\n").some((l) => re.test(l))) {
      reader.releaseLock();
      return;
    }
  }
  const err = p.exitCode !== null ? await new Response(p.stderr as ReadableStream).text() : "";
  throw new Error(`${what} did not start: ${buf} ${err}`);
}

/** The HTTP server program: static files from ROOT, `/callback` recorded, every request logged. */
function serveHttp(root: string, port: number, logDir: string) {
  const log = join(logDir, "http.jsonl");
  const server = Bun.serve({
    port,
    hostname: "0.0.0.0",
    async fetch(req, srv) {
      const url = new URL(req.url);
      const remote = srv.requestIP(req)?.address ?? "";
      let res: Response;
      if (url.pathname === "/callback") {
        res = new Response("ok\n");
      } else {
        const rel = normalize(`/${decodeURIComponent(url.pathname)}`);
        const file = Bun.file(join(root, rel));
        res = rel.includes("\0") || !(await file.exists()) ? new Response("not found\n", { status: 404 }) : new Response(file);
      }
      appendFileSync(
        log,
        `${JSON.stringify({ at: Date.now(), remote, path: url.pathname, query: Object.fromEntries(url.searchParams), status: res.status })}\n`,
      );
      return res;
    },
  });
  console.log(`listening ${server.port}`);
}

if (import.meta.main && process.argv[2] === "http") {
  const [root, port, logDir] = process.argv.slice(3);
  if (!root || !port || !logDir) throw new Error("usage: bun reference-boot.ts http ROOT PORT LOGDIR");
  serveHttp(root, Number(port), logDir);
}
