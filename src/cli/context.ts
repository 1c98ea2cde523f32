import type { Command } from "commander";
import { type Services, createServices } from "../app";
import { resolveDataDir } from "../config/paths";
import type { Io } from "./output";

/**
 * What a command gets: where to print, and the services, opened on first use from the global options
 * (so `drover --help` and `drover version` never touch the data dir).
 */
export class CliContext {
  private opened?: Services;
  constructor(
    readonly io: Io,
    private readonly root: () => Command,
  ) {}

  get dataDir(): string {
    const g = this.root().opts<{ dataDir?: string }>();
    return resolveDataDir(g.dataDir, this.io.env);
  }

  services(): Services {
    this.opened ??= createServices(this.dataDir);
    return this.opened;
  }

  close() {
    this.opened?.close();
    this.opened = undefined;
  }
}

/** A command module: one file per command, each exporting this. */
export type CommandModule = (parent: Command, ctx: CliContext) => void;
