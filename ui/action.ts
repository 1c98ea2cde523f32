import { useState } from "preact/hooks";

/**
 * What a page shows about the requests its buttons and forms make: the error of the last one (for `<Err>`),
 * whether one is running, and what the last one that worked says (a `role=status` line).
 */
export interface Action {
  /** The last action's error; null while one runs and after one that worked (or whose error `handle` took). */
  error: unknown;
  setError: (e: unknown) => void;
  /** An action is running (nested ones count once each). */
  busy: boolean;
  /** What the last action given an `ok` text said when it worked; "" while one runs and after one that failed. */
  message: string;
  setMessage: (m: string) => void;
  /**
   * Runs `fn` as the page's action: clears the error (and, with `ok`, the message), and when `fn` fails shows its
   * error — unless `handle` takes it (shows it beside a field, say) and returns true. Answers `fn`'s result,
   * or undefined when it failed; it never throws.
   */
  run<T>(fn: () => Promise<T>, ok?: string | ((r: T) => string), handle?: (e: unknown) => boolean | void): Promise<T | undefined>;
}

/** The one catch-and-show-the-error of the pages (each had its own try/catch/setErr before). */
export function useAction(): Action {
  const [error, setError] = useState<unknown>(null);
  const [running, setRunning] = useState(0);
  const [message, setMessage] = useState("");
  const run: Action["run"] = async (fn, ok, handle) => {
    setError(null);
    if (ok !== undefined) setMessage("");
    setRunning((n) => n + 1);
    try {
      const r = await fn();
      if (ok !== undefined) setMessage(typeof ok === "function" ? ok(r) : ok);
      return r;
    } catch (x) {
      if (!handle?.(x)) setError(x);
      return undefined;
    } finally {
      setRunning((n) => n - 1);
    }
  };
  return { error, setError, busy: running > 0, message, setMessage, run };
}
