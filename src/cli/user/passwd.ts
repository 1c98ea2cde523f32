import { Argument } from "commander";
import { invalid } from "../../domain/errors";
import { generatePassword } from "../../services/auth";
import type { CommandModule } from "../context";

/** The account a `user` command acts on: admin unless named. */
export const accountArgument = () => new Argument("[name]", "the account").default("admin");

/** `drover user passwd [NAME]`: sets (or creates) an account's password for the web page and the API. */
const passwd: CommandModule = (parent, ctx) => {
  parent
    .command("passwd")
    .description("set the password of a web/API account (creates the account if needed); ends its sessions")
    .addArgument(accountArgument())
    .option("--random", "generate a random password and print it")
    .option("--password-stdin", "read the password from the first line of standard input")
    .option("--role <role>", "admin (everything) or viewer (read only); a new account is an admin unless given")
    .addHelpText(
      "after",
      `
The password comes from --random, --password-stdin, the DROVER_PASSWORD environment variable, or a prompt.
Examples:
  drover user passwd                         prompt for admin's new password
  drover user passwd --random                print a new random password for admin
  echo "$PW" | drover user passwd ops --password-stdin
  drover user passwd ops --random --role viewer   a read-only account`,
    )
    .action(async (name: string, opts: { random?: boolean; passwordStdin?: boolean; role?: string }) => {
      let password: string | undefined;
      if (opts.random) password = generatePassword();
      else if (opts.passwordStdin) password = (await Bun.stdin.text()).split("\n")[0];
      else if (ctx.io.env.DROVER_PASSWORD) password = ctx.io.env.DROVER_PASSWORD;
      else if (ctx.io.isTTY && ctx.io.prompt) password = await ctx.io.prompt(`new password for ${name}: `);
      if (!password) throw invalid("no password given; use --random, --password-stdin, DROVER_PASSWORD, or run it in a terminal");
      await ctx.services().auth.setPassword(name, password, opts.role as "admin" | "viewer" | undefined);
      ctx.io.out(opts.random ? `password of ${name}: ${password}\n` : `password of ${name} set\n`);
    });
};

export default passwd;
