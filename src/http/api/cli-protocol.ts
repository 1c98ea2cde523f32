import { z } from "zod";

/**
 * The wire protocol of remote commands (`drover --server URL --token … COMMAND`): one WebSocket per command
 * at /api/v1/cli, JSON text messages. The head node runs the command's own code; the client is a terminal:
 *
 *   client → server  {t:"run", argv, isTTY, env}        first and only once
 *   server → client  {t:"out", s} {t:"err", s}           what the command prints
 *                    {t:"prompt", id, q}                  a confirmation        → {t:"answer", id, value}
 *                    {t:"read", id, path}                 a file named on the command line, read on the
 *                                                         client ("-" is its stdin) → {t:"file", id, data|error}
 *                    {t:"edit", id, text}                 text for the client's $EDITOR → {t:"edited", id, text|error}
 *                    {t:"exit", code}                     last; the server then closes the socket
 *
 * Both sides validate what they receive; a malformed message ends the connection with close code 1008 and a
 * reason saying what was wrong.
 */
export const CLI_PATH = "/api/v1/cli";

/** The client's environment variables a command may see on the server; nothing else is sent. */
export const REMOTE_ENV = ["DROVER_REGISTRY_USERNAME", "DROVER_REGISTRY_PASSWORD", "DROVER_DEBUG", "NO_COLOR"] as const;

/** The largest file a client sends (decoded), and so the largest message the server accepts (base64 + JSON). */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;
export const MAX_MESSAGE_BYTES = Math.ceil(MAX_FILE_BYTES / 3) * 4 + 64 * 1024;

/** Close code for a protocol violation (RFC 6455 "policy violation"); the reason says which. */
export const CLOSE_PROTOCOL = 1008;

const id = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const text = z.string().max(16 * 1024 * 1024);

export const clientMessage = z.discriminatedUnion("t", [
  z
    .object({
      t: z.literal("run"),
      argv: z.array(z.string().max(64 * 1024)).max(4096),
      isTTY: z.boolean(),
      // Unknown variables are dropped, not refused: a newer client may send more than this server reads.
      env: z.object(Object.fromEntries(REMOTE_ENV.map((k) => [k, z.string().max(4096).optional()]))).default({}),
    })
    .strict(),
  z
    .object({
      t: z.literal("answer"),
      id,
      value: z
        .string()
        .max(64 * 1024)
        .nullable(),
    })
    .strict(),
  z
    .object({
      t: z.literal("file"),
      id,
      /** The file's bytes, base64. */
      data: z.string().max(MAX_MESSAGE_BYTES).optional(),
      /** Its permission bits (overlay import keeps them). */
      mode: z.number().int().min(0).max(0o7777).optional(),
      /** Why it could not be read, and the errno-like code (ENOENT, EISDIR, ETOOBIG …). */
      error: z.string().max(4096).optional(),
      code: z.string().max(64).optional(),
    })
    .strict()
    .refine((m) => (m.data === undefined) !== (m.error === undefined), { message: "exactly one of data and error" }),
  z
    .object({ t: z.literal("edited"), id, text: text.optional(), error: z.string().max(4096).optional() })
    .strict()
    .refine((m) => (m.text === undefined) !== (m.error === undefined), { message: "exactly one of text and error" }),
]);
export type ClientMessage = z.infer<typeof clientMessage>;

export const serverMessage = z.discriminatedUnion("t", [
  z.object({ t: z.literal("out"), s: z.string() }),
  z.object({ t: z.literal("err"), s: z.string() }),
  z.object({ t: z.literal("prompt"), id, q: z.string() }),
  z.object({ t: z.literal("read"), id, path: z.string() }),
  z.object({ t: z.literal("edit"), id, text: z.string() }),
  z.object({ t: z.literal("exit"), code: z.number().int().min(0).max(255) }),
]);
export type ServerMessage = z.infer<typeof serverMessage>;

/** Parses one text frame; the error is short enough for a WebSocket close reason (≤ 123 bytes). */
export function parseMessage<T>(schema: z.ZodType<T>, raw: unknown): { ok: true; msg: T } | { ok: false; why: string } {
  if (typeof raw !== "string") return { ok: false, why: "binary frames are not part of the protocol" };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, why: "a message is not JSON" };
  }
  const r = schema.safeParse(json);
  if (r.success) return { ok: true, msg: r.data };
  const i = r.error.issues[0]!;
  const t = (json as { t?: unknown })?.t;
  return {
    ok: false,
    why: shortReason(`bad ${typeof t === "string" ? `'${t.slice(0, 16)}' ` : ""}message: ${i.path.length ? `${i.path.join(".")}: ` : ""}${i.message}`),
  };
}

/** A WebSocket close reason is at most 123 bytes of UTF-8. */
export function shortReason(s: string): string {
  const enc = new TextEncoder();
  if (enc.encode(s).length <= 123) return s;
  let out = s.slice(0, 120);
  while (enc.encode(`${out}…`).length > 123) out = out.slice(0, -1);
  return `${out}…`;
}
