import { invalid } from "../../domain/errors";
import type { CommandModule } from "../context";

const chown: CommandModule = (parent, ctx) => {
  parent
    .command("chown")
    .description("set the owner of a file in an overlay (numeric ids, as on the node)")
    .argument("<name>", "overlay")
    .argument("<file>", "path inside the overlay")
    .argument("<uid>", "numeric user id")
    .argument("[gid]", "numeric group id (default: 0)")
    .action((name: string, file: string, uid: string, gid: string | undefined) => {
      if (!/^\d+$/.test(uid) || (gid !== undefined && !/^\d+$/.test(gid)))
        throw invalid("give numeric ids (the node's /etc/passwd may differ from this host's)");
      ctx.services().overlays.chown(name, file, Number(uid), Number(gid ?? 0));
      ctx.io.out(`owner of ${file} in overlay ${name} is now ${uid}:${gid ?? 0}\n`);
    });
};
export default chown;
