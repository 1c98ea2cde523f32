import { invalid } from "../../domain/errors";
import { type Bind, parseBind } from "../../image/exec";
import type { CliContext, CommandModule } from "../context";
import { ExitWith } from "../exit";

export const collectBinds = (v: string, prev: Bind[] = []) => {
  try {
    return [...prev, parseBind(v)];
  } catch (e) {
    throw invalid((e as Error).message);
  }
};

/** Shared by exec and shell: runs and reports, then ends with the command's exit code. */
export async function runInImage(ctx: CliContext, name: string, cmd: string[], opts: { bind?: Bind[]; build?: boolean }, interactive: boolean) {
  const io = ctx.io;
  const r = await ctx.services().images.exec(name, cmd, {
    binds: opts.bind,
    build: opts.build,
    interactive,
    onOut: (s) => io.out(s),
    onErr: (s) => io.err(s),
    env: interactive ? { PS1: `[drover image ${name}] exit 0 keeps changes, exit 1 discards them \\w# ` } : undefined,
  });
  if (r.code !== 0) io.err(`Command exited ${r.code}: changes to image '${name}' discarded.\n`);
  else if (!r.changed) io.err(`No changes to image '${name}'.\n`);
  else io.err(`Changes kept in image '${name}'${r.rebuilt ? "; rebuilt" : "; not rebuilt (--no-build)"}.\n`);
  if (r.code !== 0) throw new ExitWith(r.code);
}

const exec: CommandModule = (parent, ctx) => {
  parent
    .command("exec")
    .description("run a command inside an image; exit 0 keeps its changes (and rebuilds), anything else discards them")
    .argument("<name>", "image")
    .argument("<command...>", "command and arguments (put them after --)")
    .option("-b, --bind <src[:dst[:ro]]>", "bind a head-node path into the image (repeatable)", collectBinds)
    .option("--no-build", "do not rebuild after changes")
    .action(async (name: string, cmd: string[], opts) => runInImage(ctx, name, cmd[0] === "--" ? cmd.slice(1) : cmd, opts, !!ctx.io.isTTY));
};
export default exec;
