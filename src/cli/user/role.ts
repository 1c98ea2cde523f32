import { ROLES } from "../../services/auth";
import type { CommandModule } from "../context";

/** `drover user role NAME ROLE`: what an account may do on the web page and through the API (docs/web.md). */
const role: CommandModule = (parent, ctx) => {
  parent
    .command("role")
    .description(`set an account's role: ${ROLES.join(" (everything) or ")} (read only); ends its sessions`)
    .argument("<name>", "the account")
    .argument("<role>", ROLES.join(" | "))
    .addHelpText(
      "after",
      `\nExamples:\n  drover user passwd ops --random --role viewer   a new read-only account\n  drover user role ops admin                        make it an admin`,
    )
    .action((name: string, r: string) => {
      ctx.services().auth.setRole(name, r);
      ctx.io.out(`${name} is now ${r === "admin" ? "an admin" : "a viewer (read only)"}\n`);
    });
};

export default role;
