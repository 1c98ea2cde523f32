import { useEffect, useState } from "preact/hooks";
import { OVERLAY_NAME } from "../../src/domain/names";
import type { TemplateProblem } from "../../src/services/overlays";
import { useAction } from "../action";
import { ApiError, del, enc, get, post, put } from "../api";
import { store } from "../store";

/** PUT /overlays/NAME/file's answer (src/http/api/overlays.ts). */
interface SaveAnswer {
  written: string;
  checked: "none" | "syntax" | "render";
  node?: string;
  problem?: TemplateProblem;
}

interface Entry {
  path: string;
  type: string;
  mode?: number;
  size?: number;
}
export interface OverlayRow {
  name: string;
  origin: "built-in" | "site";
  shadows: boolean;
  users: number;
}
export interface OverlayTree {
  name: string;
  origin: "built-in" | "site";
  shadows: boolean;
  users: string[];
  userCount: number;
  entries: Entry[];
}
export interface LintWarning {
  message: string;
  nodes: string[];
}
export interface PreviewFile {
  path: string;
  data?: string;
  type: string;
}
/** How the last Save ended, beside the Save button. */
export interface Saved {
  cls: "ok" | "warn";
  text: string;
}
/** The check's problem that kept the last Save from writing (or was saved anyway), and the text it was found in. */
export interface Problem {
  p: TemplateProblem;
  text: string;
  error: string;
}

/**
 * A deletion waiting for the admin to confirm it: what it says, and what runs on "Delete". It belongs to the
 * overlay and file that were open when it was asked for (`at`) and is shown only while they still are: choosing
 * another one hides it. (It is not cleared by an effect: effects run after paint, so a quick click on "Delete"
 * right after a file opened would have its confirmation wiped by the opening's effect.)
 */
export interface Pending {
  at: string;
  title: string;
  lines: string[];
  action: string;
  run: () => Promise<unknown>;
  done: string;
}

/** Puts the editor's caret on the problem's line and column. */
function placeCaret(p: TemplateProblem) {
  const ta = document.getElementById("overlay-editor") as HTMLTextAreaElement | null;
  if (!ta || !p.line) return;
  const lines = ta.value.split("\n");
  let at = 0;
  for (let i = 0; i < p.line - 1 && i < lines.length; i++) at += lines[i]!.length + 1;
  at += Math.max(0, (p.column ?? 1) - 1);
  ta.focus();
  ta.setSelectionRange(at, at);
}

/**
 * The Overlays page's state and what its controls do: the overlay list and lint, the chosen overlay's tree,
 * the open file's text with Save (checked by the server), Render for a node, new overlays and files, and
 * deletions that ask first. The page (overlays.ts) only shows it.
 */
export function useOverlayEditor() {
  const [list, setList] = useState<OverlayRow[]>([]);
  const [sel, setSel] = useState<string | null>(null);
  const [tree, setTree] = useState<OverlayTree | null>(null);
  const [file, setFile] = useState<string | null>(null);
  const [text, setText] = useState("");
  const [node, setNode] = useState("");
  const [preview, setPreview] = useState<PreviewFile[] | null>(null);
  const [lint, setLint] = useState<LintWarning[]>([]);
  const [saved, setSaved] = useState<Saved | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [nameErr, setNameErr] = useState("");
  const [fileErr, setFileErr] = useState("");
  const [pending, setPending] = useState<Pending | null>(null);
  const { error: err, setError: setErr, message: msg, setMessage: setMsg, run } = useAction();
  const loadList = () => get<OverlayRow[]>("/overlays").then(setList, setErr);
  const loadTree = (name: string) =>
    get<OverlayTree>(`/overlays/${enc(name)}`).then(setTree, (x) => {
      setTree(null);
      setErr(x);
    });
  const loadLint = () => get<LintWarning[]>("/lint/overlays").then(setLint, () => {});
  useEffect(() => {
    loadList();
    loadLint();
    if (!store.nodes.length) store.loadNodes().catch(() => {});
  }, []);
  useEffect(() => {
    setTree(null);
    setFileErr("");
    if (sel) loadTree(sel);
    setFile(null);
  }, [sel]);
  useEffect(() => {
    setPreview(null);
    setProblem(null);
    setSaved(null);
    setText("");
    // A viewer is not shown contents (the API refuses them: overlays hold secrets); the page says so instead.
    if (sel && file && store.role === "admin") get<{ text: string }>(`/overlays/${enc(sel)}/file?path=${enc(file)}`).then((f) => setText(f.text), setErr);
  }, [file]);
  /** Typing in the editor: what Save said is about the text as it was. */
  const edit = (t: string) => {
    setText(t);
    setSaved(null);
  };
  const render = () =>
    run(
      async () => setPreview(await get<PreviewFile[]>(`/overlays/${enc(sel!)}/render?path=${enc(file!)}&node=${enc(node)}`)),
      undefined,
      () => void setPreview(null),
    );
  /**
   * Save: the server checks a template first (syntax, then a render for the preview node, or for a node using
   * the overlay) and writes nothing when that fails; the problem is shown beside the editor, the caret put on
   * its line, and "Save anyway" offered for exactly that text.
   */
  const save = (force = false) => {
    const n = node.trim();
    const known = n !== "" && store.nodes.some((x) => x.name === n);
    const sent = text;
    return run(
      async () => {
        const r = await put<SaveAnswer>(`/overlays/${enc(sel!)}/file`, {
          path: file,
          text: sent,
          ...(known ? { node: n } : {}),
          ...(force ? { force: true } : {}),
        });
        setProblem(null);
        setSaved(
          r.problem
            ? {
                cls: "warn",
                text: `Saved ${file} anyway, with the problem above unsolved: nodes ${r.problem.node ? `like ${r.problem.node} ` : ""}cannot build it until it is fixed.`,
              }
            : {
                cls: "ok",
                text: `Saved ${file}${
                  r.checked === "render"
                    ? ` · rendered for ${r.node} without errors`
                    : r.checked === "syntax"
                      ? " · syntax checked (no node uses this overlay yet; choose one under Preview to render it)"
                      : ""
                }`,
              },
        );
        if (r.problem) setProblem({ p: r.problem, text: sent, error: "" });
        // Saving a built-in's file makes a site copy: the list and the tree change with it.
        loadList();
        loadTree(sel!);
        loadLint();
        if (known) await render();
      },
      undefined,
      (x) => {
        setSaved(null);
        const p = x instanceof ApiError && x.status === 422 ? (x.body as { problem?: TemplateProblem } | undefined)?.problem : undefined;
        if (!p) return false;
        setProblem({ p, text: sent, error: (x as Error).message });
        placeCaret(p);
        return true;
      },
    );
  };
  const create = (e: Event) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const name = String(new FormData(form).get("name") ?? "").trim();
    setMsg("");
    if (!OVERLAY_NAME.test(name)) return setNameErr("Use letters, digits, '.', '_', '-' or '+', starting with a letter or digit (at most 128).");
    return run(
      async () => {
        await post("/overlays", { name });
        setNameErr("");
        form.reset();
        await loadList();
        setSel(name);
      },
      `Created overlay ${name}.`,
      (x) => (setNameErr((x as Error).message), true),
    );
  };
  const addFile = (e: Event) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const f = new FormData(form);
    const path = String(f.get("path") ?? "")
      .trim()
      .replace(/^\/+/, "");
    const mode = String(f.get("mode") ?? "").trim() || "644";
    setMsg("");
    if (!path) return setFileErr("Give the file's path inside the overlay, e.g. etc/motd.eta.");
    if (!/^[0-7]{3,4}$/.test(mode)) return setFileErr("The mode is octal, like 644 or 0755.");
    if (tree?.entries.some((x) => x.path === path)) return setFileErr(`${path} already exists in ${sel}; choose it in the tree to edit it.`);
    return run(
      async () => {
        const r = await put<{ written: string }>(`/overlays/${enc(sel!)}/file`, { path, text: "", mode: Number.parseInt(mode, 8) });
        setFileErr("");
        form.reset();
        await Promise.all([loadTree(sel!), loadList()]);
        setFile(r.written);
        return r.written;
      },
      (written) => `Created ${written} in ${sel}.`,
      (x) => (setFileErr((x as Error).message), true),
    );
  };
  /** Asks first (in the page, named nodes and all), then deletes. */
  const openAt = `${sel ?? ""}\0${file ?? ""}`;
  const shown = pending?.at === openAt ? pending : null;
  const confirmDelete = (p: Omit<Pending, "at">) => {
    setMsg("");
    setPending({ ...p, at: openAt });
    setTimeout(() => document.getElementById("confirm-cancel")?.focus(), 0);
  };
  const runPending = () => {
    const p = shown;
    if (!p) return;
    return run(
      async () => {
        await p.run();
        setPending(null);
        loadLint();
      },
      p.done,
      () => void setPending(null),
    );
  };
  const cancelPending = () => setPending(null);
  const deleteOverlay = async (current: OverlayTree) => {
    // Who uses it now, not when the tree was loaded: the confirmation names them.
    const t = await run(async () => {
      const t = await get<OverlayTree>(`/overlays/${enc(current.name)}`);
      setTree(t);
      loadList();
      return t;
    });
    if (!t) return;
    const revert = t.shadows;
    const users = t.userCount ? `${t.users.join(", ")}${t.userCount > t.users.length ? ` and ${t.userCount - t.users.length} more` : ""}` : "";
    confirmDelete({
      title: revert ? `Revert ${t.name} to the built-in?` : `Delete overlay ${t.name}?`,
      lines: revert
        ? [
            `This deletes the site copy of ${t.name} with every change made to it; ${t.userCount ? `${users} then get` : "nodes listing it then get"} ` +
              `the built-in ${t.name} again.`,
          ]
        : t.userCount
          ? [`Still used by ${users}.`, `Their next overlay build fails until ${t.name} is removed from their overlay lists.`]
          : [`No node or profile lists it. Its files are deleted.`],
      action: revert ? "Revert to built-in" : t.userCount ? "Delete anyway" : "Delete",
      // The API refuses to delete an overlay in use unless forced; the admin has just seen who uses it.
      run: async () => {
        await del(`/overlays/${enc(t.name)}${!revert && t.userCount ? "?force=true" : ""}`);
        await loadList();
        if (revert) {
          setFile(null);
          await loadTree(t.name);
        } else setSel(null);
      },
      done: revert ? `${t.name} is the built-in again.` : `Deleted overlay ${t.name}.`,
    });
  };
  const deleteFile = (t: OverlayTree, path: string) =>
    confirmDelete({
      title: `Delete ${path} from ${t.name}?`,
      lines: [
        t.shadows ? `The built-in ${t.name} stays as it is; only this site copy loses the file.` : `The file is gone from every node's next overlay build.`,
      ],
      action: "Delete file",
      run: async () => {
        await del(`/overlays/${enc(t.name)}?path=${enc(path)}`);
        setFile(null);
        await loadTree(t.name);
      },
      done: `Deleted ${path} from ${t.name}.`,
    });
  return {
    list,
    sel,
    setSel,
    tree,
    file,
    setFile,
    text,
    edit,
    node,
    setNode,
    preview,
    lint,
    err,
    msg,
    saved,
    problem,
    nameErr,
    fileErr,
    /** The confirmation to show: the pending deletion, while its overlay and file are still the open ones. */
    shown,
    render,
    save,
    create,
    addFile,
    deleteOverlay,
    deleteFile,
    runPending,
    cancelPending,
  };
}
