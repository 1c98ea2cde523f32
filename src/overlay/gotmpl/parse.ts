import { type Item, lex } from "./lex";

/**
 * The parser of Go's text/template: items → a tree per template name (the file itself, and every
 * `{{define}}`/`{{block}}`). Node shapes follow text/template/parse, reduced to what the executor needs;
 * each node keeps its line and its source text (for error messages: `at <.NetDevs.x.Ipaddr>`).
 */

export type Arg =
  | { k: "field"; names: string[]; src: string }
  | { k: "variable"; name: string; names: string[]; src: string }
  | { k: "chain"; node: Arg; names: string[]; src: string }
  | { k: "ident"; name: string; src: string }
  | { k: "dot"; src: string }
  | { k: "nil"; src: string }
  | { k: "bool"; value: boolean; src: string }
  | { k: "number"; value: number; isChar: boolean; isFloat: boolean; src: string }
  | { k: "string"; value: string; src: string }
  | { k: "pipe"; pipe: Pipe; src: string };

export interface Cmd {
  args: Arg[];
  src: string;
  line: number;
}

export interface Pipe {
  decl: string[];
  isAssign: boolean;
  cmds: Cmd[];
  line: number;
  src: string;
}

export type Node =
  | { k: "text"; text: string; line: number }
  | { k: "action"; pipe: Pipe; line: number }
  | { k: "if" | "with" | "range"; pipe: Pipe; list: Node[]; elseList?: Node[]; line: number }
  | { k: "template"; name: string; pipe?: Pipe; line: number; src: string }
  | { k: "break" | "continue"; line: number };

/** A parse or execution error, worded as Go words it: `template: NAME:LINE: message`. */
/** Which of a run's budgets ended it (exec.ts): a template that ran too long, printed or recursed too much. */
export type Budget = "steps" | "time" | "output" | "depth";

export class GoTemplateError extends Error {
  constructor(
    message: string,
    readonly template: string,
    readonly line: number,
    /** Set when the run was stopped by one of its budgets rather than by an error of the template. */
    readonly budget?: Budget,
  ) {
    super(message);
  }
}

export type Trees = Map<string, Node[]>;

/**
 * Parses `text` as template `name`; `{{define}}`d and `{{block}}` templates are added to `trees` (a
 * definition with only whitespace does not replace an existing one, as in Go).
 */
export function parse(name: string, text: string, trees: Trees = new Map(), funcs?: { has(name: string): boolean }): Trees {
  const items = lex(text).filter((i) => i.type !== "comment");
  let p = 0;
  let rangeDepth = 0;
  const peek = (): Item => items[p]!;
  const next = (): Item => items[p++]!;
  const fail = (line: number, msg: string, tname = name): never => {
    throw new GoTemplateError(`template: ${tname}:${line}: ${msg}`, tname, line);
  };
  const err = items.find((i) => i.type === "error");
  if (err) fail(err.line, err.val);

  const skipSpace = () => {
    while (peek().type === "space") p++;
  };
  const nextNonSpace = (): Item => {
    skipSpace();
    return next();
  };
  const peekNonSpace = (): Item => {
    skipSpace();
    return peek();
  };
  const srcOf = (from: Item, to: number) => text.slice(from.pos, items[to - 1] ? items[to - 1]!.pos + items[to - 1]!.val.length : from.pos).trim();

  const isEmpty = (list: Node[]) => list.every((n) => n.k === "text" && n.text.trim() === "");
  const definedHere = new Set<string>();
  const define = (tname: string, list: Node[], line = 0) => {
    const old = trees.get(tname);
    if (old && isEmpty(list)) return;
    if (old && definedHere.has(tname) && !isEmpty(old)) fail(line, `template: multiple definition of template ${JSON.stringify(tname)}`);
    definedHere.add(tname);
    trees.set(tname, list);
  };

  /** Parses nodes until {{end}} or {{else}}; returns the list and the keyword that ended it. */
  function itemList(top: boolean): { list: Node[]; end: "end" | "else" | "eof"; at: Item } {
    const list: Node[] = [];
    for (;;) {
      const it = next();
      if (it.type === "eof") {
        if (!top) fail(it.line, "unexpected EOF");
        return { list, end: "eof", at: it };
      }
      if (it.type === "text") {
        list.push({ k: "text", text: it.val, line: it.line });
        continue;
      }
      if (it.type !== "left") fail(it.line, `unexpected ${it.val}`);
      const kw = peekNonSpace();
      if (kw.type === "keyword") {
        switch (kw.val) {
          case "end":
          case "else":
            if (top) fail(kw.line, `unexpected {{${kw.val}}}`);
            p++;
            return { list, end: kw.val, at: kw };
          case "if":
          case "with":
          case "range":
            p++;
            list.push(control(kw.val, kw));
            continue;
          case "template":
            p++;
            list.push(templateCall(kw));
            continue;
          case "block": {
            p++;
            const n = templateCall(kw, true);
            const body = itemList(false);
            if (body.end !== "end") fail(body.at.line, "unexpected {{else}} in block");
            expectRight(`block`);
            define(n.name, body.list, kw.line);
            list.push(n);
            continue;
          }
          case "define": {
            if (!top) fail(kw.line, "unexpected <define> in command");
            p++;
            const nm = nextNonSpace();
            if (nm.type !== "string" && nm.type !== "rawString") fail(nm.line, `unexpected ${JSON.stringify(nm.val)} in define clause`);
            expectRight("define clause");
            const body = itemList(false);
            if (body.end !== "end") fail(body.at.line, "unexpected {{else}} in define");
            expectRight("end");
            define(unquote(nm, fail), body.list, kw.line);
            continue;
          }
          case "break":
          case "continue":
            p++;
            if (rangeDepth === 0) fail(kw.line, `{{${kw.val}}} outside {{range}}`);
            expectRight(kw.val);
            list.push({ k: kw.val, line: kw.line });
            continue;
        }
      }
      list.push({ k: "action", pipe: pipeline("command", "right"), line: it.line });
    }
  }

  function expectRight(context: string) {
    const t = nextNonSpace();
    if (t.type !== "right") fail(t.line, `unexpected ${describe(t)} in ${context}`);
  }

  function templateCall(kw: Item, isBlock = false): Extract<Node, { k: "template" }> {
    const nm = nextNonSpace();
    if (nm.type !== "string" && nm.type !== "rawString") fail(nm.line, `unexpected ${describe(nm)} in ${isBlock ? "block" : "template"} clause`);
    const tname = unquote(nm, fail);
    const t = peekNonSpace();
    if (t.type === "right") {
      p++;
      return { k: "template", name: tname, line: kw.line, src: `template ${nm.val}` };
    }
    const pipe = pipeline(isBlock ? "block" : "template clause", "right");
    return { k: "template", name: tname, pipe, line: kw.line, src: `template ${nm.val} ${pipe.src}` };
  }

  function control(kind: "if" | "with" | "range", kw: Item): Node {
    if (kind === "range") rangeDepth++;
    const pipe = pipeline(kind, "right");
    const body = itemList(false);
    let elseList: Node[] | undefined;
    if (kind === "range") rangeDepth--;
    if (body.end === "else") {
      // {{else if …}} / {{else with …}}: a nested control that shares this one's {{end}}.
      const t = peekNonSpace();
      if ((kind === "if" && t.type === "keyword" && t.val === "if") || (kind === "with" && t.type === "keyword" && t.val === "with")) {
        p++;
        elseList = [control(kind, t)];
        return { k: kind, pipe, list: body.list, elseList, line: kw.line };
      }
      expectRight("else");
      const e = itemList(false);
      if (e.end !== "end") fail(e.at.line, `expected end; found {{else}}`);
      elseList = e.list;
    }
    expectRight("end");
    return { k: kind, pipe, list: body.list, ...(elseList ? { elseList } : {}), line: kw.line };
  }

  /** A pipeline up to `end` (the right delimiter or a right paren). */
  function pipeline(context: string, end: "right" | "rightParen"): Pipe {
    const start = peekNonSpace();
    const startIdx = p;
    const decl: string[] = [];
    let isAssign = false;
    // Declarations: $x := / $x = / (range) $i, $v :=
    if (start.type === "variable") {
      const save = p;
      p++;
      const t = peekNonSpace();
      if (t.type === "declare" || t.type === "assign") {
        p++;
        decl.push(start.val);
        isAssign = t.type === "assign";
      } else if (t.type === "comma" && context === "range") {
        p++;
        const v2 = nextNonSpace();
        if (v2.type !== "variable") fail(v2.line, `range can only initialize variables`);
        const op = nextNonSpace();
        if (op.type !== "declare" && op.type !== "assign") fail(op.line, `expected := or = after range variables`);
        decl.push(start.val, v2.val);
        isAssign = op.type === "assign";
      } else p = save;
    }
    const cmds: Cmd[] = [];
    for (;;) {
      const t = peekNonSpace();
      if (t.type === end) {
        p++;
        if (cmds.length === 0) fail(t.line, `missing value for ${context}`);
        break;
      }
      if (t.type === "right" || t.type === "rightParen" || t.type === "eof")
        fail(t.line, `unexpected ${describe(t)} in ${context === "command" ? "operand" : context}`);
      cmds.push(command(context));
      const after = peekNonSpace();
      if (after.type === "pipe") {
        p++;
        if (peekNonSpace().type === end) fail(peek().line, `missing command after |`);
      }
    }
    for (let i = 1; i < cmds.length; i++) {
      const first = cmds[i]!.args[0]!;
      if (["bool", "dot", "nil", "number", "string"].includes(first.k)) fail(cmds[i]!.line, `non executable command in pipeline stage ${i + 1}`);
    }
    return { decl, isAssign, cmds, line: start.line, src: srcOf(start, p - 1) || text.slice(items[startIdx]!.pos, items[p - 1]!.pos).trim() };
  }

  function command(context: string): Cmd {
    const first = peekNonSpace();
    const args: Arg[] = [];
    for (;;) {
      const t = peek();
      if (t.type === "space") {
        p++;
        continue;
      }
      if (t.type === "pipe" || t.type === "right" || t.type === "rightParen") break;
      if (t.type === "eof") fail(t.line, `unexpected EOF in ${context}`);
      args.push(operand());
    }
    if (args.length === 0) fail(first.line, `empty command`);
    return { args, src: srcOf(first, p), line: first.line };
  }

  function operand(): Arg {
    const t0 = peek();
    const s0 = p;
    let a = term();
    if (peek().type === "field") {
      const names: string[] = [];
      while (peek().type === "field") names.push(next().val.slice(1));
      const src = text.slice(t0.pos, items[p - 1]!.pos + items[p - 1]!.val.length);
      if (a.k === "field") a = { k: "field", names: [...a.names, ...names], src };
      else if (a.k === "variable") a = { k: "variable", name: a.name, names: [...a.names, ...names], src };
      else if (a.k === "bool" || a.k === "string" || a.k === "number" || a.k === "nil" || a.k === "dot")
        fail(t0.line, `unexpected . after term ${JSON.stringify(a.src)}`);
      else a = { k: "chain", node: a, names, src };
    }
    void s0;
    return a;
  }

  function term(): Arg {
    const t = next();
    switch (t.type) {
      case "identifier":
        if (funcs && !funcs.has(t.val)) fail(t.line, `function ${JSON.stringify(t.val)} not defined`);
        return { k: "ident", name: t.val, src: t.val };
      case "dot":
        return { k: "dot", src: "." };
      case "nil":
        return { k: "nil", src: "nil" };
      case "variable":
        return { k: "variable", name: t.val, names: [], src: t.val };
      case "field":
        return { k: "field", names: [t.val.slice(1)], src: t.val };
      case "bool":
        return { k: "bool", value: t.val === "true", src: t.val };
      case "char": {
        const s = unquoteChar(t, fail);
        return { k: "number", value: s.codePointAt(0)!, isChar: true, isFloat: false, src: t.val };
      }
      case "number":
        return number(t);
      case "string":
      case "rawString":
        return { k: "string", value: unquote(t, fail), src: t.val };
      case "leftParen": {
        const pipe = pipeline("parenthesized pipeline", "rightParen");
        return { k: "pipe", pipe, src: `(${pipe.src})` };
      }
      default:
        return fail(t.line, `unexpected ${describe(t)} in operand`);
    }
  }

  function number(t: Item): Arg {
    const s = t.val.replace(/_/g, "");
    if (s.endsWith("i")) fail(t.line, `complex numbers are not supported: ${t.val}`);
    let v: number;
    let isFloat = false;
    const neg = s.startsWith("-");
    const body = s.replace(/^[+-]/, "");
    if (/^0[xX][0-9a-fA-F]+$/.test(body)) v = Number.parseInt(body.slice(2), 16);
    else if (/^0[oO][0-7]+$/.test(body)) v = Number.parseInt(body.slice(2), 8);
    else if (/^0[bB][01]+$/.test(body)) v = Number.parseInt(body.slice(2), 2);
    else if (/^0[0-7]+$/.test(body)) v = Number.parseInt(body, 8);
    else if (/^[0-9]+$/.test(body)) v = Number(body);
    else if (/^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(body)) {
      v = Number(body);
      isFloat = true;
    } else return fail(t.line, `bad number syntax: ${JSON.stringify(t.val)}`);
    if (neg) v = -v;
    return { k: "number", value: v, isChar: false, isFloat, src: t.val };
  }

  const main = itemList(true);
  // The named template is the file's own tree, unless the file only holds definitions of it.
  if (!(isEmpty(main.list) && trees.has(name))) trees.set(name, main.list);
  return trees;
}

function describe(t: Item): string {
  if (t.type === "eof") return "EOF";
  if (t.type === "right") return `"}}"`;
  if (t.type === "space") return "space";
  return `${t.type === "identifier" || t.type === "keyword" ? "<" : '"'}${t.val}${t.type === "identifier" || t.type === "keyword" ? ">" : '"'}`;
}

const ESC: Record<string, string> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\", "'": "'", '"': '"' };

/** Go's strconv.Unquote for "…", `…` and '…'. */
function unescape(body: string, quote: string, t: Item, fail: (line: number, msg: string) => never): string {
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== "\\") {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) fail(t.line, `malformed string ${t.val}`);
    if (ESC[e!] !== undefined && (e !== "'" || quote === "'") && (e !== '"' || quote === '"')) out += ESC[e!];
    else if (e === "x" || e === "u" || e === "U") {
      const n = e === "x" ? 2 : e === "u" ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + n);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) fail(t.line, `malformed escape in ${t.val}`);
      i += n;
      out += e === "x" ? String.fromCharCode(Number.parseInt(hex, 16)) : String.fromCodePoint(Number.parseInt(hex, 16));
    } else if (/[0-7]/.test(e!)) {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct)) fail(t.line, `malformed escape in ${t.val}`);
      i += 2;
      out += String.fromCharCode(Number.parseInt(oct, 8));
    } else fail(t.line, `malformed escape \\${e} in ${t.val}`);
  }
  return out;
}

export function unquote(t: Item, fail: (line: number, msg: string) => never): string {
  if (t.type === "rawString") return t.val.slice(1, -1).replace(/\r/g, "");
  return unescape(t.val.slice(1, -1), '"', t, fail);
}

function unquoteChar(t: Item, fail: (line: number, msg: string) => never): string {
  const s = unescape(t.val.slice(1, -1), "'", t, fail);
  if ([...s].length !== 1) fail(t.line, `malformed character constant: ${t.val}`);
  return s;
}
