import pkg from "../package.json" with { type: "json" };

/** Set at build time by build.ts (`--define`); "dev" when run from source. */
declare const DROVER_COMMIT: string | undefined;

export const VERSION: string = pkg.version;
export const COMMIT: string = typeof DROVER_COMMIT === "string" ? DROVER_COMMIT : "dev";
