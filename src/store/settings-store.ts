import { eq } from "drizzle-orm";
import type { SettingsStore } from "../services/ports";
import type { Db } from "./db";
import { settings } from "./schema";

/** The settings table (key → JSON), e.g. the values saved on the web page's Settings page under "serve". */
export function sqliteSettingsStore(db: Db): SettingsStore {
  return {
    get: <T>(key: string) => db.select().from(settings).where(eq(settings.key, key)).get()?.value as T | undefined,
    set: (key, value) => {
      db.transaction((tx) => void tx.insert(settings).values({ key, value }).onConflictDoUpdate({ target: settings.key, set: { value } }).run(), {
        behavior: "immediate",
      });
    },
  };
}
