import type { Context } from "hono";
import { getConnInfo } from "hono/bun";
import type { SettingsPort } from "../../config/settings";
import type { AuthService, Role } from "../../services/auth";
import type { BootStatusService } from "../../services/boot-status";
import type { BootBusEvent, EventBus } from "../../services/events";
import type { ImageService } from "../../services/images";
import type { DiscoveryInbox } from "../../services/inbox";
import type { NodeSnapshot } from "../../services/node-snapshot";
import type { NodeService } from "../../services/nodes";
import type { OverlayService } from "../../services/overlays";
import type { PowerService } from "../../services/power";

/** What the API needs; `drover serve` builds it from its services, tests from a temporary data dir. */
export interface ApiDeps {
  nodes: NodeService;
  /** Every node resolved, kept current incrementally (the node table is built from it). */
  snapshot: NodeSnapshot;
  bootStatus: BootStatusService;
  inbox: DiscoveryInbox;
  events: EventBus<BootBusEvent>;
  auth: AuthService;
  images: ImageService;
  overlays: OverlayService;
  power: PowerService;
  /** `drover serve`'s settings: the running configuration, and live changes to it. */
  settings: SettingsPort;
  /** When set, only clients in these IPv4 subnets (CIDR) may use the API and the page. */
  allowedSubnets?: readonly string[];
  /** Mark the session cookie Secure even over plain HTTP (behind a TLS-terminating proxy). */
  secureCookies?: boolean;
  /** The client's address (default: the socket's); tests inject one. */
  clientAddress?: (c: Context) => string | undefined;
  version: string;
  /** The audit log: one line per change made through the API (who, from where, what, the outcome). */
  log?: (line: string) => void;
  /**
   * Runs a drover command on this server for a remote client (`drover --server`, the /cli WebSocket) and
   * returns its exit code. Injected by `drover serve` (the HTTP layer does not know the CLI); absent: 501.
   */
  runCommand?: RunCommand;
}

export type RunCommand = (argv: string[], io: CommandIo, who: { user: string; address?: string }) => Promise<number>;

/**
 * The terminal a remote command writes to and asks through: the CLI's Io, each part forwarded over the
 * WebSocket to the client. Declared here because http/ does not import cli/; the CLI's Io must accept it.
 */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
  isTTY: boolean;
  env: Record<string, string | undefined>;
  prompt(question: string): Promise<string | undefined>;
  readFile(path: string): Promise<{ data: Uint8Array; mode?: number }>;
  edit(text: string): Promise<string>;
  remote: true;
}

export interface ApiEnv {
  Variables: {
    user: string;
    /** What the account may do (docs/web.md, "Roles"). */
    role: Role;
    via: "session" | "token";
    csrf?: string;
  };
}

export function socketAddress(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address?.replace(/^::ffff:/, "");
  } catch {
    return undefined; // app.request() in tests has no socket
  }
}
