import type { Command } from "commander";
import { type Services, createServices } from "../app";
import { resolveDataDir } from "../config/paths";
import type { Io } from "./output";

/**
 * What a command gets: where to print, and the services, opened on first use from the global options
 * (so `drover --help` and `drover version` never touch the data dir). On a head node running a command for
 * a remote client (`drover --server`), the server's own open Services are given and are left open at the end.
 */
export class CliContext {
  private opened?: Services;
  constructor(
    readonly io: Io,
    private readonly root: () => Command,
    private readonly given?: Services,
    /**
     * Runs a command for a remote client against the given open services (what `drover serve` hands to its
     * /api/v1/cli WebSocket); supplied by runCli, so that serve.ts need not import the command table.
     */
    readonly remoteRunner?: (svc: Services) => (argv: readonly string[], io: Io) => Promise<number>,
  ) {}

  /** The command runs on the head node for a remote client: it must not touch this host's terminal or files. */
  get remote(): boolean {
    return this.io.remote === true;
  }

  get dataDir(): string {
    if (this.given) return this.given.dataDir;
    const g = this.root().opts<{ dataDir?: string }>();
    return resolveDataDir(g.dataDir, this.io.env);
  }

  services(): Services {
    if (this.given) return this.given;
    this.opened ??= createServices(this.dataDir, { log: (l) => this.io.err(`${l}\n`) });
    return this.opened;
  }

  close() {
    this.opened?.close();
    this.opened = undefined;
  }
}

/** A command module: one file per command, each exporting this. */
export type CommandModule = (parent: Command, ctx: CliContext) => void;
