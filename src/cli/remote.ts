import { readFileSync } from "node:fs";
import { invalid } from "../domain/errors";
import {
  CLOSE_PROTOCOL,
  CLI_PATH,
  type ClientMessage,
  MAX_FILE_BYTES,
  REMOTE_ENV,
  type ServerMessage,
  parseMessage,
  serverMessage,
} from "../http/api/cli-protocol";
import { runEditor } from "./editor";
import { type Io, type UserFile, fileErrorCode, readLocalFile } from "./output";

/**
 * The client side of remote use, `drover --server URL --token … COMMAND`: a thin terminal for a command that
 * runs on the head node (its own code, against its own services). This side prints what the command prints,
 * answers its confirmations, reads the files named on the command line, and runs the editor; the exit code is
 * the command's. The protocol is in http/api/cli-protocol.ts.
 */
export interface RemoteTarget {
  /** ws:// or wss:// URL of the command WebSocket. */
  ws: string;
  /** The same over http(s), to ask why a handshake failed. */
  http: string;
  /** The server as the user wrote it, for messages. */
  shown: string;
  token: string;
}

/** drover serve's default port, used for a bare host name. */
const DEFAULT_PORT = 9873;
/** How long to wait for the WebSocket to open. */
const CONNECT_MS = 30_000;
/** Bun's WebSocket client takes request headers (the DOM typings in scope do not know that). */
const WebSocketWithHeaders = WebSocket as unknown as new (url: string, options: { headers: Record<string, string> }) => WebSocket;

/**
 * The remote server from the root options and the environment, or undefined for a local command. Usage errors
 * (exit 2) for a server without a token, a data dir with a server, and an unreadable token file.
 */
export function remoteTarget(opts: { dataDir?: string; server?: string; token?: string; tokenFile?: string }, env: Io["env"]): RemoteTarget | undefined {
  const server = opts.server ?? (env.DROVER_SERVER || undefined);
  if (!server) {
    if (opts.token !== undefined || opts.tokenFile !== undefined)
      throw invalid("--token and --token-file go with --server URL (or DROVER_SERVER): the head node to run the command on");
    return undefined;
  }
  const named = opts.server !== undefined ? "--server" : "DROVER_SERVER";
  if (opts.dataDir !== undefined) throw invalid(`-d/--data-dir names a data dir on this host and ${named} a head node to run the command on; give one of them`);
  if (opts.token !== undefined && opts.tokenFile !== undefined) throw invalid("give --token or --token-file, not both");
  let token = opts.token;
  if (opts.tokenFile !== undefined) {
    try {
      token = readFileSync(opts.tokenFile, "utf8").trim();
    } catch (e) {
      throw invalid(`cannot read the token file ${opts.tokenFile}: ${fileErrorCode(e) ?? (e as Error).message}`);
    }
    if (!token) throw invalid(`the token file ${opts.tokenFile} is empty`);
  }
  token ||= env.DROVER_TOKEN || undefined;
  if (!token)
    throw invalid(
      `${named} needs an API token: create one on the head node with 'drover user token create NAME', save it in a file only you can read, and pass ` +
        `--token-file FILE (or --token TOKEN, or set DROVER_TOKEN)`,
    );
  return { ...serverUrls(server), shown: server, token };
}

/** http://head:9873 → ws://head:9873/api/v1/cli; https → wss; a bare head or head:port is http (port 9873 by default). */
export function serverUrls(server: string): { ws: string; http: string } {
  const bare = !/^[a-z][a-z0-9+.-]*:\/\//i.test(server);
  let u: URL;
  try {
    u = new URL(bare ? `http://${server}` : server);
  } catch {
    throw invalid(`--server ${server} is not a URL like http://head:9873`);
  }
  if (!["http:", "https:", "ws:", "wss:"].includes(u.protocol)) throw invalid(`--server ${server}: use http://, https:// (or ws://, wss://)`);
  if (u.username || u.password) throw invalid(`--server ${server}: put the token in --token-file, not in the URL`);
  if (bare && !u.port) u.port = String(DEFAULT_PORT);
  const tls = u.protocol === "https:" || u.protocol === "wss:";
  const path = `${u.pathname.replace(/\/+$/, "")}${CLI_PATH}`;
  return { http: `${tls ? "https" : "http"}://${u.host}${path}`, ws: `${tls ? "wss" : "ws"}://${u.host}${path}` };
}

/** Runs argv on the head node and returns its exit code; connection problems are explained here. */
export function runRemote(t: RemoteTarget, argv: readonly string[], io: Io): Promise<number> {
  return new Promise<number>((resolve) => {
    let opened = false;
    let settled = false;
    let wsError: string | undefined;
    const finish = (code: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(code);
    };
    const ws = new WebSocketWithHeaders(t.ws, { headers: { authorization: `Bearer ${t.token}` } });
    const send = (m: ClientMessage) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m));
    };
    const timer = setTimeout(() => {
      if (opened) return;
      wsError = `no answer within ${CONNECT_MS / 1000} s`;
      ws.close();
    }, CONNECT_MS);

    ws.onopen = () => {
      opened = true;
      clearTimeout(timer);
      const env: Record<string, string> = {};
      for (const k of REMOTE_ENV) if (io.env[k] !== undefined) env[k] = io.env[k]!;
      send({ t: "run", argv: [...argv], isTTY: io.isTTY, env });
    };
    ws.onerror = (e) => {
      wsError = (e as ErrorEvent).message || wsError;
    };
    ws.onmessage = (e) => {
      const p = parseMessage(serverMessage, e.data);
      if (!p.ok) {
        io.err(
          `drover: ${t.shown} sent something that is not drover's remote protocol (${p.why}); is that drover serve, and the same version as this drover?\n`,
        );
        ws.close(CLOSE_PROTOCOL, "malformed message");
        return finish(1);
      }
      void answer(p.msg).catch((err) => {
        io.err(`drover: ${(err as Error).message}\n`);
        ws.close();
        finish(1);
      });
    };
    ws.onclose = (e) => {
      if (settled) return;
      if (!opened) {
        void explainRefusal(t, wsError, io).then(finish);
        return;
      }
      const why = e.code === CLOSE_PROTOCOL && e.reason ? `: ${e.reason}` : e.reason ? ` (${e.reason})` : "";
      io.err(
        `drover: the connection to ${t.shown} was lost before the command finished${why}; it may have completed on the server: check before running it again\n`,
      );
      finish(1);
    };

    const answer = async (m: ServerMessage) => {
      switch (m.t) {
        case "out":
          return io.out(m.s);
        case "err":
          return io.err(m.s);
        case "exit":
          finish(m.code);
          return ws.close(1000, "done");
        case "prompt": {
          const value = io.prompt ? await io.prompt(m.q) : undefined;
          return send({ t: "answer", id: m.id, value: value ?? null });
        }
        case "read": {
          let f: UserFile;
          try {
            f = io.readFile ? await io.readFile(m.path) : readLocalFile(m.path, MAX_FILE_BYTES);
            if (f.data.length > MAX_FILE_BYTES)
              throw Object.assign(
                new Error(`${m.path} is larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB; copy it to the head node and run the command there`),
                { code: "ETOOBIG" },
              );
          } catch (err) {
            const code = fileErrorCode(err);
            return send({ t: "file", id: m.id, error: (err as Error).message, ...(code ? { code: String(code) } : {}) });
          }
          return send({ t: "file", id: m.id, data: Buffer.from(f.data).toString("base64"), ...(f.mode !== undefined ? { mode: f.mode } : {}) });
        }
        case "edit": {
          try {
            const text = io.edit ? await io.edit(m.text) : await runEditor(io, m.text);
            return send({ t: "edited", id: m.id, text });
          } catch (err) {
            return send({ t: "edited", id: m.id, error: (err as Error).message });
          }
        }
      }
    };
  });
}

/**
 * The WebSocket did not open: Bun's client does not say why, so ask the same URL over plain HTTP (with the
 * token), whose answer carries the server's reason (401 token, 403 subnet, 404 not drover …).
 */
async function explainRefusal(t: RemoteTarget, wsError: string | undefined, io: Io): Promise<number> {
  let r: Response;
  try {
    r = await fetch(t.http, { headers: { authorization: `Bearer ${t.token}` }, signal: AbortSignal.timeout(CONNECT_MS) });
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why =
      code === "ECONNREFUSED" || code === "ConnectionRefused" ? "connection refused" : code === "ENOTFOUND" ? "no such host" : (e as Error).message || wsError;
    io.err(`drover: cannot reach drover at ${t.shown}: ${why} — is drover serve running there?\n`);
    return 1;
  }
  const error = await r
    .json()
    .then((b) => (b as { error?: unknown }).error)
    .catch(() => undefined);
  const said = typeof error === "string" ? error : `HTTP ${r.status}`;
  if (r.status === 401) {
    io.err(`drover: ${t.shown} refused the token: unknown or revoked; create one on the head node with 'drover user token create NAME'\n`);
    return 2;
  }
  if (r.status === 403) {
    io.err(`drover: ${t.shown} refused the command: ${said}\n`);
    return 2;
  }
  if (r.status === 404) {
    io.err(`drover: ${t.shown} has no remote command endpoint (HTTP 404); is that drover serve's address, and is it a drover that supports --server?\n`);
    return 1;
  }
  if (r.status === 426) {
    io.err(`drover: ${t.shown} answers, but the WebSocket failed (${wsError ?? "no reason given"}); a proxy in between must pass WebSocket upgrades\n`);
    return 1;
  }
  io.err(`drover: ${t.shown} refused the command: ${said}\n`);
  return 1;
}
