/** Ends the CLI with a given exit code (a command run inside an image passes its own code on). */
export class ExitWith extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
