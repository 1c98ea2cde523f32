import type { CommandModule } from "../context";
import { accountArgument } from "./passwd";

/** `drover user unlock [NAME] [--all]`: lifts the login limit of an account after wrong passwords. */
const unlock: CommandModule = (parent, ctx) => {
  parent
    .command("unlock")
    .description("lift the login limit of a web/API account after too many wrong passwords (on the head node)")
    .addArgument(accountArgument())
    .option("--all", "every account")
    .option("--list", "only show which accounts are limited")
    .addHelpText(
      "after",
      `
After 3 wrong passwords an account must wait 1 s, 2 s, 4 s … (at most 5 min) between attempts, however many
clients try. When someone keeps an account waiting, run this on the head node (or set a new password with
'drover user passwd', which also unlocks it). The running server sees the change at the next attempt.
Examples:
  drover user unlock                 unlock admin
  drover user unlock --list          which accounts are waiting, and until when
  drover user unlock --all`,
    )
    .action((name: string, opts: { all?: boolean; list?: boolean }) => {
      const auth = ctx.services().auth;
      if (opts.list) {
        const rows = auth.lockouts();
        if (rows.length === 0) ctx.io.out("no account has wrong passwords counted\n");
        for (const r of rows)
          ctx.io.out(`${r.user}: ${r.count} wrong password(s)${r.until > Date.now() ? `, waiting until ${new Date(r.until).toISOString()}` : ""}\n`);
        return;
      }
      const done = auth.unlock(name, !!opts.all);
      ctx.io.out(done.length ? `unlocked ${done.join(", ")}\n` : `${opts.all ? "no account" : name} had no wrong passwords counted\n`);
    });
};

export default unlock;
