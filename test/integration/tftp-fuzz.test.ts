/**
 * Fuzz: 10,000 mutated TFTP packets against drover's TFTP server running as its own process (so a crash is
 * seen as an exit, not hidden by the test runner). Valid clients (curl, tftp-hpa) fetch iPXE during and
 * after the flood and must get byte-identical files. Loopback only; bounded in packets and time.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeAck, encodeData, encodeError, encodeOack, encodeRequest } from "../../src/protocols/tftp/codec";
import { RawClient } from "../unit/tftp/raw-client";

const has = (bin: string) => Bun.spawnSync(["which", bin]).exitCode === 0;
const CURL = has("curl");
const TFTP = has("tftp");
if (!CURL || !TFTP) console.warn("tftp fuzz: skipped: needs curl and tftp-hpa (apt-get install curl tftp-hpa; test/run.sh installs them as root)");

const assets = join(import.meta.dir, "../../assets/ipxe");
const enc = new TextEncoder();

/** Deterministic PRNG (xorshift32) so a failing run can be replayed with the same seed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

const seeds: Uint8Array[] = [
  encodeRequest("RRQ", "undionly.kpxe"),
  encodeRequest("RRQ", "/ipxe.efi", "octet", { blksize: "1468", tsize: "0" }),
  encodeRequest("RRQ", "snponly.efi", "octet", { windowsize: "16", blksize: "512", timeout: "1" }),
  encodeRequest("RRQ", "missing.efi", "netascii"),
  encodeRequest("WRQ", "upload.bin"),
  encodeAck(0),
  encodeAck(65535),
  encodeData(1, enc.encode("payload")),
  encodeError(0, "boom"),
  encodeOack({ blksize: "1468" }),
];
const hostileNames = [
  "../etc/passwd",
  "/etc/passwd",
  "a\\b",
  "x".repeat(3000),
  "..",
  "//",
  "C:\\boot.ini",
  "\u001b[2J",
  "ipxe.efi/../../x",
  "%2e%2e/etc/passwd",
];

function mutate(r: () => number): Uint8Array {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  const kind = Math.floor(r() * 8);
  let b: Uint8Array = new Uint8Array(pick(seeds));
  switch (kind) {
    case 0: // flip bits
      for (let i = 0, n = 1 + Math.floor(r() * 4); i < n && b.length; i++) b[Math.floor(r() * b.length)]! ^= 1 << Math.floor(r() * 8);
      break;
    case 1: // truncate
      b = b.subarray(0, Math.floor(r() * b.length));
      break;
    case 2: // random bytes appended
      b = new Uint8Array([...b, ...Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256))]);
      break;
    case 3: // pure noise, valid-looking opcode
      b = new Uint8Array(Math.floor(r() * 600));
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
      if (b.length > 1) b[0] = 0;
      if (b.length > 1) b[1] = Math.floor(r() * 8);
      break;
    case 4: // hostile names
      b = encodeRequest(r() < 0.8 ? "RRQ" : "WRQ", pick(hostileNames), "octet");
      break;
    case 5: // absurd options
      b = encodeRequest("RRQ", "undionly.kpxe", "octet", {
        blksize: pick(["0", "1", "65465", "99999999999", "-5", "1e3", ""]),
        windowsize: pick(["0", "65536", "x"]),
        tsize: pick(["1", "-1", "zz"]),
        timeout: pick(["0", "256", "1.5"]),
      });
      break;
    case 6: // NUL bytes injected
      for (let i = 0; i < 3 && b.length; i++) b[Math.floor(r() * b.length)] = 0;
      break;
    default: // random byte overwritten
      if (b.length) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
  }
  return b;
}

async function fetchCurl(port: number, name: string) {
  const p = Bun.spawn(["curl", "-s", "--max-time", "30", "--tftp-blksize", "1468", "-o", "-", `tftp://127.0.0.1:${port}/${name}`], {
    stdout: "pipe",
    stderr: "ignore",
  });
  const body = new Uint8Array(await new Response(p.stdout).arrayBuffer());
  return { code: await p.exited, body };
}

test.skipIf(!CURL || !TFTP)(
  "10,000 mutated requests: the server survives and valid clients are answered during and after",
  async () => {
    const server = Bun.spawn([process.execPath, join(import.meta.dir, "../../bench/tftp.ts"), "--serve", "--port", "0", "--address", "127.0.0.1"], {
      stdout: "pipe",
      stderr: "ignore",
    });
    const reader = server.stdout.getReader();
    let out = "";
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    const port = Number(/READY (\d+)/.exec(out)?.[1]);
    expect(port).toBeGreaterThan(0);
    const r = rng(Number(process.env.DROVER_FUZZ_SEED ?? 20240611));
    // Many source ports: a port with a transfer under way has its further requests ignored as retransmissions.
    // The flood comes from another host (127.0.0.2) than the valid clients (127.0.0.1): it may hold at most
    // 16 transfers at once (maxTransfersPerClient), and the valid clients must still be served meanwhile.
    const fuzzers = await Promise.all(Array.from({ length: 64 }, () => RawClient.open("127.0.0.2")));
    const want = readFileSync(join(assets, "undionly.kpxe"));
    const during: Promise<{ code: number; body: Uint8Array }>[] = [];
    try {
      let sent = 0;
      for (let batch = 0; sent < 10_000; batch++) {
        for (let i = 0; i < 100; i++, sent++) {
          const c = fuzzers[sent % fuzzers.length]!;
          // Drain replies: answer a transfer (a new TID) with an abort or junk, as a broken client would.
          while (c.pending() > 0) {
            const rep = await c.recv(10);
            if (rep.port !== port) c.send(r() < 0.7 ? encodeError(0, "fuzz") : mutate(r), rep.port);
          }
          c.send(mutate(r), port);
        }
        if (batch % 20 === 0) during.push(fetchCurl(port, "undionly.kpxe"));
        await Bun.sleep(1); // let the server and the replies breathe between bursts of 100
        expect(server.exitCode).toBeNull();
      }
      const results = await Promise.all(during);
      expect(results.length).toBe(5);
      for (const x of results) {
        expect(x.code).toBe(0);
        expect(Buffer.from(x.body).equals(want)).toBe(true);
      }
      // After the flood: another client (tftp-hpa) and curl for the big binary.
      const local = join(mkdtempSync(join(tmpdir(), "drover-fuzz-")), "snponly.efi");
      const hpa = Bun.spawn(["tftp", "-m", "binary", "127.0.0.1", String(port), "-c", "get", "snponly.efi", local], { stdout: "ignore", stderr: "ignore" });
      await hpa.exited;
      expect(readFileSync(local).equals(readFileSync(join(assets, "snponly.efi")))).toBe(true);
      rmSync(join(local, ".."), { recursive: true, force: true });
      const after = await fetchCurl(port, "ipxe.efi");
      expect(Buffer.from(after.body).equals(readFileSync(join(assets, "ipxe.efi")))).toBe(true);
      expect(server.exitCode).toBeNull();
    } finally {
      for (const c of fuzzers) c.close();
      server.kill("SIGTERM");
    }
    // The server reports what it saw when asked to stop; it must exit cleanly (0), not crash.
    let rest = out;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(await server.exited).toBe(0);
    const stats = JSON.parse(/STATS (.*)/.exec(rest)?.[1] ?? "{}");
    console.log(`tftp fuzz: server stats ${JSON.stringify(stats)}`);
    expect(stats.packets).toBeGreaterThan(5000); // loopback may drop some of a burst; most arrive
    expect(stats.malformed).toBeGreaterThan(1000);
    expect(stats.refused.badName).toBeGreaterThan(100);
    expect(stats.refused.writeRequest).toBeGreaterThan(10);
    expect(stats.refused.clientLimit).toBeGreaterThan(100); // the flooding address hit its limit; the valid clients above were served
    expect(stats.completed).toBeGreaterThanOrEqual(7);
  },
  180_000,
);
