import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { conflict, invalid, notFound } from "../domain/errors";
import { USER_NAME } from "../domain/names";

/**
 * Accounts, browser sessions and API tokens: the use cases behind the login page, `drover user …` and the
 * API's authentication. Passwords are argon2id hashes (Bun.password); session and API tokens are random
 * 256-bit strings of which only a SHA-256 is stored, so a copy of the database logs nobody in.
 */

/** What an account may do (docs/web.md): `admin` everything, `viewer` read only. */
export type Role = "admin" | "viewer";
export const ROLES: readonly Role[] = ["admin", "viewer"];

export interface UserRecord {
  id: number;
  name: string;
  passwordHash: string;
  role: Role;
}

export interface SessionRecord {
  userId: number;
  user: string;
  role: Role;
  csrf: string;
  expiresAt: number;
}

export interface TokenRecord {
  id: number;
  name: string;
  user: string;
  prefix: string;
  createdAt: number;
  lastUsedAt?: number;
  revokedAt?: number;
}

/** What the auth service needs from storage (store/auth-store.ts implements it over SQLite). */
export interface AuthStore {
  userCount(): number;
  user(name: string): UserRecord | undefined;
  /** Creates an account (with `role`, default admin) or sets its password (its role is kept). */
  putUser(name: string, passwordHash: string, now: number, role?: Role): void;
  setRole(name: string, role: Role, now: number): boolean;
  users(): { name: string; role: Role }[];
  createSession(tokenHash: string, userId: number, csrf: string, now: number, expiresAt: number): void;
  session(tokenHash: string): SessionRecord | undefined;
  deleteSession(tokenHash: string): void;
  /** Ends every session of a user (after a password change). */
  deleteSessionsOf(userId: number): void;
  pruneSessions(now: number): void;
  createToken(name: string, userId: number, tokenHash: string, prefix: string, now: number): number;
  tokenByHash(tokenHash: string): (TokenRecord & { userId: number; role: Role }) | undefined;
  tokens(): TokenRecord[];
  revokeToken(id: number, now: number): boolean;
  touchToken(id: number, now: number): void;
  /** Wrong-password counts of accounts (key `u:NAME`), kept where `drover user unlock` can clear them. */
  failure(key: string): { count: number; until: number } | undefined;
  putFailure(key: string, count: number, until: number, now: number): void;
  deleteFailure(key: string): void;
  /** Every key with a count, for `drover user unlock --all` and listings. */
  failureKeys(): string[];
}

/** Authentication failures; the HTTP edge maps them to 401, 403 and 429. */
export class AuthError extends Error {
  constructor(
    readonly kind: "unauthenticated" | "forbidden" | "rate-limited",
    message: string,
    /** Seconds to wait (rate-limited). */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = "AuthError";
  }
}

export interface AuthOptions {
  now?: () => number;
  /** Session lifetime (default 12 h). */
  sessionSeconds?: number;
  /** Wrong passwords allowed per user and per client before each further attempt must wait (default 3). */
  freeFailures?: number;
  /** argon2id cost; tests lower it. */
  hashCost?: { memoryCost?: number; timeCost?: number };
}

export const ADMIN = "admin";
export const TOKEN_PREFIX = "drv_";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const random = (bytes = 32) => randomBytes(bytes).toString("base64url");

/** A random password that is easy to type from a terminal: 20 characters of [a-zA-Z0-9]. */
export function generatePassword(): string {
  const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  const b = randomBytes(20);
  return [...b].map((x) => alphabet[x % alphabet.length]).join("");
}

interface Failures {
  count: number;
  /** Unix ms before which another attempt is refused without checking the password. */
  until: number;
}

/** Counts of names that are not accounts and of client addresses, kept in memory; at most this many. */
const MEMORY_KEYS = 10_000;

export class AuthService {
  private readonly now: () => number;
  /** Failures of client addresses and of names that are no account (accounts' are in the store). */
  private readonly failures = new Map<string, Failures>();
  /** Password checks running now, per key: counted before the check, so parallel guesses share the budget. */
  private readonly inflight = new Map<string, number>();
  private readonly sessionMs: number;
  private readonly freeFailures: number;

  constructor(
    private readonly store: AuthStore,
    private readonly opts: AuthOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.sessionMs = (opts.sessionSeconds ?? 12 * 3600) * 1000;
    this.freeFailures = opts.freeFailures ?? 3;
  }

  private hash(password: string): Promise<string> {
    return Bun.password.hash(password, { algorithm: "argon2id", ...(this.opts.hashCost ?? {}) });
  }

  /**
   * The first start: creates `admin` with a random password and returns it (to be printed once).
   * Returns undefined when any account exists.
   */
  async ensureAdmin(): Promise<string | undefined> {
    if (this.store.userCount() > 0) return undefined;
    const password = generatePassword();
    this.store.putUser(ADMIN, await this.hash(password), this.now());
    return password;
  }

  /** Sets (or creates, with `role`, default admin) a user's password and ends that user's sessions. */
  async setPassword(name: string, password: string, role?: Role): Promise<void> {
    if (!USER_NAME.test(name)) throw invalid(`user name '${name}' is not valid: lower-case letters, digits, '_', '.', '-'`);
    if (password.length < 8) throw invalid("the password is too short: use at least 8 characters");
    if (password.length > 1024) throw invalid("the password is too long (at most 1024 characters)");
    if (role !== undefined && !ROLES.includes(role)) throw invalid(`role '${role}' is not one of ${ROLES.join(", ")}`);
    const existed = this.store.user(name) !== undefined;
    this.store.putUser(name, await this.hash(password), this.now(), role);
    if (existed && role !== undefined) this.setRole(name, role);
    const u = this.store.user(name)!;
    this.store.deleteSessionsOf(u.id);
    // A new password also lifts the login limit: the way back in for a locked-out admin on the head node.
    this.store.deleteFailure(`u:${name}`);
  }

  /**
   * Checks a password and opens a session. Attempts are counted per account (or name) and per client
   * address *before* the password is looked at: `freeFailures` wrong passwords are free, after that each
   * further attempt must wait 1 s, 2 s, 4 s … (at most 5 min), and only one check per key runs at a time.
   * An attempt outside that budget — during the wait, or while other checks are still running — is refused
   * with 429 without verifying anything, so 199 parallel guesses get 3 checks, not 199.
   * An account's count is in the store (it survives a restart; `drover user unlock` clears it); counts of
   * client addresses and of names that are no account are in memory, at most MEMORY_KEYS of them.
   */
  async login(name: string, password: string, client = "unknown"): Promise<{ token: string; csrf: string; expiresAt: number; user: string; role: Role }> {
    const u = this.store.user(name);
    const keys = [`u:${name}`, `c:${client}`];
    const stored = (k: string) => k.startsWith("u:") && u !== undefined;
    const read = (k: string): Failures => (stored(k) ? this.store.failure(k) : this.failures.get(k)) ?? { count: 0, until: 0 };
    const now = this.now();
    // Check and reserve in one synchronous step: no await between them, so parallel requests queue here.
    for (const k of keys) {
      const f = read(k);
      const running = this.inflight.get(k) ?? 0;
      const budget = f.count < this.freeFailures ? this.freeFailures - f.count : 1;
      if (f.until > now) throw new AuthError("rate-limited", "too many wrong passwords; wait before trying again", Math.ceil((f.until - now) / 1000));
      if (running >= budget) throw new AuthError("rate-limited", "too many login attempts at once; wait before trying again", 1);
    }
    for (const k of keys) this.inflight.set(k, (this.inflight.get(k) ?? 0) + 1);
    let ok: boolean;
    try {
      // Verify against a dummy hash when the user does not exist, so the answer takes as long either way.
      ok = u ? await Bun.password.verify(password, u.passwordHash) : (await Bun.password.verify(password, await this.dummy()), false);
    } finally {
      for (const k of keys) {
        const n = (this.inflight.get(k) ?? 1) - 1;
        if (n > 0) this.inflight.set(k, n);
        else this.inflight.delete(k);
      }
    }
    if (!u || !ok) {
      const at = this.now();
      for (const k of keys) {
        const f = read(k);
        f.count++;
        const over = f.count - this.freeFailures;
        f.until = over > 0 ? at + Math.min(2 ** (over - 1), 300) * 1000 : 0;
        if (stored(k)) this.store.putFailure(k, f.count, f.until, at);
        else this.remember(k, f);
      }
      throw new AuthError("unauthenticated", "wrong user name or password");
    }
    for (const k of keys) {
      if (stored(k)) this.store.deleteFailure(k);
      else this.failures.delete(k);
    }
    const token = random();
    const csrf = random();
    const expiresAt = now + this.sessionMs;
    this.store.pruneSessions(now);
    this.store.createSession(sha256(token), u.id, csrf, now, expiresAt);
    return { token, csrf, expiresAt, user: u.name, role: u.role };
  }

  /**
   * Keeps an in-memory count, most recent last. Past MEMORY_KEYS the oldest go first — those whose wait is
   * over before those still waiting — so a spray of names cannot empty the table to reset a count.
   */
  private remember(k: string, f: Failures) {
    this.failures.delete(k);
    this.failures.set(k, f);
    if (this.failures.size <= MEMORY_KEYS) return;
    const now = this.now();
    for (const [key, v] of this.failures) {
      if (this.failures.size <= MEMORY_KEYS) return;
      if (v.until <= now) this.failures.delete(key);
    }
    for (const key of this.failures.keys()) {
      if (this.failures.size <= MEMORY_KEYS) return;
      this.failures.delete(key);
    }
  }

  /**
   * Lifts the login limit of an account (`drover user unlock NAME`, on the head node), or of every account
   * with `all`. Returns the accounts that were limited. Counts of client addresses live in the running
   * server's memory and end with their wait (at most 5 min) or a restart.
   */
  unlock(name: string | undefined, all = false): string[] {
    const keys = all ? this.store.failureKeys() : [`u:${name}`].filter((k) => this.store.failureKeys().includes(k));
    if (!all && name !== undefined && !this.store.user(name)) throw notFound(`user '${name}' does not exist`);
    for (const k of keys) this.store.deleteFailure(k);
    return keys.map((k) => k.slice(2));
  }

  /** Accounts with wrong passwords counted, and until when they must wait (unix ms; 0 = not waiting). */
  lockouts(): { user: string; count: number; until: number }[] {
    return this.store.failureKeys().map((k) => ({ user: k.slice(2), ...this.store.failure(k)! }));
  }

  private dummyHash?: Promise<string>;
  private dummy() {
    this.dummyHash ??= this.hash(random());
    return this.dummyHash;
  }

  /** Sets an account's role; its sessions end (the page reloads with what it may do now). */
  setRole(name: string, role: string): void {
    if (!ROLES.includes(role as Role)) throw invalid(`role '${role}' is not one of ${ROLES.join(", ")}`);
    const u = this.store.user(name);
    if (!u) throw notFound(`user '${name}' does not exist; create it with 'drover user passwd ${name} --role ${role}'`);
    if (u.role === "admin" && role !== "admin" && this.store.users().filter((x) => x.role === "admin").length === 1)
      throw invalid(`'${name}' is the last admin; make another account admin first (drover user role NAME admin)`);
    this.store.setRole(name, role as Role, this.now());
    this.store.deleteSessionsOf(u.id);
  }

  users(): { name: string; role: Role }[] {
    return this.store.users();
  }

  /** The session a cookie belongs to, or undefined when it is unknown or expired. */
  session(token: string | undefined): SessionRecord | undefined {
    if (!token) return undefined;
    const s = this.store.session(sha256(token));
    if (!s || s.expiresAt <= this.now()) return undefined;
    return s;
  }

  /** True when the request's CSRF token matches the session's (constant-time). */
  csrfMatches(s: SessionRecord, given: string | undefined): boolean {
    if (!given) return false;
    const a = Buffer.from(s.csrf);
    const b = Buffer.from(given);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  logout(token: string | undefined): void {
    if (token) this.store.deleteSession(sha256(token));
  }

  // ---- API tokens ----

  /** Creates an API token for a user; the secret is returned once and never stored. */
  createToken(name: string, user = ADMIN): { id: number; token: string; name: string } {
    if (!/^[\w.@ -]{1,64}$/.test(name)) throw invalid(`token name '${name}' is not valid: 1-64 letters, digits, spaces, '.', '@', '-', '_'`);
    const u = this.store.user(user);
    if (!u) throw notFound(`user '${user}' does not exist; create it with 'drover user passwd ${user}'`);
    if (this.store.tokens().some((t) => t.name === name && !t.revokedAt))
      throw conflict(`a token named '${name}' exists; revoke it first or pick another name`);
    const token = `${TOKEN_PREFIX}${random()}`;
    const id = this.store.createToken(name, u.id, sha256(token), token.slice(0, 10), this.now());
    return { id, token, name };
  }

  tokens(): TokenRecord[] {
    return this.store.tokens();
  }

  /** Revokes a token by id or by name (the active one of that name). */
  revokeToken(idOrName: string): TokenRecord {
    const all = this.store.tokens();
    const t = /^\d+$/.test(idOrName) ? all.find((x) => x.id === Number(idOrName)) : all.find((x) => x.name === idOrName && !x.revokedAt);
    if (!t) throw notFound(`no token '${idOrName}'; 'drover user token list' shows them`);
    if (t.revokedAt) return t;
    this.store.revokeToken(t.id, this.now());
    return { ...t, revokedAt: this.now() };
  }

  /** The user an API token belongs to; undefined for an unknown or revoked token. */
  verifyToken(token: string | undefined): { user: string; tokenId: number; role: Role } | undefined {
    if (!token || !token.startsWith(TOKEN_PREFIX)) return undefined;
    const t = this.store.tokenByHash(sha256(token));
    if (!t || t.revokedAt) return undefined;
    const now = this.now();
    // Last use to the minute: a script polling every second should not write on every request.
    if (!t.lastUsedAt || now - t.lastUsedAt > 60_000) this.store.touchToken(t.id, now);
    return { user: t.user, tokenId: t.id, role: t.role };
  }
}
