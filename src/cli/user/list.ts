import type { CommandModule } from "../context";
import { emit, table } from "../output";

/** `drover user list`: the web/API accounts and their roles. */
const list: CommandModule = (parent, ctx) => {
  parent
    .command("list")
    .description("list the web/API accounts and their roles")
    .option("-j, --json", "JSON output")
    .action((opts: { json?: boolean }) => {
      const users = ctx.services().auth.users();
      if (opts.json) return emit(ctx.io, "json", users);
      ctx.io.out(
        table(
          ["NAME", "ROLE"],
          users.map((u) => [u.name, u.role]),
        ),
      );
    });
};

export default list;
