import { eq, lt } from "drizzle-orm";
import type { AuthStore, Role, TokenRecord } from "../services/auth";
import type { Db } from "./db";
import { apiTokens, loginFailures, sessions, users } from "./schema";

/** A stored role; anything unknown counts as the least (a viewer), never as admin. */
const asRole = (r: string): Role => (r === "admin" ? "admin" : "viewer");

/** The SQLite implementation of the auth port: users, sessions and API tokens. */
export function sqliteAuthStore(db: Db): AuthStore {
  const tokenRow = (t: typeof apiTokens.$inferSelect, user: string): TokenRecord => ({
    id: t.id,
    name: t.name,
    user,
    prefix: t.prefix,
    createdAt: t.createdAt,
    ...(t.lastUsedAt ? { lastUsedAt: t.lastUsedAt } : {}),
    ...(t.revokedAt ? { revokedAt: t.revokedAt } : {}),
  });
  return {
    userCount: () => db.select({ id: users.id }).from(users).all().length,
    user: (name) => {
      const u = db.select({ id: users.id, name: users.name, passwordHash: users.passwordHash, role: users.role }).from(users).where(eq(users.name, name)).get();
      return u ? { ...u, role: asRole(u.role) } : undefined;
    },
    setRole: (name, role, now) => db.update(users).set({ role, updatedAt: now }).where(eq(users.name, name)).returning({ id: users.id }).all().length > 0,
    users: () =>
      db
        .select({ name: users.name, role: users.role })
        .from(users)
        .orderBy(users.name)
        .all()
        .map((u) => ({ name: u.name, role: asRole(u.role) })),
    putUser: (name, passwordHash, now, role) =>
      void db
        .insert(users)
        .values({ name, passwordHash, createdAt: now, updatedAt: now, ...(role ? { role } : {}) })
        .onConflictDoUpdate({ target: users.name, set: { passwordHash, updatedAt: now } })
        .run(),
    createSession: (tokenHash, userId, csrf, now, expiresAt) => void db.insert(sessions).values({ tokenHash, userId, csrf, createdAt: now, expiresAt }).run(),
    session: (tokenHash) => {
      const r = db
        .select({ userId: sessions.userId, user: users.name, role: users.role, csrf: sessions.csrf, expiresAt: sessions.expiresAt })
        .from(sessions)
        .innerJoin(users, eq(users.id, sessions.userId))
        .where(eq(sessions.tokenHash, tokenHash))
        .get();
      return r ? { ...r, role: asRole(r.role) } : undefined;
    },
    deleteSession: (tokenHash) => void db.delete(sessions).where(eq(sessions.tokenHash, tokenHash)).run(),
    deleteSessionsOf: (userId) => void db.delete(sessions).where(eq(sessions.userId, userId)).run(),
    pruneSessions: (now) => void db.delete(sessions).where(lt(sessions.expiresAt, now)).run(),
    createToken: (name, userId, tokenHash, prefix, now) =>
      db.insert(apiTokens).values({ name, userId, tokenHash, prefix, createdAt: now }).returning({ id: apiTokens.id }).get().id,
    tokenByHash: (tokenHash) => {
      const r = db
        .select({ t: apiTokens, user: users.name, role: users.role })
        .from(apiTokens)
        .innerJoin(users, eq(users.id, apiTokens.userId))
        .where(eq(apiTokens.tokenHash, tokenHash))
        .get();
      return r ? { ...tokenRow(r.t, r.user), userId: r.t.userId, role: asRole(r.role) } : undefined;
    },
    tokens: () =>
      db
        .select({ t: apiTokens, user: users.name })
        .from(apiTokens)
        .innerJoin(users, eq(users.id, apiTokens.userId))
        .orderBy(apiTokens.id)
        .all()
        .map((r) => tokenRow(r.t, r.user)),
    revokeToken: (id, now) => db.update(apiTokens).set({ revokedAt: now }).where(eq(apiTokens.id, id)).returning({ id: apiTokens.id }).all().length > 0,
    touchToken: (id, now) => void db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, id)).run(),
    failure: (key) => db.select({ count: loginFailures.count, until: loginFailures.until }).from(loginFailures).where(eq(loginFailures.key, key)).get(),
    putFailure: (key, count, until, now) =>
      void db
        .insert(loginFailures)
        .values({ key, count, until, updatedAt: now })
        .onConflictDoUpdate({ target: loginFailures.key, set: { count, until, updatedAt: now } })
        .run(),
    deleteFailure: (key) => void db.delete(loginFailures).where(eq(loginFailures.key, key)).run(),
    failureKeys: () =>
      db
        .select({ key: loginFailures.key })
        .from(loginFailures)
        .orderBy(loginFailures.key)
        .all()
        .map((r) => r.key),
  };
}
