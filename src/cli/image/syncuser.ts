import type { CommandModule } from "../context";

const syncuser: CommandModule = (parent, ctx) => {
  parent
    .command("syncuser")
    .description("give the image's users and groups the head node's UIDs/GIDs and re-own their files")
    .argument("<name>", "image")
    .option("--no-build", "do not rebuild after changes")
    .action(async (name: string, opts) => {
      const r = await ctx.services().images.syncuser(name, { build: opts.build });
      // Accounts that could not be aligned are left as they are (the rest is done), each with its fix.
      for (const c of r.conflicts) ctx.io.err(`warning: ${c}\n`);
      if (!r.changedUsers.length && !r.changedGroups.length)
        return void ctx.io.out(`Image '${name}' already matches the head node's ids${r.conflicts.length ? ", except the accounts above" : ""}.\n`);
      ctx.io.out(
        `Image '${name}': users ${r.changedUsers.join(", ") || "none"}, groups ${r.changedGroups.join(", ") || "none"} now use the head node's ids; ` +
          `${r.files} files re-owned${r.rebuilt ? "; rebuilt" : ""}.\n`,
      );
    });
};
export default syncuser;
