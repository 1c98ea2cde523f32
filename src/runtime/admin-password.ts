import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const ADMIN_PASSWORD_FILE = "admin-password";

/**
 * Saves the first-start admin password where only the data dir's owner can read it (mode 0600), never in the
 * log: a journal is readable by the adm group and copied to log servers. Returns the file's path. A file
 * left from before is replaced, not reused, so its old mode cannot leak the new password.
 */
export function saveAdminPassword(dataDir: string, password: string): string {
  const path = join(dataDir, ADMIN_PASSWORD_FILE);
  rmSync(path, { force: true });
  writeFileSync(path, `${password}\n`, { mode: 0o600, flag: "wx" });
  return path;
}
