import type { Context } from "hono";
import { upgradeWebSocket, websocket } from "hono/bun";
import type { WSContext } from "hono/ws";
import { invalid } from "../../domain/errors";
import { AuthError } from "../../services/auth";
import {
  CLOSE_PROTOCOL,
  type ClientMessage,
  MAX_FILE_BYTES,
  MAX_MESSAGE_BYTES,
  type ServerMessage,
  clientMessage,
  parseMessage,
  shortReason,
} from "./cli-protocol";
import { type ApiDeps, type ApiEnv, type CommandIo, type RunCommand, socketAddress } from "./context";
import type { ApiRouter } from "./router";

/** Bun.serve's `websocket` option for the server that serves this route: hono's handler, sized for files. */
export const bunWebSocket = { ...websocket, maxPayloadLength: MAX_MESSAGE_BYTES };

/** How long a connection may stay open without sending its command. */
const FIRST_MESSAGE_MS = 30_000;

/**
 * GET /api/v1/cli: `drover --server URL --token … COMMAND` runs COMMAND here, through the very same command
 * code as on the head node's terminal (see cli-protocol.ts for the messages). API tokens only: a browser's
 * session cookie rides along on cross-site WebSocket handshakes, so it must never be able to drive this.
 */
export function cliRoutes(router: ApiRouter, deps: ApiDeps) {
  router.add(
    {
      method: "get",
      path: "/cli",
      tag: "cli",
      summary: "WebSocket (not JSON): run a drover command on this server for 'drover --server URL --token …'; API tokens only",
      status: 101,
      returns: "switching to the WebSocket protocol; JSON text messages described in src/http/api/cli-protocol.ts",
    },
    (c) => {
      if (c.get("via") !== "token")
        throw new AuthError(
          "forbidden",
          "remote commands need an API token (Authorization: Bearer …), not a browser session; create one on the head node with 'drover user token create NAME'",
        );
      if (!deps.runCommand) return c.json({ error: "this server does not run remote commands" }, 501);
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket")
        return c.json({ error: "this is the WebSocket behind 'drover --server URL --token … COMMAND'; connect with Upgrade: websocket" }, 426);
      const session = new RemoteCommand(deps.runCommand, { user: c.get("user"), ...addressOf(c, deps) });
      return upgradeWebSocket(c, {
        onOpen: (_e, ws) => session.open(ws),
        onMessage: (e, ws) => session.message(ws, e.data),
        onClose: () => session.closed(),
      });
    },
  );
}

const addressOf = (c: Context<ApiEnv>, deps: ApiDeps) => {
  const a = (deps.clientAddress ?? socketAddress)(c);
  return a ? { address: a } : {};
};

type Waiting = { kind: "answer" | "file" | "edited"; resolve: (m: ClientMessage) => void; reject: (e: Error) => void };

/**
 * One connection, one command. The command's Io sends what it prints and turns its questions (prompt, file,
 * editor) into requests the client answers by id. A malformed or unexpected message closes the socket with
 * the reason; the client going away fails whatever the command waits for and ends its output.
 */
class RemoteCommand {
  private ws?: WSContext;
  private started = false;
  private done = false;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private timer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly run: RunCommand,
    private readonly who: { user: string; address?: string },
  ) {}

  open(ws: WSContext) {
    this.ws = ws;
    this.timer = setTimeout(() => this.refuse("no command was sent"), FIRST_MESSAGE_MS);
  }

  message(ws: WSContext, raw: unknown) {
    this.ws ??= ws;
    if (this.done) return;
    const p = parseMessage(clientMessage, raw);
    if (!p.ok) return this.refuse(p.why);
    const m = p.msg;
    if (m.t === "run") {
      if (this.started) return this.refuse("one command per connection");
      this.started = true;
      clearTimeout(this.timer);
      return void this.start(m);
    }
    if (!this.started) return this.refuse("the first message must be {t:'run', …}");
    const w = this.waiting.get(m.id);
    if (!w || w.kind !== m.t) return this.refuse(`'${m.t}' for id ${m.id}, which was not asked for`);
    this.waiting.delete(m.id);
    w.resolve(m);
  }

  closed() {
    clearTimeout(this.timer);
    this.done = true;
    for (const w of this.waiting.values()) w.reject(new Error("the client disconnected"));
    this.waiting.clear();
  }

  private async start(m: Extract<ClientMessage, { t: "run" }>) {
    const env: Record<string, string | undefined> = { ...m.env };
    const io: CommandIo = {
      out: (s) => {
        // Ends a command that only prints (node status --watch) once nobody reads it.
        if (this.done) throw new Error("the client disconnected");
        this.send({ t: "out", s });
      },
      err: (s) => this.send({ t: "err", s }),
      isTTY: m.isTTY,
      env,
      remote: true,
      prompt: async (q) => {
        const a = (await this.ask("answer", (id) => ({ t: "prompt", id, q }))) as Extract<ClientMessage, { t: "answer" }>;
        return a.value ?? undefined;
      },
      readFile: async (path) => {
        const f = (await this.ask("file", (id) => ({ t: "read", id, path }))) as Extract<ClientMessage, { t: "file" }>;
        if (f.error !== undefined) throw Object.assign(new Error(f.error), { code: f.code });
        const data = new Uint8Array(Buffer.from(f.data!, "base64"));
        if (data.length > MAX_FILE_BYTES) throw Object.assign(new Error(`${path} is larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB`), { code: "ETOOBIG" });
        return f.mode !== undefined ? { data, mode: f.mode } : { data };
      },
      edit: async (text) => {
        const e = (await this.ask("edited", (id) => ({ t: "edit", id, text }))) as Extract<ClientMessage, { t: "edited" }>;
        if (e.error !== undefined) throw invalid(e.error);
        return e.text!;
      },
    };
    let code = 1;
    try {
      code = await this.run(m.argv, io, this.who);
    } catch (e) {
      this.send({ t: "err", s: `drover: internal error: ${(e as Error).message}\n` });
    }
    this.send({ t: "exit", code: Math.min(Math.max(Math.trunc(code), 0), 255) });
    this.finish(1000, "done");
  }

  private ask(kind: Waiting["kind"], msg: (id: number) => ServerMessage): Promise<ClientMessage> {
    if (this.done) return Promise.reject(new Error("the client disconnected"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { kind, resolve, reject });
      this.send(msg(id));
    });
  }

  private send(m: ServerMessage) {
    if (this.done || !this.ws) return;
    this.ws.send(JSON.stringify(m));
  }

  private refuse(why: string) {
    this.finish(CLOSE_PROTOCOL, why);
  }

  private finish(code: number, reason: string) {
    const ws = this.ws;
    this.closed();
    ws?.close(code, shortReason(reason));
  }
}
