// Issue 13 item 3: 199 concurrent wrong guesses were all checked, then the right one logged in. Attempts
// are now counted before the password is checked, per account and per client, and a locked-out admin gets
// back in from the head node's CLI.
import { afterEach, expect, test } from "bun:test";
import { AuthService } from "../../../src/services/auth";
import { sqliteAuthStore } from "../../../src/store/auth-store";
import { drover } from "../../helpers/cli";
import { type Harness, PASSWORD, harness } from "../api/harness";

let h: Harness | undefined;
afterEach(() => h?.cleanup());

/** Counts how many password checks really run (Bun.password.verify) while `fn` runs. */
async function countingChecks<T>(fn: () => Promise<T>): Promise<{ result: T; checks: number }> {
  const real = Bun.password.verify;
  let checks = 0;
  (Bun.password as { verify: typeof real }).verify = async (...a: Parameters<typeof real>) => {
    checks++;
    await Bun.sleep(5); // a check takes time: the parallel guesses all arrive while the first ones run
    return real(...a);
  };
  try {
    return { result: await fn(), checks };
  } finally {
    (Bun.password as { verify: typeof real }).verify = real;
  }
}

test("199 parallel wrong guesses and then the right one: 3 are checked, the rest and the right one get 429", async () => {
  h = await harness();
  const auth = h.auth;
  const { result, checks } = await countingChecks(() =>
    Promise.allSettled(Array.from({ length: 199 }, (_, i) => auth.login("admin", `guess-${i}`, `10.0.0.${(i % 200) + 1}`))),
  );
  expect(checks).toBe(3);
  const kinds = result.map((r) => (r.status === "rejected" ? (r.reason as { kind: string }).kind : "ok"));
  expect(kinds.filter((k) => k === "unauthenticated")).toHaveLength(3);
  expect(kinds.filter((k) => k === "rate-limited")).toHaveLength(196);
  // The account is now at its limit: the right password from a fresh address is checked only one at a time
  // and, after one more wrong guess, must wait.
  await expect(auth.login("admin", "wrong again", "10.9.9.9")).rejects.toMatchObject({ kind: "unauthenticated" });
  await expect(auth.login("admin", PASSWORD, "10.9.9.8")).rejects.toMatchObject({ kind: "rate-limited" });
});

test("per client: one address spraying account names is limited too, without a row per name", async () => {
  h = await harness();
  for (let i = 0; i < 3; i++) await expect(h.auth.login(`nobody${i}`, "x", "10.0.0.66")).rejects.toMatchObject({ kind: "unauthenticated" });
  await expect(h.auth.login("nobody9", "x", "10.0.0.66")).rejects.toMatchObject({ kind: "unauthenticated" });
  await expect(h.auth.login("admin", PASSWORD, "10.0.0.66")).rejects.toMatchObject({ kind: "rate-limited" });
  // Another client is not affected, and names that are no account leave nothing in the store.
  expect((await h.auth.login("admin", PASSWORD, "10.0.0.7")).user).toBe("admin");
  expect(h.svc.store.sqlite.query("SELECT count(*) AS n FROM login_failures").get()).toEqual({ n: 0 });
});

test("a spray of 8,000 names (16,000 counts, over the 10,000 kept) from many addresses cannot reset a waiting account", async () => {
  h = await harness();
  for (let i = 0; i < 6; i++) {
    if (i) h.clock.now += 300_000; // past each wait
    await h.auth.login("admin", "wrong", `10.1.0.${i}`).catch(() => {});
  }
  const waiting = h.auth.lockouts()[0]!;
  expect(waiting.until).toBeGreaterThan(h.clock.now);
  for (let i = 0; i < 8_000; i++) await h.auth.login(`n${i}`, "x", `10.2.${i >> 8}.${i & 255}`).catch(() => {});
  await expect(h.auth.login("admin", PASSWORD, "10.3.0.1")).rejects.toMatchObject({ kind: "rate-limited" });
}, 60_000);

test("the count survives a restart of the server (it is in the store)", async () => {
  h = await harness();
  for (let i = 0; i < 4; i++) await h.auth.login("admin", "wrong", `10.0.0.${i}`).catch(() => {});
  const again = new AuthService(sqliteAuthStore(h.svc.store.db), { now: () => h!.clock.now, hashCost: { memoryCost: 256, timeCost: 1 } });
  await expect(again.login("admin", PASSWORD, "10.0.0.50")).rejects.toMatchObject({ kind: "rate-limited" });
});

test("a locked-out admin gets in again with 'drover user unlock' (or a new password) on the head node", async () => {
  h = await harness();
  for (let i = 0; i < 8; i++) {
    if (i) h.clock.now += 300_000;
    await h.auth.login("admin", "wrong", `10.0.0.${i}`).catch(() => {});
  }
  await expect(h.auth.login("admin", PASSWORD, "10.0.0.100")).rejects.toMatchObject({ kind: "rate-limited" });
  const dir = h.svc.dataDir;
  let r = await drover(dir, "user", "unlock", "--list");
  expect(r.out).toMatch(/^admin: 8 wrong password\(s\)/);
  r = await drover(dir, "user", "unlock");
  expect(r.code).toBe(0);
  expect(r.out).toBe("unlocked admin\n");
  expect((await h.auth.login("admin", PASSWORD, "10.0.0.100")).user).toBe("admin");
  // A new password unlocks as well.
  for (let i = 0; i < 8; i++) await h.auth.login("admin", "wrong", `10.0.1.${i}`).catch(() => {});
  expect(h.auth.lockouts()).toHaveLength(1);
  r = await drover(dir, "user", "unlock", "--all");
  expect(r.out).toBe("unlocked admin\n");
  for (let i = 0; i < 8; i++) await h.auth.login("admin", "wrong", `10.0.2.${i}`).catch(() => {});
  await expect(h.auth.login("admin", PASSWORD, "10.0.0.101")).rejects.toMatchObject({ kind: "rate-limited" });
  await h.auth.setPassword("admin", "another good password");
  expect((await h.auth.login("admin", "another good password", "10.0.0.101")).user).toBe("admin");
  expect((await drover(dir, "user", "unlock", "ghost")).code).not.toBe(0);
});
