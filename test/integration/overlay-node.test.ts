import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readArtifact } from "../../src/boot/artifact";
import type { BootArtifact } from "../../src/boot/ports";
import { BootService } from "../../src/boot/service";
import { createApp } from "../../src/http/app";
import type { BootEventRecord, BootStateStore } from "../../src/services/ports";
import { type World, world } from "../unit/overlay/world";

// The node side for real: the wwinit /init runs as PID 1 under busybox in a throw-away tmpfs root (mount,
// pid, uts and network namespaces of its own, with a veth pair as its NIC), and the agent runs under busybox sh against a drover HTTP
// server on 127.0.0.1, fetching from a privileged port with curl, or with busybox wget.

const isRoot = process.getuid?.() === 0;
const have = (c: string) => !!Bun.which(c);
const missing = [
  !isRoot && "root",
  !have("unshare") && "unshare (util-linux)",
  !have("busybox") && "busybox-static",
  !have("cpio") && "cpio",
  !have("curl") && "curl",
].filter(Boolean);
const why = missing.length ? `needs ${missing.join(", ")}; run as root with those installed: sudo bun test test/integration/overlay-node.test.ts` : "";

const tmp = mkdtempSync(join(tmpdir(), "drover-node-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The archive as the boot route sends it (its parts one after the other), in one file. */
function archiveFile(a: BootArtifact, name: string): string {
  const path = join(tmp, name);
  writeFileSync(path, readArtifact(a));
  return path;
}

function unpack(archive: string, into: string) {
  mkdirSync(into, { recursive: true });
  const r = Bun.spawnSync(["sh", "-c", 'gzip -dc "$1" | cpio -idm --quiet', "sh", archive], { cwd: into });
  if (r.exitCode !== 0) throw new Error(`unpacking ${archive}: ${r.stderr}`);
}

/**
 * A directory of busybox applets (and, when asked, curl) put first on the agent's PATH, so that it runs on
 * what a minimal node image offers (busybox cpio, gzip, find, stat, cp, wget) rather than the host's tools.
 */
function busyboxPath(withCurl: boolean): string {
  const dir = join(tmp, withCurl ? "bb-curl" : "bb-wget");
  if (existsSync(dir)) return dir;
  mkdirSync(dir);
  const bb = Bun.which("busybox")!;
  for (const a of new TextDecoder()
    .decode(Bun.spawnSync([bb, "--list"]).stdout)
    .split("\n")
    .filter(Boolean))
    symlinkSync(bb, join(dir, a));
  if (withCurl) symlinkSync(Bun.which("curl")!, join(dir, "curl"));
  return dir;
}

/** The node's "real" init for the /init test: reports what it finds, then exits (ending the namespace). */
const FAKE_INIT = [
  "#!/bin/sh",
  'echo "INIT-RAN pid=$$ hostname=$(hostname)"',
  "grep -q ' /proc proc ' /proc/mounts && echo PROC-MOUNTED",
  "grep ' / ' /proc/mounts | grep -q 'size=65536k\\| ramfs ' && echo ROOT-IS-INITRAMFS || echo ROOT-IS-NEW-TMPFS",
  "ip -4 addr show dev eth0 | grep -o 'inet [0-9./]*'",
  "ip route | grep -o 'default via [0-9.]*'",
  "",
].join("\n");

// Runs inside fresh namespaces: a tmpfs root with busybox and the system overlay, a dummy eth0, then /init.
// Every path comes from the environment and is checked first, so nothing can land on the host's root.
const NS_SCRIPT = [
  "set -e",
  '[ -n "$R" ] && [ -d "$R" ] && [ "$R" != / ] || { echo "bad root dir"; exit 2; }',
  // root=tmpfs is tested from a ramfs, as the kernel's initramfs is (a tmpfs root means stage 1 made it)
  'if [ "$ROOTFS" = ramfs ]; then mount -t ramfs -o mode=0755 ramfs "$R"; else mount -t tmpfs -o size=65536k,mode=0755 tmpfs "$R"; fi',
  'mkdir -p "$R/bin" "$R/sbin"',
  'cp "$BB" "$R/bin/busybox"',
  'for a in $("$BB" --list); do [ -e "$R/bin/$a" ] || ln -s busybox "$R/bin/$a"; done',
  'cd "$R" && gzip -dc "$ARCHIVE" | cpio -idm --quiet',
  'cp "$FAKE_INIT" "$R/sbin/init" && chmod 755 "$R/sbin/init"',
  "ip link add eth0 type veth peer name peer0",
  'exec chroot "$R" /init',
].join("\n");

describe.skipIf(!!why)("wwinit /init as PID 1", () => {
  let w: World;
  beforeAll(() => {
    w = world();
    writeFileSync(join(tmp, "fake-init"), FAKE_INIT);
  });
  afterAll(() => w.cleanup());

  const boot = async (rootMode: string) => {
    w.nodes.setNodes(["n-static"], { set: { root: rootMode, systemOverlay: ["wwinit", "hostname"] } }, { allowMissingImage: true });
    const a = await w.overlays.archive("system", "n-static");
    if ("refused" in a) throw new Error(a.message);
    const r = join(tmp, `root-${rootMode}`);
    mkdirSync(r, { recursive: true });
    const p = Bun.spawnSync(["unshare", "--mount", "--pid", "--fork", "--net", "--uts", "--propagation", "private", "sh", "-c", NS_SCRIPT], {
      env: {
        R: r,
        ROOTFS: rootMode === "tmpfs" ? "ramfs" : "tmpfs",
        BB: Bun.which("busybox")!,
        ARCHIVE: archiveFile(a, `system-${rootMode}.img.gz`),
        FAKE_INIT: join(tmp, "fake-init"),
        PATH: process.env.PATH!,
      },
      timeout: 30_000,
    });
    return `${p.stdout}${p.stderr}`;
  };

  test("root=initramfs: mounts, hostname, static network, then the node's init in place", async () => {
    const out = await boot("initramfs");
    expect(out).toContain("drover-init: node n-static, root=initramfs");
    expect(out).toContain("INIT-RAN pid=1 hostname=n-static");
    expect(out).toContain("PROC-MOUNTED");
    expect(out).toContain("ROOT-IS-INITRAMFS");
    expect(out).toContain("inet 10.0.0.12/24");
    expect(out).toContain("default via 10.0.0.1");
    expect(out).toContain("network ib: no interface ib0; skipped");
  });

  test("root=tmpfs: copies the root into a tmpfs and switch_roots into it", async () => {
    const out = await boot("tmpfs");
    expect(out).toContain("copying the root into a tmpfs");
    expect(out).toContain("INIT-RAN pid=1 hostname=n-static");
    expect(out).toContain("PROC-MOUNTED");
    expect(out).toContain("ROOT-IS-NEW-TMPFS");
  });
});

describe.skipIf(!!why)("the agent", () => {
  let w: World;
  let server: ReturnType<typeof Bun.serve>;
  const events: BootEventRecord[] = [];
  const log: { path: string; status: number; inm: boolean }[] = [];
  let secure = true;
  let app: ReturnType<typeof createApp>;
  const root = join(tmp, "node");
  const state = join(tmp, "agent-state");
  const store: BootStateStore = {
    record: (e) => void events.push(e),
    statuses: () => [],
    events: () => [],
    unknown: () => [],
    forgetUnknown() {},
    ignoreUnknown() {},
  };
  const mkApp = () =>
    createApp({
      startedAt: new Date(),
      stats: () => ({}),
      services: () => ({}),
      boot: new BootService(w.nodes, store, undefined, w.overlays, { discovery: false, secureRuntime: secure }, () => {}),
    } as never);

  beforeAll(async () => {
    w = world({
      "n-agent": {
        profiles: [],
        systemOverlay: ["wwclient"],
        runtimeOverlay: ["hosts", "site"],
        networkDevices: { default: { device: "lo", hwaddr: "52:54:00:aa:00:01", ipaddr: "127.0.0.1", netmask: "255.0.0.0" } },
      },
    });
    mkdirSync(join(w.dir, "data/overlays/site/etc"), { recursive: true });
    writeFileSync(join(w.dir, "data/overlays/site/etc/motd.eta"), "hello <%= it.node.name %>\n");
    app = mkApp();
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (req, srv) => {
        const res = await app.fetch(req, srv);
        log.push({ path: new URL(req.url).pathname, status: res.status, inm: req.headers.has("if-none-match") });
        return res;
      },
    });
    w.overlays.setServer({ address: "127.0.0.1", netmask: "255.0.0.0", port: server.port!, hostname: "head", pollSeconds: 60 });
    const sys = await w.overlays.archive("system", "n-agent");
    if ("refused" in sys) throw new Error(sys.message);
    unpack(archiveFile(sys, "system-agent.img.gz"), root);
  });
  afterAll(() => {
    server?.stop(true);
    w?.cleanup();
  });

  // Asynchronous: the server answering the agent runs in this process.
  const agent = async (withCurl: boolean, extra: Record<string, string> = {}) => {
    const p = Bun.spawn([Bun.which("busybox")!, "sh", join(root, "drover/agent"), "--once"], {
      env: {
        PATH: busyboxPath(withCurl),
        ...(withCurl ? {} : { DROVER_AGENT_HTTP: "wget" }),
        DROVER_AGENT_CONF: join(root, "etc/drover/agent.conf"),
        DROVER_AGENT_ROOT: root,
        DROVER_AGENT_STATE: state,
        ...extra,
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
    return { code, err };
  };
  const lastRuntime = () => log.filter((l) => l.path.startsWith("/runtime/")).at(-1)!;

  test("the rendered config points at the server and polls every 60 s", () => {
    const conf = readFileSync(join(root, "etc/drover/agent.conf"), "utf8");
    expect(conf).toContain(`DROVER_URL='http://127.0.0.1:${server.port}'`);
    expect(conf).toContain("DROVER_INTERVAL=60");
  });

  test("curl from a privileged port: applies the runtime overlay, then a 304, then a change; heartbeats", async () => {
    const first = await agent(true);
    expect(first.err).toContain("updated etc/hosts");
    expect(first.code).toBe(0);
    expect(readFileSync(join(root, "etc/motd"), "utf8")).toBe("hello n-agent\n");
    expect(readFileSync(join(root, "etc/hosts"), "utf8")).toContain("127.0.0.1  n-agent n-agent-default");
    expect(lastRuntime().status).toBe(200);
    expect(events.some((e) => e.stage === "heartbeat")).toBe(true);

    const second = await agent(true);
    expect(second.code).toBe(0);
    expect(lastRuntime()).toEqual({ path: "/runtime/52:54:00:aa:00:01", status: 304, inm: true });

    writeFileSync(join(w.dir, "data/overlays/site/etc/motd.eta"), "hello again <%= it.node.name %>\n");
    const third = await agent(true);
    expect(third.code).toBe(0);
    expect(third.err).toContain("updated etc/motd");
    expect(third.err).not.toContain("updated etc/hosts");
    expect(readFileSync(join(root, "etc/motd"), "utf8")).toBe("hello again n-agent\n");
    expect(readdirSync(join(root, "etc")).filter((f) => f.endsWith(".drover-new"))).toEqual([]);
  });

  test("from an unprivileged port the server refuses, and the agent says so", async () => {
    const r = await agent(true, { DROVER_LOCAL_PORTS: "40000-40100" });
    expect(r.code).toBe(1);
    expect(r.err).toContain("HTTP 403");
  });

  test("busybox wget cannot pick a privileged port: refused while runtime security is on, works with it off", async () => {
    rmSync(state, { recursive: true, force: true });
    const refused = await agent(false);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("HTTP 403");
    secure = false;
    app = mkApp();
    writeFileSync(join(w.dir, "data/overlays/site/etc/motd.eta"), "hello from wget <%= it.node.name %>\n");
    const ok = await agent(false);
    expect(ok.code).toBe(0);
    expect(readFileSync(join(root, "etc/motd"), "utf8")).toBe("hello from wget n-agent\n");
    const again = await agent(false);
    expect(again.code).toBe(0);
    expect(lastRuntime().status).toBe(304);
  });
});

if (why) console.warn(`skipping the node-side overlay tests: ${why}`);
