import { type Services, apiDeps, createServices } from "../../../src/app";
import type { HostInterface, ServeConfig } from "../../../src/config/serve";
import { ServeSettings, keyValueSettingsStorage } from "../../../src/config/settings";
import { createApp } from "../../../src/http/app";
import type { ApiDeps } from "../../../src/http/api/context";
import { AuthService } from "../../../src/services/auth";
import { PowerService } from "../../../src/services/power";
import { sqliteAuthStore } from "../../../src/store/auth-store";
import { tempDir } from "../../helpers/cli";

/**
 * An API under test: a fresh data dir, the real services, a clock the test moves, cheap argon2 parameters,
 * and a known admin password. Requests go through app.request(), no socket.
 */
export interface Harness {
  svc: Services;
  deps: ApiDeps;
  app: ReturnType<typeof createApp>;
  clock: { now: number };
  auth: AuthService;
  /** `drover serve`'s settings over the data dir's settings table; applying a change records it in `applied`. */
  settings: ServeSettings;
  applied: { next: Readonly<ServeConfig>; prev: Readonly<ServeConfig> }[];
  /** Logs in and returns the cookie header and CSRF token. */
  login(user?: string, password?: string): Promise<{ cookie: string; csrf: string; setCookie: string }>;
  /** A request with a session (cookie + CSRF). */
  req(method: string, path: string, body?: unknown, s?: { cookie: string; csrf: string }): Promise<Response>;
  cleanup(): void;
}

export const PASSWORD = "correct horse battery";
/** The host's interfaces as the harness's settings see them. */
export const HOST: HostInterface[] = [
  { name: "eth1", address: "10.0.0.1", netmask: "255.255.255.0" },
  { name: "eth0", address: "192.168.1.5", netmask: "255.255.255.0" },
];

export async function harness(opts: Partial<ApiDeps> = {}): Promise<Harness> {
  const { dir, cleanup } = tempDir("drover-api-");
  const svc = createServices(dir);
  const clock = { now: 1_700_000_000_000 };
  const auth = new AuthService(sqliteAuthStore(svc.store.db), { now: () => clock.now, hashCost: { memoryCost: 256, timeCost: 1 } });
  await auth.setPassword("admin", PASSWORD);
  const settings = new ServeSettings({
    flags: { leaseTime: "86400", pollInterval: "60" },
    explicit: new Set(),
    dataDir: dir,
    storage: keyValueSettingsStorage(svc.settingsStore),
    hosts: () => HOST,
    now: () => clock.now,
  });
  const applied: Harness["applied"] = [];
  settings.onApply(async (next, prev) => void applied.push({ next, prev }));
  const deps: ApiDeps = apiDeps(svc, {
    auth,
    power: new PowerService(svc.nodes, {}),
    settings,
    version: "test",
    ...opts,
  });
  const app = createApp({ startedAt: new Date(), stats: () => svc.nodes.counts(), services: () => ({}), api: deps });
  let session: { cookie: string; csrf: string } | undefined;
  const h: Harness = {
    svc,
    deps,
    app,
    clock,
    auth,
    settings,
    applied,
    async login(user = "admin", password = PASSWORD) {
      const r = await app.request("/api/v1/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user, password }),
      });
      if (r.status !== 200) throw new Error(`login: ${r.status} ${await r.text()}`);
      const setCookie = r.headers.get("set-cookie") ?? "";
      const body = (await r.json()) as { csrf: string };
      return { cookie: setCookie.split(";")[0]!, csrf: body.csrf, setCookie };
    },
    async req(method, path, body, s) {
      s ??= session ??= await h.login();
      const headers: Record<string, string> = { cookie: s.cookie, "x-csrf-token": s.csrf };
      if (body !== undefined) headers["content-type"] = "application/json";
      return app.request(`/api/v1${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    },
    cleanup: () => {
      svc.close();
      cleanup();
    },
  };
  return h;
}
