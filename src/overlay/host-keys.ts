import { existsSync, mkdirSync, renameSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { tmpName } from "./atomic";
import type { NodeInput } from "./build";
import type { OverlayTree } from "./repo";
import { MissingValue } from "./template";

/**
 * Nodes' SSH host keys (`it.hostKey()`): made once per node with ssh-keygen, 0600, under the node's secrets
 * directory (`<dataDir>/nodes/NAME/ssh_host_TYPE_key`), and kept forever. Made here, on the calling thread,
 * before templates need them: a render thread only reads them (overlay/build-worker.ts hands a missing one
 * back).
 */

/** The private key's path of a node's host key of `type`; the public one is `PATH.pub`. */
export const hostKeyPath = (secretsRoot: string, node: string, type: string) => join(secretsRoot, node, `ssh_host_${type}_key`);

/** Creates a node's host key pair when it is missing: written beside its place and renamed into it. */
export async function generateHostKey(path: string, type: string, node: string): Promise<void> {
  if (existsSync(path) && existsSync(`${path}.pub`)) return;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = tmpName(path);
  let code: number;
  let stderr: string;
  try {
    const p = Bun.spawn(["ssh-keygen", "-q", "-t", type, "-N", "", "-C", `root@${node}`, "-f", tmp], { stdout: "ignore", stderr: "pipe" });
    code = await p.exited;
    stderr = code === 0 ? "" : (await new Response(p.stderr).text()).trim();
  } catch (e) {
    code = -1;
    stderr = (e as Error).message;
  }
  if (code !== 0)
    throw new MissingValue(`could not create the ${type} host key of node ${node} with ssh-keygen (${stderr}); install openssh-client on the head node`);
  renameSync(`${tmp}.pub`, `${path}.pub`);
  renameSync(tmp, path);
}

/**
 * Generates the missing host keys (ed25519, ecdsa) of the nodes whose overlays call it.hostKey(), several
 * ssh-keygen at a time. Returns how many were made.
 */
export async function prepareHostKeys(nodes: readonly NodeInput[], trees: (name: string) => OverlayTree | undefined, secretsRoot: string): Promise<number> {
  const byOverlay = new Map<string, boolean>();
  const keyed = (o: string) => {
    let k = byOverlay.get(o);
    if (k === undefined) byOverlay.set(o, (k = !!trees(o)?.entries.some((e) => e.type === "file" && new TextDecoder().decode(e.data).includes("it.hostKey("))));
    return k;
  };
  const uses = (n: NodeInput) => [...(n.conf.systemOverlay ?? []), ...(n.conf.runtimeOverlay ?? [])].some(keyed);
  const jobs: { path: string; type: string; node: string }[] = [];
  for (const n of nodes) {
    if (!uses(n)) continue;
    for (const type of ["ed25519", "ecdsa"]) {
      const path = hostKeyPath(secretsRoot, n.name, type);
      if (!existsSync(path) || !existsSync(`${path}.pub`)) jobs.push({ path, type, node: n.name });
    }
  }
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const j = jobs[next++]!;
      await generateHostKey(j.path, j.type, j.node);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs.length, availableParallelism() * 2) }, worker));
  return jobs.length;
}
