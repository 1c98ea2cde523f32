import { eq } from "drizzle-orm";
import type { ImageRow, ImageStore } from "../services/ports-images";
import type { Db } from "./db";
import { images } from "./schema";

/** SQLite implementation of the image store port (the `images` table; metadata in its `info` JSON). */
export function sqliteImageStore(db: Db): ImageStore {
  const row = (r: typeof images.$inferSelect): ImageRow => ({ name: r.name, createdAt: r.createdAt, updatedAt: r.updatedAt, info: r.info });
  return {
    list: () => db.select().from(images).orderBy(images.name).all().map(row),
    get: (name) => {
      const r = db.select().from(images).where(eq(images.name, name)).get();
      return r ? row(r) : undefined;
    },
    put: (name, info) => {
      const now = Date.now();
      db.insert(images)
        .values({ name, info, createdAt: now, updatedAt: now })
        .onConflictDoUpdate({ target: images.name, set: { info, updatedAt: now } })
        .run();
    },
    delete: (name) => void db.delete(images).where(eq(images.name, name)).run(),
    rename: (from, to) =>
      db.transaction(
        (t) => {
          const src = t.select().from(images).where(eq(images.name, from)).get();
          if (!src || t.select().from(images).where(eq(images.name, to)).get()) return false;
          t.update(images).set({ name: to, updatedAt: Date.now() }).where(eq(images.name, from)).run();
          return true;
        },
        { behavior: "immediate" },
      ),
  };
}
