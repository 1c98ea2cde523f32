import { type Arg, type Budget, type Cmd, GoTemplateError, type Node, type Pipe, type Trees } from "./parse";
import { GoError, NO_VALUE, formatV, isStruct, sortedKeys, truth, typeName } from "./values";

/**
 * The executor of Go's text/template, an interpreter over parse.ts's trees. Safe by construction: a
 * template reaches nothing but its data and the functions it is given (no property of a JavaScript value
 * other than a data object's own fields is ever read, nothing is ever called but those functions and the
 * data's methods), and every run has a budget: executed steps, output bytes, template-call depth and a
 * deadline, so an endless `range` over a huge int or a recursive `{{template}}` ends with an error. A
 * function's string result counts against the output budget too, so a value doubled in a loop
 * (`$s = cat $s $s`) stops at that size rather than when memory runs out.
 */

/** What a function parameter accepts (Go's static types, reduced): `value` also sees NO_VALUE. */
export type Kind = "any" | "value" | "string" | "int" | "float" | "bool" | "list" | "map";

export interface FuncDef {
  // biome-ignore lint/suspicious/noExplicitAny: functions take Go values of any shape
  fn: (...args: any[]) => unknown;
  /** Fixed parameters (default: none). */
  params?: Kind[];
  /** The kind of further arguments; without it the function takes exactly `params`. */
  variadic?: Kind;
  /** `and`/`or`: arguments evaluated one by one, stopping at the first that decides. */
  lazy?: "and" | "or";
}

export type FuncMap = Map<string, FuncDef>;

/** Thrown by a function to end the run without it being an error of the template (Warewulf's abort). */
export class Halt extends Error {}

export interface Writer {
  write(s: string): void;
}

export interface ExecOptions {
  funcs: FuncMap;
  /** Most steps (nodes walked, commands run) a run may take. */
  maxSteps?: number;
  /** Most bytes (UTF-16 units) a run may write. */
  maxOutput?: number;
  /** Most nested {{template}} calls. */
  maxDepth?: number;
  /** Date.now() after which the run stops. */
  deadline?: number;
  /** Errors of the functions that are passed on as they are (not made "error calling NAME: …"). */
  rethrow?: (e: unknown) => boolean;
  /** Told each time `<no value>` is printed (a missing map key), with the template, line and action. */
  onNoValue?: (template: string, line: number, src: string) => void;
}

const MISSING: unique symbol = Symbol("missing");
type Final = unknown | typeof MISSING;

const BREAK = { signal: "break" };
const CONTINUE = { signal: "continue" };

class Failure extends Error {
  constructor(
    message: string,
    readonly budget?: Budget,
  ) {
    super(message);
  }
}

interface Var {
  name: string;
  value: unknown;
}

export const DEFAULT_LIMITS = { maxSteps: 5_000_000, maxOutput: 64 * 1024 * 1024, maxDepth: 1000 };

/** Executes template `name` of `trees` with `data` as dot, writing to `w`. Throws GoTemplateError. */
export function execute(trees: Trees, name: string, data: unknown, w: Writer, opts: ExecOptions): void {
  const root = trees.get(name);
  if (!root) throw new GoTemplateError(`template: no template ${JSON.stringify(name)} associated with template ${JSON.stringify(name)}`, name, 0);
  new State(trees, name, w, opts).run(root, data);
}

class State {
  private vars: Var[] = [];
  private steps = 0;
  private written = 0;
  private depth = 0;
  private line = 0;
  private src = "";
  private readonly maxSteps: number;
  private readonly maxOutput: number;
  private readonly maxDepth: number;

  constructor(
    private readonly trees: Trees,
    private tmpl: string,
    private readonly w: Writer,
    private readonly opts: ExecOptions,
  ) {
    this.maxSteps = opts.maxSteps ?? DEFAULT_LIMITS.maxSteps;
    this.maxOutput = opts.maxOutput ?? DEFAULT_LIMITS.maxOutput;
    this.maxDepth = opts.maxDepth ?? DEFAULT_LIMITS.maxDepth;
  }

  run(list: Node[], data: unknown): void {
    this.vars = [{ name: "$", value: data }];
    try {
      this.walkList(data, list);
    } catch (e) {
      throw this.wrap(e);
    }
  }

  private wrap(e: unknown): unknown {
    if (e instanceof Failure)
      return new GoTemplateError(
        `template: ${this.tmpl}:${this.line}: executing ${JSON.stringify(this.tmpl)} at <${this.src}>: ${e.message}`,
        this.tmpl,
        this.line,
        e.budget,
      );
    if (e === BREAK || e === CONTINUE)
      return new GoTemplateError(`template: ${this.tmpl}:${this.line}: {{${(e as typeof BREAK).signal}}} outside {{range}}`, this.tmpl, this.line);
    return e;
  }

  private fail(msg: string, budget?: Budget): never {
    throw new Failure(msg, budget);
  }

  private step(): void {
    if (++this.steps > this.maxSteps) this.fail(`the template ran more than ${this.maxSteps} steps (an endless range or recursion?)`, "steps");
    if ((this.steps & 4095) === 0 && this.opts.deadline !== undefined && Date.now() > this.opts.deadline) this.fail("the template ran out of time", "time");
  }

  private write(s: string): void {
    if (!s) return;
    this.written += s.length;
    if (this.written > this.maxOutput) this.fail(`the output is larger than ${this.maxOutput} bytes, the most one template may write`, "output");
    this.w.write(s);
  }

  private at(line: number, src: string): void {
    this.line = line;
    this.src = src;
  }

  // ---- variables ----

  private mark(): number {
    return this.vars.length;
  }

  private pop(mark: number): void {
    this.vars.length = mark;
  }

  private push(name: string, value: unknown): void {
    this.vars.push({ name, value });
  }

  private setTopVar(n: number, value: unknown): void {
    this.vars[this.vars.length - n]!.value = value;
  }

  private setVar(name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--)
      if (this.vars[i]!.name === name) {
        this.vars[i]!.value = value;
        return;
      }
    this.fail(`undefined variable: ${name}`);
  }

  private varValue(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    return this.fail(`undefined variable: ${name}`);
  }

  // ---- walking ----

  private walkList(dot: unknown, list: Node[]): void {
    for (const n of list) this.walk(dot, n);
  }

  private walk(dot: unknown, n: Node): void {
    this.step();
    switch (n.k) {
      case "text":
        this.write(n.text);
        return;
      case "action": {
        const v = this.evalPipeline(dot, n.pipe);
        if (n.pipe.decl.length === 0) this.printValue(n.pipe, v);
        return;
      }
      case "if":
      case "with": {
        const mark = this.mark();
        const v = this.evalPipeline(dot, n.pipe);
        if (truth(v)) this.walkList(n.k === "with" ? v : dot, n.list);
        else if (n.elseList) this.walkList(dot, n.elseList);
        this.pop(mark);
        return;
      }
      case "range":
        this.walkRange(dot, n);
        return;
      case "template": {
        this.at(n.line, n.src);
        const t = this.trees.get(n.name);
        if (!t) this.fail(`template ${JSON.stringify(n.name)} not defined`);
        if (++this.depth > this.maxDepth) this.fail(`exceeded maximum template depth (${this.maxDepth})`, "depth");
        const newDot = n.pipe ? this.evalPipeline(dot, n.pipe) : null;
        const saved = { vars: this.vars, tmpl: this.tmpl };
        this.vars = [{ name: "$", value: newDot }];
        this.tmpl = n.name;
        try {
          this.walkList(newDot, t!);
        } catch (e) {
          // Errors are reported in the called template's name and line: wrap before restoring.
          throw this.wrap(e);
        }
        this.vars = saved.vars;
        this.tmpl = saved.tmpl;
        this.depth--;
        return;
      }
      case "break":
        throw BREAK;
      case "continue":
        throw CONTINUE;
    }
  }

  private walkRange(dot: unknown, n: Extract<Node, { k: "if" | "with" | "range" }>): void {
    const mark = this.mark();
    const val = this.evalPipeline(dot, n.pipe);
    const decl = n.pipe.decl;
    const one = (index: unknown, elem: unknown): boolean => {
      if (decl.length > 0) {
        if (n.pipe.isAssign) this.setVar(decl[0]!, decl.length > 1 ? index : elem);
        else this.setTopVar(1, elem);
      }
      if (decl.length > 1) {
        if (n.pipe.isAssign) this.setVar(decl[1]!, elem);
        else this.setTopVar(2, index);
      }
      const m = this.mark();
      try {
        this.walkList(elem, n.list);
      } catch (e) {
        if (e === BREAK) return false;
        if (e !== CONTINUE) throw e;
      } finally {
        this.pop(m);
      }
      return true;
    };
    let any = false;
    if (Array.isArray(val)) {
      for (let i = 0; i < val.length; i++) {
        any = true;
        this.step();
        if (!one(i, val[i] === undefined ? null : val[i])) break;
      }
    } else if (val instanceof Map) {
      for (const k of sortedKeys(val)) {
        any = true;
        this.step();
        if (!one(k, val.get(k))) break;
      }
    } else if (typeof val === "number" && Number.isInteger(val)) {
      if (decl.length > 1) this.fail(`can't use ${val} to iterate over more than one variable`);
      for (let i = 0; i < val; i++) {
        any = true;
        this.step();
        if (!one(i, i)) break;
      }
    } else if (val === NO_VALUE || val === null || val === undefined) {
      // nothing to iterate: the else branch
    } else this.fail(`range can't iterate over ${formatV(val)}`);
    if (!any && n.elseList) this.walkList(dot, n.elseList);
    this.pop(mark);
  }

  private printValue(pipe: Pipe, v: unknown): void {
    this.at(pipe.line, pipe.src);
    if (v === NO_VALUE || v === undefined) {
      this.opts.onNoValue?.(this.tmpl, pipe.line, pipe.src);
      this.write("<no value>");
      return;
    }
    if (typeof v === "function") this.fail(`can't print ${pipe.src} of type func`);
    this.write(formatV(v));
  }

  // ---- evaluation ----

  private evalPipeline(dot: unknown, pipe: Pipe): unknown {
    this.at(pipe.line, pipe.src);
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    if (value === MISSING) value = NO_VALUE;
    for (const v of pipe.decl) {
      if (pipe.isAssign) this.setVar(v, value);
      else this.push(v, value);
    }
    return value;
  }

  private evalCommand(dot: unknown, cmd: Cmd, final: Final): unknown {
    this.step();
    this.at(cmd.line, cmd.src);
    const first = cmd.args[0]!;
    switch (first.k) {
      case "field":
        return this.evalFieldChain(dot, dot, first.names, cmd.args, final);
      case "chain": {
        if (first.node.k === "nil") this.fail("indirection through explicit nil");
        const recv = this.evalArg(dot, "value", first.node);
        return this.evalFieldChain(dot, recv, first.names, cmd.args, final);
      }
      case "ident":
        return this.evalFunction(dot, first.name, cmd.args, final);
      case "variable":
        if (first.names.length === 0) {
          this.notAFunction(cmd.args, final);
          return this.varValue(first.name);
        }
        return this.evalFieldChain(dot, this.varValue(first.name), first.names, cmd.args, final);
      case "pipe":
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first.pipe);
    }
    this.notAFunction(cmd.args, final);
    switch (first.k) {
      case "dot":
        return dot;
      case "bool":
      case "number":
      case "string":
        return first.value;
      case "nil":
        return this.fail("nil is not a command");
    }
  }

  private notAFunction(args: Arg[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.fail(`can't give argument to non-function ${args[0]!.src}`);
  }

  private evalFieldChain(dot: unknown, receiver: unknown, names: string[], args: Arg[], final: Final): unknown {
    let r = receiver;
    for (let i = 0; i < names.length - 1; i++) r = this.evalField(dot, names[i]!, [args[0]!], MISSING, r);
    return this.evalField(dot, names[names.length - 1]!, args, final, r);
  }

  private evalField(dot: unknown, name: string, args: Arg[], final: Final, receiver: unknown): unknown {
    const hasArgs = args.length > 1 || final !== MISSING;
    if (receiver === NO_VALUE || receiver === undefined) return NO_VALUE;
    if (receiver === null) return this.fail(`nil pointer evaluating interface {}.${name}`);
    if (receiver instanceof Map) {
      if (hasArgs) this.fail(`${name} is not a method but has arguments`);
      return receiver.has(name) ? norm(receiver.get(name)) : NO_VALUE;
    }
    if (isStruct(receiver) && Object.hasOwn(receiver, name)) {
      const v = receiver[name];
      if (typeof v === "function") return this.evalCall(dot, { fn: v as FuncDef["fn"], variadic: "any" }, name, args.slice(1), final, receiver);
      if (hasArgs) this.fail(`${name} has arguments but cannot be invoked as function`);
      return norm(v);
    }
    return this.fail(`can't evaluate field ${name} in type ${typeName(receiver)}`);
  }

  private evalFunction(dot: unknown, name: string, args: Arg[], final: Final): unknown {
    const def = this.opts.funcs.get(name);
    if (!def) return this.fail(`${JSON.stringify(name)} is not a defined function`);
    return this.evalCall(dot, def, name, args.slice(1), final);
  }

  private evalCall(dot: unknown, def: FuncDef, name: string, args: Arg[], final: Final, self?: unknown): unknown {
    const params = def.params ?? [];
    const numIn = args.length + (final !== MISSING ? 1 : 0);
    if (def.variadic) {
      if (numIn < params.length) this.fail(`wrong number of args for ${name}: want at least ${params.length} got ${numIn}`);
    } else if (numIn !== params.length) this.fail(`wrong number of args for ${name}: want ${params.length} got ${numIn}`);
    const kindAt = (i: number): Kind => (i < params.length ? params[i]! : def.variadic!);
    if (def.lazy) {
      let v: unknown = NO_VALUE;
      for (const a of args) {
        v = this.evalArg(dot, "value", a);
        if (truth(v) === (def.lazy === "or")) return v;
      }
      if (final !== MISSING) v = final;
      return v;
    }
    const argv = args.map((a, i) => this.evalArg(dot, kindAt(i), a));
    if (final !== MISSING) argv.push(this.validate(final, kindAt(numIn - 1)));
    let out: unknown;
    try {
      out = def.fn.apply(self, argv);
    } catch (e) {
      if (e instanceof Halt || e instanceof Failure || e instanceof GoTemplateError || e === BREAK || e === CONTINUE || this.opts.rethrow?.(e)) throw e;
      return this.fail(`error calling ${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (typeof out === "string" && out.length > this.maxOutput)
      this.fail(`${name} made a value larger than ${this.maxOutput} bytes, the most one template may write`, "output");
    return norm(out);
  }

  private evalArg(dot: unknown, kind: Kind, a: Arg): unknown {
    switch (a.k) {
      case "dot":
        return this.validate(dot, kind);
      case "nil":
        if (kind === "any" || kind === "value" || kind === "list" || kind === "map") return null;
        return this.fail(`cannot assign nil to ${kind}`);
      case "field":
        return this.validate(this.evalFieldChain(dot, dot, a.names, [a], MISSING), kind);
      case "variable":
        return this.validate(a.names.length ? this.evalFieldChain(dot, this.varValue(a.name), a.names, [a], MISSING) : this.varValue(a.name), kind);
      case "chain":
        return this.validate(this.evalFieldChain(dot, this.evalArg(dot, "value", a.node), a.names, [a], MISSING), kind);
      case "pipe":
        return this.validate(this.evalPipeline(dot, a.pipe), kind);
      case "ident":
        return this.validate(this.evalFunction(dot, a.name, [a], MISSING), kind);
      case "bool":
        if (kind === "bool" || kind === "any" || kind === "value") return a.value;
        return this.fail(`expected ${kind}; found ${a.src}`);
      case "number":
        if (kind === "int" && a.isFloat && !Number.isInteger(a.value)) return this.fail(`expected integer; found ${a.src}`);
        if (kind === "int" || kind === "float" || kind === "any" || kind === "value") return a.value;
        return this.fail(`expected ${kind}; found ${a.src}`);
      case "string":
        if (kind === "string" || kind === "any" || kind === "value") return a.value;
        return this.fail(`expected ${kind}; found ${a.src}`);
    }
  }

  private validate(v: unknown, kind: Kind): unknown {
    if (kind === "value") return v;
    if (v === NO_VALUE || v === undefined) {
      if (kind === "any" || kind === "list" || kind === "map") return null;
      return this.fail(`invalid value; expected ${goKind(kind)}`);
    }
    const ok =
      kind === "any" ||
      (kind === "string" && typeof v === "string") ||
      (kind === "int" && typeof v === "number" && Number.isInteger(v)) ||
      (kind === "float" && typeof v === "number") ||
      (kind === "bool" && typeof v === "boolean") ||
      (kind === "list" && (v === null || Array.isArray(v))) ||
      (kind === "map" && (v === null || v instanceof Map));
    if (!ok) this.fail(`wrong type for value; expected ${goKind(kind)}; got ${typeName(v)}`);
    return v;
  }
}

const goKind = (k: Kind) =>
  ({
    any: "interface {}",
    value: "reflect.Value",
    string: "string",
    int: "int",
    float: "float64",
    bool: "bool",
    list: "[]interface {}",
    map: "map[string]interface {}",
  })[k];

const norm = (v: unknown) => (v === undefined ? null : v);

export { GoError };
