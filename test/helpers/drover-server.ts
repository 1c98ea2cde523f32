import type { Subprocess } from "bun";
import { join } from "node:path";
import { droverBinary } from "./binary";
import type { Lab } from "./netns";

/**
 * Runs the compiled `drover serve` inside a lab's head-node namespace and collects its log.
 *   const s = await startDroverIn(lab, dataDir, ["-i", "br0"]);  … s.log() … await s.stop();
 */
export interface DroverProcess {
  proc: Subprocess;
  log(): string;
  waitForLog(re: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startDroverIn(
  lab: Lab,
  dataDir: string,
  serveArgs: string[],
  readyRe = /drover: (DHCP \(|DHCP is off)/,
  opts: { fromSource?: boolean } = {},
): Promise<DroverProcess> {
  // fromSource: src/main.ts under this Bun, so a test needs no build (and runs the code as it is now).
  const exe = opts.fromSource ? [process.execPath, join(import.meta.dir, "../../src/main.ts")] : [droverBinary()];
  const proc = lab.spawn(lab.hn, [...exe, "-d", dataDir, "serve", ...serveArgs], { stdout: "pipe", stderr: "pipe" });
  let text = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const r = s.getReader();
    for (;;) {
      const { value, done } = await r.read();
      if (done) return;
      text += new TextDecoder().decode(value);
    }
  };
  void pump(proc.stdout as ReadableStream<Uint8Array>);
  void pump(proc.stderr as ReadableStream<Uint8Array>);
  const waitForLog = async (re: RegExp, timeoutMs = 20_000) => {
    const end = Date.now() + timeoutMs;
    while (!re.test(text)) {
      if (proc.exitCode !== null) throw new Error(`drover serve exited (${proc.exitCode}):\n${text}`);
      if (Date.now() > end) throw new Error(`drover serve: no ${re} within ${timeoutMs} ms:\n${text}`);
      await Bun.sleep(50);
    }
  };
  await waitForLog(readyRe);
  return {
    proc,
    log: () => text,
    waitForLog,
    stop: async () => {
      proc.kill("SIGTERM");
      await Promise.race([proc.exited, Bun.sleep(5000)]);
      if (proc.exitCode === null) proc.kill("SIGKILL");
    },
  };
}
