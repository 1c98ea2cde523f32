import { type ComponentChildren, h } from "preact";
import { useEffect, useRef } from "preact/hooks";
import htm from "htm";

const html = htm.bind(h);

const FOCUSABLE = 'a[href],button:not([disabled]),input:not([disabled]),select:not([disabled]),textarea:not([disabled]),[tabindex]:not([tabindex="-1"])';
const focusables = (el: HTMLElement) =>
  Array.from(el.querySelectorAll<HTMLElement>(FOCUSABLE)).filter((x) => x.offsetParent !== null || x === document.activeElement);

/** Whether a modal dialog is open (the page's own keyboard shortcuts stand aside then). */
export const dialogOpen = () => document.querySelector("[data-modal]") !== null;

/**
 * A modal dialog: role=dialog (or alertdialog for a confirmation), focus moved in on open ([autofocus] or the
 * first control), Tab and Shift+Tab kept inside, Escape closes, focus back on what opened it when it closes.
 */
export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren; alert?: boolean; id?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const close = useRef(props.onClose);
  close.current = props.onClose;
  const titleId = `${props.id ?? "dialog"}-title`;
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    const el = ref.current!;
    (el.querySelector<HTMLElement>("[autofocus]") ?? focusables(el)[0] ?? el).focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        close.current();
        return;
      }
      if (e.key !== "Tab") return;
      const f = focusables(el);
      if (!f.length) return e.preventDefault();
      const inside = el.contains(document.activeElement);
      if (e.shiftKey && (!inside || document.activeElement === f[0])) {
        e.preventDefault();
        f[f.length - 1]!.focus();
      } else if (!e.shiftKey && (!inside || document.activeElement === f[f.length - 1])) {
        e.preventDefault();
        f[0]!.focus();
      }
    };
    // A click on the page behind must not leave focus out there either.
    const onFocus = (e: FocusEvent) => {
      if (!el.contains(e.target as Node)) (focusables(el)[0] ?? el).focus();
    };
    document.addEventListener("keydown", onKey, true);
    document.addEventListener("focusin", onFocus);
    return () => {
      document.removeEventListener("keydown", onKey, true);
      document.removeEventListener("focusin", onFocus);
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  return html`<div class="modal-back" data-modal>
    <div class="modal card" ref=${ref} role=${props.alert ? "alertdialog" : "dialog"} aria-modal="true" aria-labelledby=${titleId} tabindex="-1" id=${props.id}>
      <h3 id=${titleId}>${props.title}</h3>
      ${props.children}
    </div>
  </div>`;
}

/** "n001, n002, n003 and 17 more" */
export function someNames(names: readonly string[], first = 8): string {
  if (names.length <= first) return names.join(", ");
  return `${names.slice(0, first).join(", ")} and ${names.length - first} more`;
}

/** A confirmation naming what is about to go; the dangerous button says what it does. */
export function ConfirmDialog(props: { title: string; text: string; action: string; onConfirm: () => Promise<void>; onClose: () => void; error?: string }) {
  return html`<${Dialog} title=${props.title} onClose=${props.onClose} alert id="confirm">
    <p id="confirm-text">${props.text}</p>
    ${props.error && html`<p class="error" role="alert">${props.error}</p>`}
    <div class="row"><button class="danger" onClick=${props.onConfirm}>${props.action}</button><button autofocus onClick=${props.onClose}>Cancel</button></div>
  <//>`;
}
