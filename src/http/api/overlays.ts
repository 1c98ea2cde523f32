import { z } from "zod";
import type { ApiDeps } from "./context";
import { type ApiRouter, param } from "./router";
import { problemText } from "../../services/overlays";

const filePath = z.object({ path: z.string().min(1).max(4096) });

export function overlayRoutes(r: ApiRouter, deps: ApiDeps) {
  const o = deps.overlays;
  r.add({ method: "get", path: "/overlays", tag: "overlays", summary: "every overlay: built-in or site, and whether a site copy shadows a built-in" }, (c) =>
    c.json(o.repo.names().map((n) => ({ ...n, users: o.usersOf(n.name).length }))),
  );
  r.add(
    { method: "post", path: "/overlays", tag: "overlays", status: 201, summary: "create an empty site overlay", body: z.object({ name: z.string().min(1) }) },
    (c, { body }) => {
      o.create(body.name);
      return c.json({ created: body.name }, 201);
    },
  );
  r.add(
    {
      method: "get",
      path: "/overlays/:name",
      tag: "overlays",
      summary:
        "an overlay's file tree (paths, types, modes, owners, sizes), whether a site copy shadows a built-in, and the nodes and profiles that list it (first 50)",
    },
    (c) => {
      const t = o.tree(param(c, "name"));
      const users = o.usersOf(t.name);
      return c.json({
        name: t.name,
        origin: t.origin,
        shadows: o.repo.names().find((n) => n.name === t.name)?.shadows ?? false,
        users: users.slice(0, 50),
        userCount: users.length,
        entries: t.entries.map((e) => ({
          path: e.path,
          type: e.type,
          uid: e.uid,
          gid: e.gid,
          ...("mode" in e ? { mode: e.mode } : {}),
          ...(e.type === "file" ? { size: e.data.length } : {}),
          ...(e.type === "symlink" ? { target: e.target } : {}),
        })),
      });
    },
  );
  r.add(
    {
      method: "delete",
      path: "/overlays/:name",
      tag: "overlays",
      summary: "delete a site overlay (or one file of it with ?path=)",
      query: z.object({ path: z.string().optional(), force: z.stringbool().optional() }),
    },
    (c, { query }) => {
      o.delete(param(c, "name"), query.path, { force: !!query.force });
      return c.json({ ok: true });
    },
  );
  // Contents and renders are for admins: sites keep secrets in overlays (munge.key …), and a render shows what a
  // node is given (private host keys, BMC passwords). A viewer still sees the tree above: paths, modes, sizes.
  r.add(
    {
      method: "get",
      path: "/overlays/:name/file",
      tag: "overlays",
      adminOnly: true,
      summary: "read one file of an overlay (text); admins only",
      query: filePath,
    },
    (c, { query }) => {
      const f = o.readFile(param(c, "name"), query.path);
      return c.json({ path: query.path, mode: f.mode, uid: f.uid, gid: f.gid, size: f.data.length, text: new TextDecoder().decode(f.data) });
    },
  );
  r.add(
    {
      method: "put",
      path: "/overlays/:name/file",
      tag: "overlays",
      summary:
        "write one file of an overlay (a built-in is copied to the site first); atomic; text up to 4 Mi characters, body up to 16 MiB. A template " +
        "(.eta, .ww) is checked first as 'drover overlay edit' checks it: its syntax, then a render for `node` (default: the first node using the " +
        "overlay); a problem is 422 with `problem` {kind, template, line, column, node, message} and nothing is written, unless `force` is true",
      maxBody: 16 * 1024 * 1024,
      returns: "{written, checked: none|syntax|render, node?, problem? (when forced)}",
      body: z.object({
        path: z.string().min(1).max(4096),
        text: z.string().max(4 * 1024 * 1024),
        mode: z.number().int().min(0).max(0o7777).optional(),
        node: z.string().min(1).optional(),
        force: z.boolean().optional(),
      }),
    },
    async (c, { body }) => {
      const name = param(c, "name");
      const check = await o.checkFile(name, body.path, body.text, body.node ? { node: body.node } : {});
      if (check.problem && !body.force)
        return c.json(
          {
            error: problemText(check.problem),
            details: ['nothing was saved: fix the template, or send "force": true to save it anyway'],
            problem: check.problem,
            checked: check.checked,
          },
          422,
        );
      const written = o.writeFile(name, body.path, body.text, body.mode === undefined ? {} : { mode: body.mode });
      return c.json({ written, checked: check.checked, ...(check.node ? { node: check.node } : {}), ...(check.problem ? { problem: check.problem } : {}) });
    },
  );
  r.add(
    {
      method: "get",
      path: "/overlays/:name/render",
      tag: "overlays",
      adminOnly: true,
      summary: "render one template of an overlay for a node (template errors are 400 with the line); admins only",
      query: filePath.extend({ node: z.string().min(1) }),
    },
    async (c, { query }) => c.json(await o.renderFile(param(c, "name"), query.path, query.node)),
  );
  r.add(
    {
      method: "get",
      path: "/lint/overlays",
      tag: "overlays",
      summary: "overlay lint: configurations that build but boot wrong, archives that would not build, overlays left out",
      query: z.object({ nodes: z.string().optional() }),
    },
    async (c, { query }) => c.json(await o.lint(query.nodes ? query.nodes.split(/\s+/).filter(Boolean) : [])),
  );
}
