/**
 * Ends the CLI with a given exit code after the command has printed its own message: a command run inside
 * an image passes its code on; a fan-out where some nodes failed exits PARTIAL_FAILURE.
 */
export class ExitWith extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Some of the nodes an operation ran on failed (the others succeeded); the failures were listed. */
export const PARTIAL_FAILURE = 6;

/** A check found problems (overlay lint): they were listed; nothing failed to run. */
export const FINDINGS = 7;
