import vm from "node:vm";

/**
 * What keeps an overlay template (JavaScript written by any admin of the web page) from being root on the
 * head node. Templates render only on build threads (build-worker.ts, run by pool.ts), never on the thread
 * that answers DHCP, TFTP and HTTP; a thread that does not come back in time is terminated (pool.ts). On
 * that thread, this module:
 *
 * - **locks the realm** once (lockRealm): the `constructor` of functions, async functions and generators is
 *   removed, so `x.constructor.constructor("return process")()` has no Function to reach; the intrinsics
 *   (Object, Array, String, … and their prototypes, Error with its `prepareStackTrace`) are frozen, so one
 *   template cannot change how another template or a helper behaves (`String.prototype.startsWith = …`);
 * - **compiles a template in a scope without the globals**: the eta function is wrapped in a function whose
 *   parameters are every global name of the realm except a short list of plain-data ones (ALLOWED), so
 *   `process`, `Bun`, `fetch`, `require`, `globalThis`, `self`, `Function`, `eval`, `setTimeout`, `Worker`,
 *   `WebSocket`, `postMessage` … are `undefined` in a template; the code is strict, so `this` in a nested
 *   function is `undefined` rather than the global object, and the template's own `this` is a frozen stub
 *   (eta's instance has `readFile`);
 * - **compiles through `node:vm`**, whose scripts have no dynamic-import callback: `import("node:fs")` in a
 *   template is rejected by the runtime ("A dynamic import callback was not specified"), however it is
 *   spelled;
 * - **runs each render under a time limit** (vm's watchdog interrupts loops, also inside regular
 *   expressions), and bounds what a render may print.
 *
 * What a template can still do is what the helpers give it (build.ts: head-node and image files through
 * it.include/it.includeFrom, with their limits) and the data it is handed.
 */

/** Globals a template may use: plain data and pure functions. Everything else is shadowed. */
const ALLOWED = new Set([
  "undefined",
  "NaN",
  "Infinity",
  "Object",
  "Array",
  "String",
  "Number",
  "Boolean",
  "BigInt",
  "Symbol",
  "Math",
  "JSON",
  "Date",
  "RegExp",
  "Map",
  "Set",
  "Error",
  "TypeError",
  "RangeError",
  "SyntaxError",
  "parseInt",
  "parseFloat",
  "isNaN",
  "isFinite",
  "encodeURIComponent",
  "decodeURIComponent",
  "encodeURI",
  "decodeURI",
]);

/** Intrinsics frozen by lockRealm (constructor and prototype), so no render changes them for the next. */
const FROZEN = [
  Object,
  Array,
  String,
  Number,
  Boolean,
  BigInt,
  Symbol,
  Date,
  RegExp,
  Map,
  Set,
  WeakMap,
  WeakSet,
  Promise,
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  ArrayBuffer,
  DataView,
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
  Uint8ClampedArray,
  BigInt64Array,
  BigUint64Array,
  Function,
];

/** The most a single render may print (its files together). */
export const MAX_OUTPUT = 64 * 1024 * 1024;

let locked = false;
const FunctionCtor = Function;

/** Whether this thread's realm was locked (build threads only). */
export function realmLocked(): boolean {
  return locked;
}

/**
 * Locks this thread's realm for templates. Call once, on a build thread, after its imports ran: code that
 * assigns to an intrinsic's prototype later would fail.
 */
export function lockRealm(): void {
  if (locked) return;
  const fnProtos = [
    Function.prototype,
    Object.getPrototypeOf(async function () {}),
    Object.getPrototypeOf(function* () {}),
    Object.getPrototypeOf(async function* () {}),
  ];
  for (const p of fnProtos) Object.defineProperty(p, "constructor", { value: undefined, writable: false, configurable: false });
  // Indirect eval runs in the global scope, past every shadowed name; nothing on a build thread uses it.
  delete (globalThis as { eval?: unknown }).eval;
  // Error.prepareStackTrace would hand a template call sites; frozen before it can be set.
  for (const C of FROZEN) {
    Object.freeze(C.prototype);
    Object.freeze(C);
  }
  const iterProto = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
  Object.freeze(iterProto);
  Object.freeze(Object.getPrototypeOf(Uint8Array.prototype));
  Object.freeze(Object.getPrototypeOf(Uint8Array));
  Object.freeze(Math);
  Object.freeze(JSON);
  Object.freeze(Reflect);
  locked = true;
}

/** The names a template's scope shadows: every global binding but ALLOWED, computed once per thread. */
let shadowed: string[] | undefined;
function shadowList(): string[] {
  if (shadowed) return shadowed;
  const names = new Set<string>(["globalThis", "self", "global", "window", "Function", "require", "module", "exports", "Bun", "process", "fetch", "import"]);
  for (let o: object | null = globalThis; o && o !== Object.prototype; o = Object.getPrototypeOf(o))
    for (const n of Object.getOwnPropertyNames(o)) names.add(n);
  shadowed = [...names].filter((n) => !ALLOWED.has(n) && /^[A-Za-z_$][\w$]*$/.test(n) && !RESERVED.has(n));
  return shadowed;
}
const RESERVED = new Set([
  "eval",
  "import",
  "arguments",
  "this",
  "new",
  "class",
  "function",
  "default",
  "null",
  "true",
  "false",
  "in",
  "of",
  "let",
  "static",
  "yield",
  "await",
  "enum",
]);

export type TemplateFn = (it: unknown, options: unknown) => string;

/**
 * Compiles eta's function body for a template in a scope without the globals (see the top). `stub` is the
 * template's `this`: what eta's body reads from it (`config.filterFunction`, `RuntimeErr`).
 */
export function compileSandboxed(body: string, stub: object): TemplateFn {
  const names = shadowList();
  // JavaScript's Function constructor parses the body on its own (without running it): code that closes
  // the function early to run at the top level of the wrapper below is a syntax error here.
  new FunctionCtor("it", "options", `"use strict";\n${body}\n`);
  const src = `"use strict"; (function (${names.join(", ")}) { return function (it, options) {\n${body}\n}; })`;
  const factory = vm.runInThisContext(src, { filename: "overlay-template.js" }) as () => (it: unknown, options: unknown) => string;
  const fn = factory();
  const frozen = Object.freeze(stub);
  const opts = Object.freeze({});
  return (it) => fn.call(frozen, it, opts);
}

/** Thrown when a render ran out of time; the caller names the overlay, template and node. */
export class RenderTimeout extends Error {}

/** The pending call for the runner script (a global that templates cannot name: it is shadowed). */
let pending: (() => unknown) | undefined;
let pendingOut: unknown;
const HOOK = "__droverRenderHook";
Object.defineProperty(globalThis, HOOK, {
  value: () => {
    const call = pending;
    pending = undefined;
    if (call) pendingOut = call();
  },
  enumerable: false,
  writable: false,
  configurable: false,
});
let runner: vm.Script | undefined;

/**
 * Runs `call` under vm's watchdog: a loop or a runaway regular expression ends after `ms` (an eta render, and
 * a `.ww` render, whose interpreter counts steps but cannot stop inside one long function call).
 */
export function runLimited<T>(call: () => T, ms: number): T {
  runner ??= new vm.Script(`${HOOK}()`, { filename: "overlay-render.js" });
  pending = call;
  pendingOut = undefined;
  try {
    runner.runInThisContext({ timeout: Math.max(1, Math.round(ms)) });
  } catch (e) {
    if (e instanceof Error && /Script execution timed out/.test(e.message))
      throw new RenderTimeout(`did not finish within ${fmtMs(ms)} and was stopped (an endless loop?)`);
    throw e;
  } finally {
    pending = undefined;
  }
  const out = pendingOut as T;
  pendingOut = undefined;
  return out;
}

export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${+(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}
