import type { Context, Hono } from "hono";
import { z } from "zod";
import { invalid } from "../../domain/errors";
import { AuthError } from "../../services/auth";
import type { ApiEnv } from "./context";

/**
 * One table of API routes: each entry registers its hono handler and describes itself for the OpenAPI
 * document, so the document cannot drift from the routes. Bodies and queries are validated with zod; a
 * failure is an `invalid` DroverError naming the field ("body.names: …"), which the one onError turns into 400.
 */
export type Method = "get" | "post" | "put" | "patch" | "delete";

export interface RouteSpec<B extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined> {
  method: Method;
  /** hono path relative to /api/v1, e.g. /nodes/:name */
  path: string;
  summary: string;
  tag: string;
  body?: B;
  query?: Q;
  /** Reachable without a session or token (login only). */
  public?: boolean;
  /**
   * A read that only an admin may make, though it changes nothing: it shows what nodes are given, which holds
   * secrets (private SSH host keys, munge keys, BMC passwords a template prints). A viewer gets 403.
   */
  adminOnly?: boolean;
  /** Response description for the document. */
  returns?: string;
  /** Success status (default 200). */
  status?: number;
  /** Largest request body read, in bytes (default `MAX_JSON_BODY`); a larger one is refused with 413 unread. */
  maxBody?: number;
}

/** The default bound on an API request body: 1 MiB of JSON is thousands of nodes' worth of changes. */
export const MAX_JSON_BODY = 1024 * 1024;

/**
 * Reads a request body of at most `limit` bytes, or returns undefined as soon as it is known to be larger:
 * from Content-Length before a byte is read, or while reading a chunked body (the rest is never buffered).
 */
export async function readBounded(req: Request, limit: number): Promise<Uint8Array | undefined> {
  const declared = req.headers.get("content-length");
  if (declared !== null && !(Number(declared) <= limit)) return undefined;
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** The 403 for a viewer (read-only account) on anything that needs an admin, saying how to become one. */
export const viewerRefused = (user: string) =>
  new AuthError("forbidden", `the account '${user}' is a viewer (read only); this needs an admin: drover user role ${user} admin (on the head node)`);

const sizeText = (n: number) => (n >= 1024 * 1024 ? `${n / (1024 * 1024)} MiB` : `${n / 1024} KiB`);

type Input<B, Q> = { body: B extends z.ZodType ? z.infer<B> : undefined; query: Q extends z.ZodType ? z.infer<Q> : undefined };

export class ApiRouter {
  readonly routes: RouteSpec<z.ZodType | undefined, z.ZodType | undefined>[] = [];
  constructor(readonly app: Hono<ApiEnv>) {}

  add<B extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined>(
    spec: RouteSpec<B, Q>,
    handler: (c: Context<ApiEnv>, input: Input<B, Q>) => Response | Promise<Response>,
  ): void {
    this.routes.push(spec as RouteSpec<z.ZodType | undefined, z.ZodType | undefined>);
    this.app.on(spec.method.toUpperCase(), spec.path, async (c) => {
      // The session or token was checked before routing and set the role (every adminOnly route needs one).
      if (spec.adminOnly && c.get("role") !== "admin") throw viewerRefused(c.get("user") ?? "");
      let body: unknown;
      if (spec.body) {
        const limit = spec.maxBody ?? MAX_JSON_BODY;
        const bytes = await readBounded(c.req.raw, limit);
        if (!bytes)
          return c.json({ error: `the request body is larger than ${sizeText(limit)}, the limit for ${spec.method.toUpperCase()} /api/v1${spec.path}` }, 413);
        let raw: unknown;
        try {
          raw = JSON.parse(new TextDecoder().decode(bytes));
        } catch {
          throw invalid("the request body is not JSON; send Content-Type: application/json with a JSON object");
        }
        body = parse(spec.body, raw, "body");
      }
      const query = spec.query ? parse(spec.query, c.req.query(), "query") : undefined;
      return handler(c, { body, query } as Input<B, Q>);
    });
  }

  /** The OpenAPI 3.1 document of every route. */
  openapi(info: { version: string }): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const r of this.routes) {
      const path = `/api/v1${r.path.replace(/:(\w+)/g, "{$1}")}`;
      const params = [...r.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
      if (r.query) {
        const js = z.toJSONSchema(r.query, { io: "input", unrepresentable: "any" }) as { properties?: Record<string, unknown>; required?: string[] };
        for (const [name, schema] of Object.entries(js.properties ?? {}))
          params.push({ name, in: "query", required: !!js.required?.includes(name), schema: schema as never });
      }
      paths[path] ??= {};
      paths[path]![r.method] = {
        summary: r.summary,
        tags: [r.tag],
        ...(params.length ? { parameters: params } : {}),
        ...(r.body
          ? { requestBody: { required: true, content: { "application/json": { schema: z.toJSONSchema(r.body, { io: "input", unrepresentable: "any" }) } } } }
          : {}),
        ...(r.public ? { security: [] } : {}),
        responses: {
          [String(r.status ?? 200)]: { description: r.returns ?? "success" },
          ...(r.body || r.query ? { "400": { description: "validation error; `error` names the field" } } : {}),
          ...(r.body ? { "413": { description: `request body over ${sizeText(r.maxBody ?? MAX_JSON_BODY)}` } } : {}),
          ...(r.public
            ? {}
            : {
                "401": { description: "no valid session or token" },
                "403": {
                  description:
                    `CSRF token missing or wrong, or client outside the allowed ` +
                    `subnets${r.adminOnly ? ", or a viewer's account: this read is for admins only (it shows secrets nodes are given)" : ""}`,
                },
              }),
        },
      };
    }
    return {
      openapi: "3.1.0",
      info: {
        title: "drover API",
        version: info.version,
        description:
          "The JSON API behind drover's web page. Authenticate with a session cookie (plus X-CSRF-Token on changes) or Authorization: Bearer <token>.",
      },
      servers: [{ url: "/" }],
      components: {
        securitySchemes: {
          token: { type: "http", scheme: "bearer", description: "an API token from 'drover user token create NAME'" },
          session: { type: "apiKey", in: "cookie", name: "drover_session" },
        },
      },
      security: [{ token: [] }, { session: [] }],
      paths,
    };
  }
}

function parse(schema: z.ZodType, value: unknown, where: string): unknown {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `${[where, ...i.path.map(String)].join(".")}: ${i.message}`);
  throw invalid(lines[0]!, lines.slice(1));
}

/** The names of a hostlist or list of names: "n[001-004]" or ["n001", "n002"]. */
export const names = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/** A path parameter of the matched route (always present when the route matched). */
export const param = (c: Context, name: string): string => c.req.param(name) ?? "";
