import type { Progress } from "../../image/importer";
import { human } from "../../domain/size";
import type { Io } from "../output";

/**
 * Import progress: on a terminal one redrawn line per download (bytes, rate, which layer); when piped,
 * plain lines a log can keep (start and end of each download, each step).
 */
export function progressFor(io: Io): Progress {
  let label = "";
  let total = 0;
  let done = 0;
  let t0 = 0;
  let last = 0;
  const rate = () => done / Math.max((performance.now() - t0) / 1000, 0.001);
  const draw = () => {
    const pct = total ? Math.min(1, done / total) : 0;
    const width = 24;
    const bar = "#".repeat(Math.round(pct * width)).padEnd(width, ".");
    io.err(`\r\x1b[2K${label} [${bar}] ${human(done)}/${human(total)} ${human(rate())}/s`);
  };
  return {
    start(l, t) {
      label = l;
      total = t;
      done = 0;
      t0 = last = performance.now();
      if (io.isTTY) draw();
      else io.err(`${l}: fetching ${human(t)}\n`);
    },
    advance(n) {
      done += n;
      if (!io.isTTY) return;
      const now = performance.now();
      if (now - last > 100) {
        last = now;
        draw();
      }
    },
    done() {
      if (io.isTTY) {
        draw();
        io.err("\n");
      } else io.err(`${label}: ${human(done)} in ${((performance.now() - t0) / 1000).toFixed(1)} s (${human(rate())}/s)\n`);
    },
    note(line) {
      io.err(`${io.isTTY ? "\r\x1b[2K" : ""}${line}\n`);
    },
  };
}
