import type { CommandModule } from "../context";
import { emit, table } from "../output";

const when = (ms?: number) => (ms ? new Date(ms).toISOString().replace(/\.\d+Z$/, "Z") : "");

/** `drover user token create|list|revoke`: API tokens for scripts (Authorization: Bearer drv_…). */
const token: CommandModule = (parent, ctx) => {
  const cmd = parent.command("token").description("create, list and revoke API tokens for scripts and remote use");
  cmd
    .command("create")
    .description("create an API token; it is printed once and stored only as a hash")
    .argument("<name>", "what the token is for, e.g. ci or inventory-sync")
    .option("-u, --user <name>", "the account the token acts as", "admin")
    .option("-j, --json", "JSON output")
    .addHelpText("after", `\nExample:\n  drover user token create ci\n  curl -H "Authorization: Bearer drv_…" http://head:9873/api/v1/nodes`)
    .action((name: string, opts: { user: string; json?: boolean }) => {
      const t = ctx.services().auth.createToken(name, opts.user);
      if (opts.json) return emit(ctx.io, "json", t);
      ctx.io.out(`${t.token}\n`);
      ctx.io.err(`drover: token ${t.id} '${t.name}' created; it is not shown again\n`);
    });
  cmd
    .command("list")
    .description("list API tokens (their secrets are never shown again)")
    .option("-j, --json", "JSON output")
    .action((opts: { json?: boolean }) => {
      const all = ctx.services().auth.tokens();
      if (opts.json) return emit(ctx.io, "json", all);
      ctx.io.out(
        table(
          ["ID", "NAME", "USER", "PREFIX", "CREATED", "LAST USED", "REVOKED"],
          all.map((t) => [String(t.id), t.name, t.user, `${t.prefix}…`, when(t.createdAt), when(t.lastUsedAt), when(t.revokedAt)]),
        ),
      );
    });
  cmd
    .command("revoke")
    .description("revoke an API token by id or name; requests with it are refused from then on")
    .argument("<token>", "the token's id or name")
    .action((id: string) => {
      const t = ctx.services().auth.revokeToken(id);
      ctx.io.out(`revoked token ${t.id} '${t.name}'\n`);
    });
};

export default token;
