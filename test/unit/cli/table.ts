import { afterEach, beforeEach, expect, test } from "bun:test";
import { parse } from "yaml";
import { type CliResult, drover, tempDir } from "../../helpers/cli";

/**
 * State in → command → state out. Each case runs `given` commands (each must succeed), then `run`, checks
 * the exit code and output, and then compares the state as `node export --show-secrets` sees it.
 */
export interface Case {
  name: string;
  given?: string[][];
  run: string[];
  code?: number;
  out?: RegExp | string;
  err?: RegExp;
  /** Checks on the nodes.conf document after the command. */
  state?: (doc: { nodeprofiles: Record<string, any>; nodes: Record<string, any> }) => void;
  /** When the command fails, the state must equal the state before it (nothing half-written). */
  unchangedOnFailure?: boolean;
}

export function runTable(cases: Case[]) {
  let dir = "";
  let cleanup = () => {};
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());
  for (const c of cases) {
    test(c.name, async () => {
      for (const g of c.given ?? []) {
        const r = await drover(dir, ...g);
        if (r.code !== 0) throw new Error(`setup '${g.join(" ")}' failed: ${r.err}`);
      }
      const before = await exportDoc(dir);
      const r: CliResult = await drover(dir, ...c.run);
      const want = c.code ?? 0;
      if (r.code !== want) throw new Error(`exit ${r.code}, wanted ${want}\nstdout: ${r.out}\nstderr: ${r.err}`);
      if (c.out !== undefined) {
        if (typeof c.out === "string") expect(r.out).toBe(c.out);
        else expect(r.out).toMatch(c.out);
      }
      if (c.err) expect(r.err).toMatch(c.err);
      const after = await exportDoc(dir);
      if (want !== 0 && c.unchangedOnFailure !== false) expect(after).toEqual(before);
      c.state?.(after);
    });
  }
}

export async function exportDoc(dir: string) {
  const r = await drover(dir, "node", "export", "--show-secrets");
  if (r.code !== 0) throw new Error(`export failed: ${r.err}`);
  const doc = parse(r.out) ?? {};
  return { nodeprofiles: doc.nodeprofiles ?? {}, nodes: doc.nodes ?? {} };
}
