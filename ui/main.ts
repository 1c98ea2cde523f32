import { h, render } from "preact";
import { useEffect, useLayoutEffect, useState } from "preact/hooks";
import htm from "htm";
import { useAction } from "./action";
import { ApiError, ago, get, post, setCsrf, whenLoggedOut } from "./api";
import { NodePage } from "./node";
import { NodesPage } from "./nodes";
import { DiscoveryPage } from "./pages/discovery";
import { ImagesPage } from "./pages/images";
import { OverlaysPage } from "./pages/overlays";
import { ProfilesPage } from "./pages/profiles";
import { SettingsPage } from "./settings";
import { store, useStore } from "./store";

const html = htm.bind(h);

const PAGES: [string, string][] = [
  ["nodes", "Nodes"],
  ["profiles", "Profiles"],
  ["images", "Images"],
  ["overlays", "Overlays"],
  ["discovery", "Discovery"],
  ["settings", "Settings"],
];

function useHash(): string {
  const [hash, setHash] = useState(location.hash || "#/nodes");
  useEffect(() => {
    const on = () => setHash(location.hash || "#/nodes");
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash;
}

function Login(props: { onLogin: (user: string, role: string) => void; version: string }) {
  const { error: err, busy, run } = useAction();
  const error = !err ? "" : err instanceof ApiError && err.status === 429 ? `${err.message}.` : (err as Error).message;
  const submit = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    return run(async () => {
      const r = await post<{ user: string; role: string; csrf: string }>("/auth/login", { user: String(f.get("user")), password: String(f.get("password")) });
      setCsrf(r.csrf);
      props.onLogin(r.user, r.role);
    });
  };
  return html`<main class="login"><div class="card">
    <h2>drover</h2>
    <form onSubmit=${submit} aria-label="log in">
      <label>User<input name="user" autocomplete="username" value="admin" required /></label>
      <label>Password<input name="password" type="password" autocomplete="current-password" required autofocus /></label>
      <button class="primary" disabled=${busy}>Log in</button>
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </form>
    <p class="muted">The first start of <code>drover serve</code> prints the admin password; set a new one with <code>drover user passwd</code>.</p>
    ${props.version && html`<p class="muted small" data-version>drover ${props.version}</p>`}
  </div></main>`;
}

function App() {
  const [user, setUser] = useState<string | null | undefined>(undefined);
  const [role, setRoleState] = useState<string>("admin");
  const setRole = (r: string) => {
    store.role = r;
    setRoleState(r);
  };
  const [version, setVersion] = useState("");
  // A viewer (read only) sees the pages without the controls that change things (docs/web.md, "Roles").
  // Before the first paint as that user (a layout effect): never a moment with an admin's buttons showing.
  useLayoutEffect(() => {
    document.body.classList.toggle("viewer", !!user && role !== "admin");
  }, [role, user]);
  const hash = useHash();
  useStore();
  useEffect(() => {
    whenLoggedOut(() => {
      store.disconnect();
      setUser(null);
    });
    get<{ user: string | null; role?: string; csrf?: string; version?: string }>("/auth/session").then(
      (s) => {
        if (s.csrf) setCsrf(s.csrf);
        setVersion(s.version ?? "");
        setRole(s.role ?? "admin");
        setUser(s.user);
      },
      () => setUser(null),
    );
  }, []);
  useEffect(() => {
    if (user) store.connect();
  }, [user]);
  if (user === undefined) return html`<p class="muted" style="padding:1rem">Loading…</p>`;
  if (user === null)
    return html`<${Login} version=${version} onLogin=${(u: string, r: string) => {
      setRole(r);
      setUser(u);
    }} />`;
  const [, page, arg] = hash.split("/");
  const logout = async () => {
    await post("/auth/logout").catch(() => {});
    store.disconnect();
    setUser(null);
  };
  const body =
    page === "node" && arg
      ? html`<${NodePage} name=${decodeURIComponent(arg)} />`
      : page === "profiles"
        ? html`<${ProfilesPage} />`
        : page === "images"
          ? html`<${ImagesPage} />`
          : page === "overlays"
            ? html`<${OverlaysPage} />`
            : page === "discovery"
              ? html`<${DiscoveryPage} />`
              : page === "settings"
                ? html`<${SettingsPage} />`
                : html`<${NodesPage} />`;
  const current = page === "node" ? "nodes" : page;
  return html`<header>
      <h1>drover${version && html` <span class="version" data-version title="drover's version (drover version on the head node)">${version}</span>`}</h1>
      <nav aria-label="main">${PAGES.map(
        ([id, label]) =>
          html`<a href=${`#/${id}`} aria-current=${
            current === id || (!current && id === "nodes") ? "page" : undefined
          }>${label}${id === "discovery" && store.unknownSeen ? " •" : ""}</a>`,
      )}</nav>
      <span class="who">${user}${role !== "admin" ? " (viewer)" : ""} <button onClick=${logout}>Log out</button></span>
    </header>
    ${
      store.lostSince !== undefined &&
      html`<div class="banner" role="alert"
        data-lost>Connection to drover lost ${ago(store.lostSince)}, reconnecting… What is shown may be out of date; it catches up when the server is back.</div>`
    }
    <main>${
      role !== "admin"
        ? html`<p class="viewer-note"
      role="note">Read only: your account is a viewer. An admin can change that with <code>drover user role ${user} admin</code>.</p>`
        : ""
    }${body}</main>`;
}

render(html`<${App} />`, document.getElementById("app")!);
