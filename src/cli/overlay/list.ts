import type { CommandModule } from "../context";
import { emit, formatOf, table } from "../output";

const list: CommandModule = (parent, ctx) => {
  parent
    .command("list")
    .alias("ls")
    .description("list overlays (built-in and site); -a lists their files, -l with mode and owner")
    .argument("[names...]", "overlays to show (default: all)")
    .option("-a, --all", "list every file of each overlay")
    .option("-l, --long", "with -a: mode, owner and size of each file")
    .option("-j, --json", "JSON output")
    .option("-y, --yaml", "YAML output")
    .action((names: string[], opts) => {
      const o = ctx.services().overlays;
      const all = o.repo.names().filter((x) => names.length === 0 || names.includes(x.name));
      for (const n of names) if (!all.some((x) => x.name === n)) o.tree(n); // throws "does not exist"
      const items = all.map((x) => {
        const t = o.tree(x.name);
        const users = o.usersOf(x.name);
        return {
          name: x.name,
          origin: x.origin,
          shadowsBuiltin: x.shadows,
          files: t.entries.filter((e) => e.type !== "dir").length,
          usedBy: users.length,
          entries: t.entries.map((e) => ({
            path: e.path,
            type: e.type,
            mode: "mode" in e ? e.mode.toString(8).padStart(4, "0") : "0777",
            uid: e.uid,
            gid: e.gid,
            size: e.type === "file" ? e.data.length : undefined,
            template: e.path.endsWith(".eta"),
          })),
        };
      });
      const format = formatOf(opts);
      if (format !== "table") return emit(ctx.io, format, opts.all ? items : items.map(({ entries, ...rest }) => rest));
      if (opts.all) {
        const rows = items.flatMap((i) =>
          i.entries.map((e) =>
            opts.long
              ? [
                  i.name,
                  e.type === "dir" ? "d" : e.type === "symlink" ? "l" : "-",
                  e.mode,
                  `${e.uid}:${e.gid}`,
                  e.size === undefined ? "" : String(e.size),
                  `/${e.path}`,
                ]
              : [i.name, `/${e.path}`],
          ),
        );
        return ctx.io.out(table(opts.long ? ["OVERLAY", "T", "MODE", "OWNER", "SIZE", "PATH"] : ["OVERLAY", "PATH"], rows));
      }
      ctx.io.out(
        table(
          ["OVERLAY", "ORIGIN", "FILES", "USED BY"],
          items.map((i) => [i.name, i.shadowsBuiltin ? "site (shadows built-in)" : i.origin, String(i.files), String(i.usedBy)]),
        ),
      );
    });
};
export default list;
