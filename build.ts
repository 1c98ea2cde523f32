// Builds dist/drover: one self-contained executable (Bun runtime included) that embeds everything drover
// needs at run time: migrations, templates, UI assets and the iPXE binaries in assets/ipxe/.
// Usage: bun build.ts [--outfile PATH]
import { $ } from "bun";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { ensureIpxeAssets } from "./assets/ipxe/update";

const outIdx = process.argv.indexOf("--outfile");
const outfile = outIdx > 0 ? process.argv[outIdx + 1]! : "dist/drover";
mkdirSync(dirname(outfile), { recursive: true });

// iPXE binaries: committed in assets/ipxe (so an air-gapped build needs nothing; SOURCES.md says where they
// came from). The imports in assets/ipxe/embedded.ts embed them in the executable.
try {
  ensureIpxeAssets();
} catch (e) {
  console.error(`build: ${(e as Error).message}`);
  process.exit(1);
}

// The web page (ui/, Preact + htm) bundled now and carried in the executable as a string (src/http/ui.ts).
const { bundleUi } = await import("./src/http/ui");
const uiBundle = await bundleUi(import.meta.dir);

const commit = (await $`git rev-parse --short HEAD`.nothrow().quiet().text()).trim() || "unknown";
const t0 = performance.now();
const result = await Bun.build({
  // Worker entrypoints ride along as extra entrypoints: the TFTP data plane thread, the overlay build threads.
  entrypoints: ["src/main.ts", "src/protocols/tftp/dataplane.ts", "src/overlay/build-worker.ts"],
  compile: { outfile },
  minify: true,
  sourcemap: "linked",
  define: { DROVER_COMMIT: JSON.stringify(commit), DROVER_UI_BUNDLE: JSON.stringify(uiBundle) },
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(`built ${outfile} (${commit}) in ${Math.round(performance.now() - t0)} ms`);
