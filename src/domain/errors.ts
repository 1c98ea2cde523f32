/**
 * Domain errors. Each carries a message meant for an admin: it says what is wrong and, where it can,
 * what to do next. The CLI maps them to exit codes and the HTTP layer to status codes, once, at the edge.
 */
export type ErrorKind = "invalid" | "not-found" | "conflict" | "in-use";

export class DroverError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    /** Extra lines (one problem each) when a single operation found several. */
    readonly details: readonly string[] = [],
    /** The input the error is about, when one is (a `drover serve` setting: "pool", "leaseSeconds"). */
    readonly field?: string,
  ) {
    super(message);
    this.name = "DroverError";
  }
}

export const invalid = (msg: string, details: readonly string[] = []) => new DroverError("invalid", msg, details);
/** An invalid value of one named input. */
export const invalidField = (field: string, msg: string) => new DroverError("invalid", msg, [], field);
export const notFound = (msg: string) => new DroverError("not-found", msg);
export const conflict = (msg: string, details: readonly string[] = []) => new DroverError("conflict", msg, details);
export const inUse = (msg: string) => new DroverError("in-use", msg);
