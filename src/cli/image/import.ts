import { invalid } from "../../domain/errors";
import type { CommandModule } from "../context";
import { describe } from "./describe";
import { progressFor } from "./progress";

const imp: CommandModule = (parent, ctx) => {
  parent
    .command("import")
    .alias("pull")
    .description("import an image from a registry, an image archive, or a root filesystem directory, and build it")
    .argument("<source>", "docker://REGISTRY/REPO[:TAG|@sha256:…], docker-archive:FILE, oci-archive:FILE, a tar file, or a directory")
    .argument("<name>", "name for the image")
    .option("-f, --force", "replace an existing image of that name")
    .option("--no-build", "do not build the bootable image after importing")
    .option("--platform <os/arch[/variant]>", "which image of a multi-platform index (default: the head node's)")
    .option("--username <user>", "registry user (env DROVER_REGISTRY_USERNAME)")
    .option("--password <password>", "registry password or token (env DROVER_REGISTRY_PASSWORD)")
    .option("--nohttps", "talk plain HTTP to the registry")
    .action(async (source: string, name: string, opts) => {
      // An archive or a directory would be read on the head node, not where the admin typed its name.
      if (ctx.remote && !source.startsWith("docker://"))
        throw invalid(
          `through --server, image import takes registry references (docker://…) only: ${source} would be read on the head node; copy the archive ` +
            `to the head node and import it there, or push it to a registry`,
        );
      const d = await ctx.services().images.import(source, name, {
        force: opts.force,
        build: opts.build,
        platform: opts.platform,
        username: opts.username ?? ctx.io.env.DROVER_REGISTRY_USERNAME,
        password: opts.password ?? ctx.io.env.DROVER_REGISTRY_PASSWORD,
        nohttps: opts.nohttps,
        progress: progressFor(ctx.io),
      });
      ctx.io.out(`Imported image '${name}' from ${source}\n`);
      describe(ctx.io, d);
    });
};
export default imp;
