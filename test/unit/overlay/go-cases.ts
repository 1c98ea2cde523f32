import { readFileSync } from "node:fs";
import { join, normalize } from "node:path";
import { type Expr, type GoFile, type Stmt, type Type, parseGo } from "./go-source";

/**
 * Reads the cases of a Warewulf overlay test (`overlays/NAME/internal/*_test.go`) from its Go source
 * (go-source.ts) by walking its Test functions statement by statement over a small, closed vocabulary:
 * `testenv.New`, `env.ImportFile`/`env.WriteFile` (the test environment's files, kept in a map),
 * tables of cases (slices and maps of structs), `for … range`, `t.Run`, `show.GetCommand()` /
 * `info.GetCommand()` with `SetArgs`/`Execute`, the `assert` calls and the few `strings`/`regexp`
 * helpers the tests normalise output with, and the file's own functions. Anything outside it makes the
 * case unreadable, with the reason. Running a command is the caller's (`Execute` hands the args and the
 * environment's files to `run`).
 */

export interface CommandResult {
  /** What Warewulf's wwlog would have written. */
  log: string;
  stdout: string;
  stderr: string;
  /** The command's error, if it failed. */
  error?: string;
}

export interface RunContext {
  command: "show" | "info";
  args: string[];
  /** The test environment's files, by path relative to its root (etc/warewulf/nodes.conf, …). */
  files: Map<string, string>;
  /**
   * Warewulf's configuration as the command sees it: the warewulf.conf texts read into it, in order.
   * `testenv.New` and `env.Configure()` start it afresh from the environment's file; `config.Get().Read`
   * reads a file over what is there (Go's YAML decoder keeps the fields the new file does not set).
   */
  warewulfConf: string[];
  hostname: string;
}

export interface Check {
  what: string;
  ok: boolean;
  want?: string;
  got?: string;
}

export interface GoCase {
  file: string;
  test: string;
  name: string;
  /** Upstream skips this test (`t.Skip`): the reason. */
  skippedUpstream?: string;
  /** Why the case could not be read; then `checks` is incomplete. */
  unreadable?: string;
  args?: string[];
  command?: "show" | "info";
  checks: Check[];
}

export interface GoFileCases {
  file: string;
  /** Cases in the file's tables (what a reader should find). */
  found: number;
  cases: GoCase[];
  /** A test function that could not be walked to its cases, and why. */
  problems: string[];
}

class Unreadable extends Error {}
class Return {
  constructor(readonly values: Value[]) {}
}

type Native = { native: string; [k: string]: unknown };
type GoMap = { map: true; entries: [Value, Value][] };
type Fn = { fn: (args: Value[]) => Value };
type Tuple = { tuple: Value[] };
type Struct = { struct: Map<string, Value> };
type Value = string | number | boolean | null | Value[] | GoMap | Fn | Tuple | Struct | Native | RegExp;

const isObj = (v: Value): v is Exclude<Value, string | number | boolean | null> => typeof v === "object" && v !== null;
const fn = (f: (args: Value[]) => Value): Fn => ({ fn: f });
const isMap = (v: Value): v is GoMap => isObj(v) && "map" in v && (v as GoMap).map === true;
const isFn = (v: Value): v is Fn => isObj(v) && "fn" in v && typeof (v as Fn).fn === "function";
const isStruct = (v: Value): v is Struct => isObj(v) && "struct" in v && (v as Struct).struct instanceof Map;
const str = (v: Value, what: string): string => {
  if (typeof v !== "string") throw new Unreadable(`${what}: expected a string`);
  return v;
};

class Scope {
  private vars = new Map<string, Value>();
  constructor(private parent?: Scope) {}
  get(name: string): Value | undefined {
    if (this.vars.has(name)) return this.vars.get(name)!;
    return this.parent?.get(name);
  }
  has(name: string): boolean {
    return this.vars.has(name) || !!this.parent?.has(name);
  }
  define(name: string, v: Value) {
    if (name !== "_") this.vars.set(name, v);
  }
  set(name: string, v: Value) {
    if (name === "_") return;
    if (this.vars.has(name)) this.vars.set(name, v);
    else if (this.parent?.has(name)) this.parent.set(name, v);
    else throw new Unreadable(`assignment to undeclared ${name}`);
  }
}

/** Cases of one test file; `initFiles` are testenv's starting files (nodes.conf, warewulf.conf). */
export function readGoCases(
  path: string,
  rel: string,
  initFiles: Map<string, string>,
  run: (ctx: RunContext) => CommandResult,
  hostname = "wwtest-host",
): GoFileCases {
  const dir = join(path, "..");
  const out: GoFileCases = { file: rel, found: 0, cases: [], problems: [] };
  let go: GoFile;
  try {
    go = parseGo(readFileSync(path, "utf8"));
  } catch (e) {
    out.problems.push(`${rel}: not parsed: ${(e as Error).message}`);
    return out;
  }
  const consts = new Map<string, Value>();
  let logWriter: Native | undefined;
  let current: GoCase | undefined;
  let skipped: string | undefined;
  let testName = "";

  const buffer = (init = ""): Native => {
    const b: Native = { native: "buffer", text: init };
    b.String = fn(() => b.text as string);
    b.WriteString = fn(([s]) => {
      b.text = (b.text as string) + str(s!, "WriteString");
      return null;
    });
    return b;
  };

  const environment = (): Native => {
    const files = new Map(initFiles);
    const e: Native = { native: "env", files };
    const key = (p: Value) => normalize(str(p, "path")).replace(/^\/+/, "");
    e.ImportFile = fn(([dst, src]) => {
      const from = join(dir, str(src!, "ImportFile"));
      let text: string;
      try {
        text = readFileSync(from, "utf8");
      } catch {
        throw new Unreadable(`ImportFile ${JSON.stringify(src)}: no such file beside the test`);
      }
      files.set(key(dst!), text);
      return null;
    });
    e.WriteFile = fn(([dst, text]) => {
      files.set(key(dst!), str(text!, "WriteFile"));
      return null;
    });
    e.GetPath = fn(([p]) => `/ENV/${key(p!)}`);
    e.Configure = fn(() => {
      config = [files.get("etc/warewulf/warewulf.conf") ?? ""];
      return null;
    });
    for (const m of ["RemoveAll", "MkdirAll"]) e[m] = fn(() => null);
    return e;
  };

  const command = (kind: "show" | "info"): Native => {
    const c: Native = { native: "cmd", args: [] as string[] };
    let outBuf: Native | undefined;
    let errBuf: Native | undefined;
    c.SetArgs = fn(([a]) => {
      if (!Array.isArray(a) || !a.every((x) => typeof x === "string")) throw new Unreadable("SetArgs: expected []string");
      c.args = a;
      return null;
    });
    c.SetOut = fn(([b]) => ((outBuf = b as Native), null));
    c.SetErr = fn(([b]) => ((errBuf = b as Native), null));
    c.Execute = fn(() => {
      if (!current) throw new Unreadable("Execute outside t.Run");
      if (!currentEnv) throw new Unreadable("Execute without a test environment");
      current.args = c.args as string[];
      current.command = kind;
      const r = run({ command: kind, args: c.args as string[], files: currentEnv.files as Map<string, string>, warewulfConf: [...config], hostname });
      if (logWriter) logWriter.text = (logWriter.text as string) + r.log;
      if (outBuf) outBuf.text = (outBuf.text as string) + r.stdout;
      if (errBuf) errBuf.text = (errBuf.text as string) + r.stderr;
      return r.error === undefined ? null : ({ native: "error", message: r.error } as Native);
    });
    return c;
  };
  let currentEnv: Native | undefined;
  let config: string[] = [];

  const check = (what: string, ok: boolean, want?: Value, got?: Value) => {
    // Before the cases (setting the environment up): it must hold, or no case is read.
    if (!current) {
      if (!ok) throw new Unreadable(`${what} failed while setting up: ${show(got ?? null)}`);
      return null;
    }
    current.checks.push({ what, ok, ...(typeof want === "string" ? { want } : {}), ...(typeof got === "string" ? { got } : {}) });
    return null;
  };
  const show = (v: Value): string =>
    v === null ? "nil" : typeof v === "string" ? v : isObj(v) && "native" in v && v.native === "error" ? `error: ${v.message}` : JSON.stringify(v);
  const jsonEq = (a: string, b: string) => {
    try {
      return deepEq(JSON.parse(a), JSON.parse(b));
    } catch {
      return false;
    }
  };

  const t: Native = { native: "t" };
  t.Helper = fn(() => null);
  t.Parallel = fn(() => null);
  t.Skip = fn((a) => {
    skipped = a.map((x) => show(x)).join(" ");
    return null;
  });
  t.Run = fn(([name, body]) => {
    const c: GoCase = { file: rel, test: testName, name: str(name!, "t.Run name"), checks: [], ...(skipped ? { skippedUpstream: skipped } : {}) };
    const before = current;
    current = c;
    try {
      call(body!, [t]);
      if (c.checks.length === 0) c.unreadable = "no assertion on the output was read";
    } catch (e) {
      if (e instanceof Unreadable) c.unreadable = e.message;
      else throw e;
    } finally {
      current = before;
    }
    out.cases.push(c);
    return true;
  });

  const packages: Record<string, Record<string, Value>> = {
    testenv: {
      New: fn(() => {
        currentEnv = environment();
        call(currentEnv.Configure as Value, []);
        return currentEnv;
      }),
    },
    bytes: { NewBufferString: fn(([s]) => buffer(str(s!, "NewBufferString"))) },
    show: { GetCommand: fn(() => command("show")) },
    info: { GetCommand: fn(() => command("info")) },
    wwlog: { SetLogWriter: fn(([b]) => ((logWriter = b as Native), null)) },
    os: { Hostname: fn(() => ({ tuple: [hostname, null] })) },
    config: {
      Get: fn(
        () =>
          ({
            native: "config",
            Read: fn(([p]) => {
              const m = /^\/ENV\/(.*)$/.exec(str(p!, "config Read"));
              const text = m ? (currentEnv?.files as Map<string, string> | undefined)?.get(m[1]!) : undefined;
              if (text === undefined) throw new Unreadable(`config.Get().Read(${JSON.stringify(p)}): not a file of the test environment`);
              config.push(text);
              return null;
            }),
          }) as Native,
      ),
    },
    regexp: {
      MustCompile: fn(([s]) => {
        let re = str(s!, "MustCompile");
        let flags = "g";
        const m = /^\(\?([ims]+)\)/.exec(re);
        if (m) {
          re = re.slice(m[0].length);
          flags += m[1];
        }
        const r = new RegExp(re.replace(/\(\?P</g, "(?<"), flags);
        return {
          native: "regexp",
          ReplaceAllString: fn(([x, repl]) => str(x!, "ReplaceAllString").replace(r, str(repl!, "ReplaceAllString").replace(/\$\{(\w+)\}/g, "$$$1"))),
        } as Native;
      }),
    },
    strings: {
      ReplaceAll: fn(([s, a, b]) => str(s!, "ReplaceAll").split(str(a!, "ReplaceAll")).join(str(b!, "ReplaceAll"))),
      Contains: fn(([s, a]) => str(s!, "Contains").includes(str(a!, "Contains"))),
      HasPrefix: fn(([s, a]) => str(s!, "HasPrefix").startsWith(str(a!, "HasPrefix"))),
      HasSuffix: fn(([s, a]) => str(s!, "HasSuffix").endsWith(str(a!, "HasSuffix"))),
      TrimSpace: fn(([s]) => str(s!, "TrimSpace").trim()),
      TrimPrefix: fn(([s, a]) => (str(s!, "TrimPrefix").startsWith(str(a!, "")) ? (s as string).slice((a as string).length) : (s as string))),
      TrimSuffix: fn(([s, a]) =>
        str(s!, "TrimSuffix").endsWith(str(a!, "")) && (a as string) !== "" ? (s as string).slice(0, -(a as string).length) : (s as string),
      ),
      Split: fn(([s, a]) => str(s!, "Split").split(str(a!, "Split"))),
      Join: fn(([s, a]) => (s as string[]).join(str(a!, "Join"))),
      SplitAfter: fn(([s, a]) => {
        const x = str(s!, "SplitAfter");
        const sep = str(a!, "SplitAfter");
        const parts = x.split(sep);
        return parts.map((p, k) => (k < parts.length - 1 ? p + sep : p));
      }),
    },
    assert: {
      NoError: fn(([, e]) => check("NoError", e === null, "nil", show(e!))),
      Error: fn(([, e]) => check("Error", e !== null)),
      Equal: fn(([, want, got]) => check("Equal", deepEq(want, got), show(want!), show(got!))),
      JSONEq: fn(([, want, got]) => check("JSONEq", jsonEq(str(want!, "JSONEq"), str(got!, "JSONEq")), want, got)),
      Empty: fn(([, v]) => check("Empty", v === "" || v === null || (Array.isArray(v) && v.length === 0), "", show(v!))),
      Contains: fn(([, s, sub]) => check("Contains", str(s!, "Contains").includes(str(sub!, "Contains")), sub, s)),
    },
  };
  const builtins: Record<string, Value> = {
    len: fn(([x]) => (typeof x === "string" || Array.isArray(x) ? x.length : isMap(x!) ? x.entries.length : 0)),
    append: fn(([s, ...xs]) => [...((s as Value[]) ?? []), ...xs]),
    "[:]": fn(([x, i, j]) => (x as string).slice(i as number, j as number | undefined)),
  };

  function constant(name: string): Value | undefined {
    if (consts.has(name)) return consts.get(name);
    const e = go.consts.get(name);
    if (!e) return undefined;
    const v = evalExpr(e, new Scope());
    consts.set(name, v);
    return v;
  }

  function call(f: Value, args: Value[]): Value {
    if (isFn(f)) return f.fn(args);
    throw new Unreadable("call of a non-function");
  }

  function zeroOf(t: Type | undefined): Value {
    if (!t) return null;
    if (t.t === "name") return t.name === "string" ? "" : t.name === "bool" ? false : ["int", "int64", "uint"].includes(t.name) ? 0 : null;
    if (t.t === "slice") return [];
    return null;
  }

  function lit(e: Extract<Expr, { e: "lit" }>, t: Type | undefined, scope: Scope): Value {
    const ty = e.type ?? t;
    if (!ty) throw new Unreadable(`line ${e.line}: a composite literal of unknown type`);
    if (ty.t === "slice") return e.elems.map((x) => (x.value.e === "lit" ? lit(x.value, ty.of, scope) : evalExpr(x.value, scope)));
    if (ty.t === "map")
      return {
        map: true,
        entries: e.elems.map((x) => [evalExpr(x.key!, scope), x.value.e === "lit" ? lit(x.value, ty.of, scope) : evalExpr(x.value, scope)] as [Value, Value]),
      };
    if (ty.t === "struct") {
      const m = new Map<string, Value>(ty.fields.map((f, k) => [f, zeroOf(ty.types[k])]));
      e.elems.forEach((x, k) => {
        const name = x.key ? (x.key.e === "id" ? x.key.name : "") : ty.fields[k];
        if (!name || !m.has(name)) throw new Unreadable(`line ${e.line}: unknown field in a case`);
        m.set(name, x.value.e === "lit" ? lit(x.value, undefined, scope) : evalExpr(x.value, scope));
      });
      return { struct: m };
    }
    throw new Unreadable(`line ${e.line}: a composite literal of type ${ty.t === "name" ? ty.name : ty.t}`);
  }

  function evalExpr(e: Expr, scope: Scope): Value {
    switch (e.e) {
      case "str":
        return e.v;
      case "num":
        return Number(e.v);
      case "id": {
        if (e.name === "true" || e.name === "false") return e.name === "true";
        if (e.name === "nil") return null;
        if (scope.has(e.name)) return scope.get(e.name)!;
        const v = constant(e.name);
        if (v !== undefined) return v;
        if (e.name in builtins) return builtins[e.name]!;
        if (e.name.startsWith(".(")) return fn(([x]) => x!);
        const f = go.funcs.get(e.name);
        if (f)
          return fn((args) => {
            const s = new Scope(globals);
            f.params.forEach((p, k) => s.define(p, args[k] ?? null));
            for (const r of f.results) s.define(r, "");
            try {
              exec(f.body, s);
            } catch (x) {
              if (x instanceof Return)
                return x.values.length === 1 ? x.values[0]! : x.values.length === 0 && f.results.length === 1 ? s.get(f.results[0]!)! : { tuple: x.values };
              throw x;
            }
            return f.results.length === 1 ? s.get(f.results[0]!)! : null;
          });
        throw new Unreadable(`line ${e.line}: ${e.name} is not known to the reader`);
      }
      case "sel": {
        if (e.x.e === "id" && !scope.has(e.x.name) && !go.consts.has(e.x.name)) {
          const pkg = packages[e.x.name];
          const v = pkg?.[e.name];
          if (v === undefined) throw new Unreadable(`line ${e.line}: ${e.x.name}.${e.name} is not known to the reader`);
          return v;
        }
        const x = evalExpr(e.x, scope);
        if (isStruct(x)) {
          if (!x.struct.has(e.name)) throw new Unreadable(`line ${e.line}: no field ${e.name}`);
          return x.struct.get(e.name)!;
        }
        if (isObj(x) && "native" in x) {
          const v = x[e.name] as Value | undefined;
          if (v === undefined) throw new Unreadable(`line ${e.line}: ${x.native}.${e.name} is not known to the reader`);
          return v;
        }
        throw new Unreadable(`line ${e.line}: .${e.name} of a ${typeof x}`);
      }
      case "call": {
        const f = evalExpr(e.fn, scope);
        const args = e.args.map((a) => evalExpr(a, scope));
        return call(f, args);
      }
      case "index": {
        const x = evalExpr(e.x, scope);
        const i = evalExpr(e.i, scope);
        if (Array.isArray(x) || typeof x === "string") return x[i as number] ?? null;
        if (isMap(x)) return x.entries.find(([k]) => k === i)?.[1] ?? null;
        throw new Unreadable(`line ${e.line}: index of a ${typeof x}`);
      }
      case "unary": {
        const x = evalExpr(e.x, scope);
        if (e.op === "!") return !x;
        if (e.op === "-") return -(x as number);
        return x;
      }
      case "bin": {
        if (e.op === "&&") return !!evalExpr(e.a, scope) && !!evalExpr(e.b, scope);
        if (e.op === "||") return !!evalExpr(e.a, scope) || !!evalExpr(e.b, scope);
        const a = evalExpr(e.a, scope);
        const b = evalExpr(e.b, scope);
        switch (e.op) {
          case "+":
            return (a as number) + (b as number);
          case "-":
            return (a as number) - (b as number);
          case "==":
            return deepEq(a, b);
          case "!=":
            return !deepEq(a, b);
          case "<":
            return (a as number) < (b as number);
          case ">":
            return (a as number) > (b as number);
          case "<=":
            return (a as number) <= (b as number);
          case ">=":
            return (a as number) >= (b as number);
        }
        throw new Unreadable(`line ${e.line}: operator ${e.op}`);
      }
      case "lit":
        return lit(e, undefined, scope);
      case "func":
        return fn((args) => {
          const s = new Scope(scope);
          e.params.forEach((p, k) => s.define(p, args[k] ?? null));
          try {
            exec(e.body, s);
          } catch (x) {
            if (x instanceof Return) return x.values[0] ?? null;
            throw x;
          }
          return null;
        });
    }
  }

  function assign(target: Expr, v: Value, define: boolean, scope: Scope) {
    if (target.e !== "id") throw new Unreadable(`line ${target.line}: assignment to an expression`);
    if (define && !scope.has(target.name)) scope.define(target.name, v);
    else if (define) scope.define(target.name, v);
    else scope.set(target.name, v);
  }

  function exec(body: Stmt[], scope: Scope) {
    for (const s of body) {
      switch (s.s) {
        case "expr":
          evalExpr(s.x, scope);
          break;
        case "defer":
          break; // env.RemoveAll() and the like: nothing to undo in a map.
        case "var":
          s.names.forEach((n, k) => scope.define(n, s.values[k] ? evalExpr(s.values[k]!, scope) : zeroOf({ t: "name", name: "string" })));
          break;
        case "assign": {
          const vals = s.rhs.map((r) => evalExpr(r, scope));
          const flat = vals.length === 1 && isObj(vals[0]!) && "tuple" in (vals[0] as object) ? (vals[0] as Tuple).tuple : vals;
          if (s.op === "+=" || s.op === "-=") {
            const t0 = s.lhs[0]!;
            const old = evalExpr(t0, scope);
            assign(t0, s.op === "+=" ? (old as number) + (flat[0] as number) : (old as number) - (flat[0] as number), false, scope);
            break;
          }
          if (flat.length !== s.lhs.length) throw new Unreadable(`line ${s.line}: ${s.lhs.length} names, ${flat.length} values`);
          s.lhs.forEach((l, k) => assign(l, flat[k]!, s.op === ":=", scope));
          break;
        }
        case "if": {
          const inner = new Scope(scope);
          if (s.init) exec([s.init], inner);
          if (evalExpr(s.cond, inner)) exec(s.then, new Scope(inner));
          else if (s.else) exec(s.else, new Scope(inner));
          break;
        }
        case "range": {
          const x = evalExpr(s.x, scope);
          const items: [Value, Value][] = Array.isArray(x)
            ? x.map((v, k) => [k, v])
            : isMap(x)
              ? x.entries
              : typeof x === "string"
                ? [...x].map((c, k) => [k, c])
                : [];
          if (!Array.isArray(x) && !isMap(x) && typeof x !== "string") throw new Unreadable(`line ${s.line}: range over a ${typeof x}`);
          for (const [k, v] of items) {
            const inner = new Scope(scope);
            if (s.key) inner.define(s.key, k);
            if (s.value) inner.define(s.value, v);
            exec(s.body, inner);
          }
          break;
        }
        case "block":
          exec(s.body, new Scope(scope));
          break;
        case "return":
          throw new Return(s.values.map((v) => evalExpr(v, scope)));
      }
    }
  }

  const globals = new Scope();
  for (const [name, f] of go.funcs) {
    if (!name.startsWith("Test")) continue;
    out.found += countCases(f.body);
    testName = name;
    skipped = undefined;
    currentEnv = undefined;
    config = [];
    logWriter = undefined;
    const before = out.cases.length;
    const scope = new Scope(globals);
    scope.define(f.params[0] ?? "t", t);
    try {
      exec(f.body, scope);
    } catch (e) {
      if (!(e instanceof Unreadable)) throw e;
      out.problems.push(`${rel} ${name}: ${e.message} (after ${out.cases.length - before} cases)`);
    }
  }
  return out;
}

/** The cases a test function's tables hold: the elements of its slice and map literals of structs. */
function countCases(body: Stmt[]): number {
  let n = 0;
  const seeExpr = (e: Expr | undefined): void => {
    if (!e) return;
    if (e.e === "lit") {
      if (e.type && (e.type.t === "slice" || e.type.t === "map") && e.type.of.t === "struct") n += e.elems.length;
      for (const x of e.elems) seeExpr(x.value);
    } else if (e.e === "call") {
      seeExpr(e.fn);
      e.args.forEach(seeExpr);
    } else if (e.e === "func") seeStmts(e.body);
  };
  const seeStmts = (ss: Stmt[]): void => {
    for (const s of ss) {
      if (s.s === "assign") s.rhs.forEach(seeExpr);
      else if (s.s === "expr" || s.s === "defer") seeExpr(s.x);
      else if (s.s === "var") s.values.forEach(seeExpr);
      else if (s.s === "if") {
        seeStmts(s.then);
        if (s.else) seeStmts(s.else);
      } else if (s.s === "range" || s.s === "block") seeStmts(s.body);
    }
  };
  seeStmts(body);
  return n;
}

function deepEq(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => deepEq((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** testenv's starting files, read from its Go source (`initNodesConf`, `initWarewulfConf`). */
export function testenvFiles(testenvGo: string): Map<string, string> {
  const go = parseGo(testenvGo);
  const get = (name: string) => {
    const e = go.consts.get(name);
    if (!e || e.e !== "str") throw new Error(`testenv.go: no string constant ${name}`);
    return e.v;
  };
  return new Map([
    ["etc/warewulf/nodes.conf", get("initNodesConf")],
    ["etc/warewulf/warewulf.conf", get("initWarewulfConf")],
  ]);
}
