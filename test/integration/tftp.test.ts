/**
 * drover's TFTP server against the clients users run: tftp-hpa, curl and atftp (windowsize). Loopback only.
 * The server runs in this process, so every client is spawned asynchronously (a blocking spawn would stall
 * the server's event loop).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dirBootFiles, embeddedIpxeFiles } from "../../src/boot/files";
import { startTftpServer, type TftpServer } from "../../src/protocols/tftp/server";

// 33 MB through a lockstep client writes 33 MB to disk: on a throttled disk (seen here after hours of VM
// tests) that alone took 5 s, bun's default limit; the test is about block numbers and bytes, not speed.
const BIG_TIMEOUT = 60_000;

const has = (bin: string) => Bun.spawnSync(["which", bin]).exitCode === 0;
const TFTP = has("tftp") && Bun.spawnSync(["tftp", "-V"]).stdout.toString().includes("tftp-hpa");
const CURL = has("curl");
const ATFTP = has("atftp");
const skipMsg = (pkg: string) => `needs Debian package ${pkg} (apt-get install ${pkg}; test/run.sh installs it as root)`;
if (!TFTP) console.warn(`tftp integration: tftp-hpa tests skipped: ${skipMsg("tftp-hpa")}`);
if (!CURL) console.warn(`tftp integration: curl tests skipped: ${skipMsg("curl")}`);
if (!ATFTP) console.warn(`tftp integration: windowsize tests skipped: ${skipMsg("atftp")}`);

const assets = join(import.meta.dir, "../../assets/ipxe");
const IPXE = ["undionly.kpxe", "ipxe.pxe", "ipxe.efi", "snponly.efi", "ipxe-arm64.efi"];
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function run(cmd: string[], cwd: string) {
  const p = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  const killer = setTimeout(() => p.kill(), 120_000);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(killer);
  return { code, out, err };
}

let work: string;
let srv: TftpServer;
let big: TftpServer;
let bigSha: string;
const BIG = 33 * 1024 * 1024 + 777; // > 65535 * 512: block numbers must roll over at blksize 512

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "drover-tftp-it-"));
  srv = await startTftpServer({ port: 0, address: "127.0.0.1" }, embeddedIpxeFiles(), () => {});
  const bigDir = mkdtempSync(join(tmpdir(), "drover-tftp-big-"));
  const data = new Uint8Array(BIG);
  for (let i = 0; i < BIG; i += 4096) data[i] = (i / 4096) & 255;
  data[BIG - 1] = 42;
  writeFileSync(join(bigDir, "big.img"), data);
  bigSha = sha(data);
  big = await startTftpServer({ port: 0, address: "127.0.0.1" }, dirBootFiles(bigDir), () => {});
});

afterAll(async () => {
  await srv?.stop();
  await big?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("tftp-hpa client", () => {
  for (const name of IPXE) {
    test.skipIf(!TFTP)(`fetches ${name} byte-identical (with and without a leading /)`, async () => {
      for (const remote of [name, `/${name}`]) {
        const local = join(work, `hpa-${name}`);
        rmSync(local, { force: true });
        const r = await run(["tftp", "-m", "binary", "127.0.0.1", String(srv.port), "-c", "get", remote, local], work);
        expect(r.err).toBe("");
        expect(readFileSync(local).equals(readFileSync(join(assets, name)))).toBe(true);
      }
    });
  }

  test.skipIf(!TFTP)(
    "a 33 MB file at blksize 512: block numbers roll over and the bytes arrive intact",
    async () => {
      const local = join(work, "big-hpa.img");
      const r = await run(["tftp", "-m", "binary", "127.0.0.1", String(big.port), "-c", "get", "big.img", local], work);
      expect(r.err).toBe("");
      expect(statSync(local).size).toBe(BIG);
      expect(sha(readFileSync(local))).toBe(bigSha);
      rmSync(local);
    },
    BIG_TIMEOUT,
  );

  const hostile: [string, RegExp][] = [
    ["../etc/passwd", /Error code 2/],
    ["../../../../../../etc/passwd", /Error code 2/],
    ["/etc/passwd", /Error code 1/],
    ["//etc/passwd", /Error code 2/],
    ["..\\..\\etc\\passwd", /Error code 2/],
    ["\\etc\\passwd", /Error code 2/],
  ];
  for (const [name, want] of hostile) {
    test.skipIf(!TFTP)(`refuses ${JSON.stringify(name)}`, async () => {
      const local = join(work, "hostile.out");
      rmSync(local, { force: true });
      const r = await run(["tftp", "-m", "binary", "127.0.0.1", String(srv.port), "-c", "get", name, local], work);
      expect(r.err + r.out).toMatch(want);
      expect(existsSync(local) ? statSync(local).size : 0).toBe(0);
    });
  }

  test.skipIf(!TFTP)("a write (put) is refused", async () => {
    const src = join(work, "upload.bin");
    writeFileSync(src, "payload");
    const before = srv.stats().refused.writeRequest;
    const r = await run(["tftp", "-m", "binary", "127.0.0.1", String(srv.port), "-c", "put", src, "upload.bin"], work);
    expect(r.err + r.out).toMatch(/Error code 2: this server is read-only/);
    expect(srv.stats().refused.writeRequest).toBe(before + 1);
  });
});

describe("curl", () => {
  for (const name of IPXE) {
    test.skipIf(!CURL)(`fetches ${name} byte-identical with blksize 1468`, async () => {
      const local = join(work, `curl-${name}`);
      const r = await run(["curl", "-sS", "--tftp-blksize", "1468", "-o", local, `tftp://127.0.0.1:${srv.port}/${name}`], work);
      expect(r.code).toBe(0);
      expect(readFileSync(local).equals(readFileSync(join(assets, name)))).toBe(true);
    });
  }

  test.skipIf(!CURL)(
    "a 33 MB file at blksize 512 with tsize: rollover",
    async () => {
      const local = join(work, "big-curl.img");
      const r = await run(["curl", "-sS", "--tftp-blksize", "512", "-o", local, `tftp://127.0.0.1:${big.port}/big.img`], work);
      expect(r.code).toBe(0);
      expect(sha(readFileSync(local))).toBe(bigSha);
      rmSync(local);
    },
    BIG_TIMEOUT,
  );

  test.skipIf(!CURL)("unknown file: curl reports TFTP file not found", async () => {
    const r = await run(["curl", "-sS", "-o", "/dev/null", `tftp://127.0.0.1:${srv.port}/missing.efi`], work);
    expect(r.code).toBe(68); // CURLE_TFTP_NOTFOUND
  });

  test.skipIf(!CURL)("50 concurrent fetches of ipxe.efi, from 50 addresses as 50 nodes would, all arrive intact", async () => {
    const want = sha(readFileSync(join(assets, "ipxe.efi")));
    const before = srv.stats().refused.clientLimit;
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const local = join(work, `many-${i}.efi`);
        // One loopback address each (127.0.0.10 …): one address may hold at most 16 transfers at once.
        const r = await run(
          ["curl", "-sS", "--interface", `127.0.0.${10 + i}`, "--tftp-blksize", "1468", "-o", local, `tftp://127.0.0.1:${srv.port}/ipxe.efi`],
          work,
        );
        const ok = r.code === 0 && sha(readFileSync(local)) === want;
        rmSync(local, { force: true });
        return ok;
      }),
    );
    expect(results.filter((x) => !x).length).toBe(0);
    expect(srv.stats().refused.clientLimit).toBe(before);
  });
});

describe("atftp (windowsize, RFC 7440)", () => {
  for (const window of [4, 16, 64]) {
    test.skipIf(!ATFTP)(`windowsize ${window} is negotiated and ipxe.efi arrives intact`, async () => {
      const local = join(work, `atftp-${window}.efi`);
      const r = await run(
        [
          "atftp",
          "--option",
          `windowsize ${window}`,
          "--option",
          "blksize 1468",
          "--option",
          "tsize 0",
          "--trace",
          "-g",
          "-r",
          "ipxe.efi",
          "-l",
          local,
          "127.0.0.1",
          String(srv.port),
        ],
        work,
      );
      const trace = r.out + r.err;
      expect(trace).toMatch(new RegExp(`received OACK <[^>]*windowsize: ${window}`));
      // The client acknowledged whole windows: one ACK per `window` blocks, not one per block.
      const acks = (trace.match(/sent ACK/g) ?? []).length;
      const blocks = Math.floor(statSync(join(assets, "ipxe.efi")).size / 1468) + 1;
      expect(acks).toBeGreaterThanOrEqual(Math.floor(blocks / window));
      expect(acks).toBeLessThanOrEqual(Math.ceil(blocks / window) + 2);
      expect(readFileSync(local).equals(readFileSync(join(assets, "ipxe.efi")))).toBe(true);
    });
  }

  test.skipIf(!ATFTP)(
    "a 33 MB file with windowsize 8 and blksize 512 (rollover inside windows)",
    async () => {
      const local = join(work, "big-atftp.img");
      const r = await run(
        ["atftp", "--option", "windowsize 8", "--option", "blksize 512", "-g", "-r", "big.img", "-l", local, "127.0.0.1", String(big.port)],
        work,
      );
      expect(r.code).toBe(0);
      expect(sha(readFileSync(local))).toBe(bigSha);
      rmSync(local);
    },
    BIG_TIMEOUT,
  );
});
