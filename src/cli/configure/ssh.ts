import { existsSync, mkdirSync, chmodSync } from "node:fs";
import { dirname } from "node:path";
import { SSH_KEY_TYPES } from "../../config/warewulf-conf";
import { invalid } from "../../domain/errors";
import { findProgram, runProgram } from "../../runtime/head-files";
import type { CliContext, CommandModule } from "../context";
import { type ConfigureOptions, addConfigureOptions, headNodeSettings, rootOf, stepOptions } from "./common";

/**
 * `drover configure ssh` (wwctl ssh generate, wwctl configure ssh): root's key pair on the head node, made with
 * ssh-keygen when root has none of the types the ssh.authorized_keys overlay carries. Node host keys are not
 * made here: drover makes them at overlay build (ssh.host_keys).
 */
export function configureSsh(ctx: CliContext, o: ConfigureOptions): void {
  const root = rootOf(ctx, o);
  if (root.isReal && process.getuid?.() !== 0) throw invalid("drover configure ssh makes root's key (the one the nodes trust): run it as root");
  const types = headNodeSettings(ctx.services()).sshKeyTypes ?? ["ed25519"];
  const have = SSH_KEY_TYPES.find((t) => existsSync(root.path(`/root/.ssh/id_${t}`)) && existsSync(root.path(`/root/.ssh/id_${t}.pub`)));
  const where = "the ssh.authorized_keys runtime overlay gives its .pub to every node (next agent poll, or 'drover overlay build')";
  if (have) {
    ctx.io.out(`${root.path(`/root/.ssh/id_${have}`)}: no change (root has a key pair; ${where})\n`);
    return;
  }
  const type = types[0]!;
  const key = root.path(`/root/.ssh/id_${type}`);
  if (existsSync(key) || existsSync(`${key}.pub`))
    throw invalid(`${key} or ${key}.pub exists without the other; restore the pair or move it away, then run again`);
  const argv = ["ssh-keygen", "-q", "-t", type, "-N", "", "-C", "root@drover", "-f", key];
  if (o.dryRun) {
    ctx.io.out(`--- /dev/null\n+++ ${key}.pub\n@@ -0,0 +1 @@\n+${type} (a new key: ${argv.join(" ").replace(" -N  ", " -N '' ")})\n`);
    ctx.io.out(`${key}: would be created with ssh-keygen; ${where}; dry run: nothing written\n`);
    return;
  }
  const keygen = findProgram("ssh-keygen", ctx.io.env);
  if (!keygen) throw invalid("ssh-keygen is not installed: install openssh-clients (or openssh-client), then run again");
  mkdirSync(dirname(key), { recursive: true, mode: 0o700 });
  chmodSync(dirname(key), 0o700);
  const r = runProgram([keygen, ...argv.slice(1)]);
  if (!r.ok) throw invalid(`ssh-keygen failed: ${r.output || "no output"}`);
  ctx.io.out(`${key}: created (${type}, no passphrase); ${where}\n`);
}

const ssh: CommandModule = (parent, ctx) => {
  addConfigureOptions(
    parent.command("ssh").description("make root's SSH key pair on this head node when it has none (wwctl ssh generate); the nodes get its public key"),
  )
    .addHelpText(
      "after",
      `
Makes /root/.ssh/id_ed25519 (or the first of warewulf.conf's 'ssh: key types', once imported with 'drover
settings import') with ssh-keygen, only when root has no id_ed25519, id_ecdsa or id_rsa pair. Nodes get the
public key through the ssh.authorized_keys runtime overlay; their host keys are made at overlay build.
Examples:
  drover configure ssh --dry-run
  drover configure ssh && drover overlay build`,
    )
    .action((_o, cmd) => configureSsh(ctx, stepOptions(cmd)));
};
export default ssh;
