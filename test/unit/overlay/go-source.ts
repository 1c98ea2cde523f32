/**
 * A reader of the small part of Go that Warewulf's overlay tests are written in (test support for
 * warewulf-upstream.test.ts). It tokenizes Go source (with Go's automatic semicolons), decodes string
 * literals (raw `…` and interpreted "…" with their escapes) and parses declarations, statements and
 * expressions into a tree; composite literals (`[]struct{…}{…}`, `map[string]struct{…}{…}`) are kept with
 * their keys. Nothing is compiled or run by Go: go-cases.ts walks the tree.
 */

export type Tok = { k: "id" | "str" | "num" | "op" | ";"; v: string; line: number };

const KEEP_SEMI = new Set(["break", "continue", "return", "fallthrough"]);

export function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  let line = 1;
  const semi = () => {
    const last = out[out.length - 1];
    if (!last || last.k === ";") return;
    if (last.k === "id" || last.k === "str" || last.k === "num" || (last.k === "op" && [")", "]", "}", "++", "--"].includes(last.v)) || KEEP_SEMI.has(last.v))
      out.push({ k: ";", v: "\n", line });
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === "\n") {
      semi();
      line++;
      i++;
    } else if (c === " " || c === "\t" || c === "\r") i++;
    else if (src.startsWith("//", i)) {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (src.startsWith("/*", i)) {
      const e = src.indexOf("*/", i + 2);
      if (e < 0) throw new Error(`line ${line}: unterminated comment`);
      const body = src.slice(i, e + 2);
      if (body.includes("\n")) semi();
      line += body.split("\n").length - 1;
      i = e + 2;
    } else if (c === "`") {
      const e = src.indexOf("`", i + 1);
      if (e < 0) throw new Error(`line ${line}: unterminated raw string`);
      const v = src.slice(i + 1, e).replace(/\r/g, "");
      out.push({ k: "str", v, line });
      line += v.split("\n").length - 1;
      i = e + 1;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let v = "";
      while (j < src.length && src[j] !== c) {
        if (src[j] === "\n") throw new Error(`line ${line}: newline in string`);
        if (src[j] === "\\") {
          const [s, n] = escape(src, j, line);
          v += s;
          j = n;
        } else v += src[j++];
      }
      if (j >= src.length) throw new Error(`line ${line}: unterminated string`);
      out.push(c === "'" ? { k: "num", v: String(v.codePointAt(0)), line } : { k: "str", v, line });
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < src.length && /[A-Za-z0-9_]/.test(src[j]!)) j++;
      out.push({ k: "id", v: src.slice(i, j), line });
      i = j;
    } else if (/[0-9]/.test(c)) {
      let j = i;
      while (j < src.length && /[0-9A-Za-z_.]/.test(src[j]!)) j++;
      out.push({ k: "num", v: src.slice(i, j), line });
      i = j;
    } else {
      const ops = ["...", "&&", "||", "==", "!=", "<=", ">=", ":=", "++", "--", "+=", "-=", "<-", "<<", ">>"];
      const op = ops.find((o) => src.startsWith(o, i)) ?? c;
      out.push({ k: "op", v: op, line });
      i += op.length;
    }
  }
  semi();
  return out;
}

function escape(src: string, j: number, line: number): [string, number] {
  const e = src[j + 1];
  const simple: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", '"': '"', "'": "'", a: "\x07", b: "\b", f: "\f", v: "\v" };
  if (e !== undefined && e in simple) return [simple[e]!, j + 2];
  if (e === "x") return [String.fromCharCode(Number.parseInt(src.slice(j + 2, j + 4), 16)), j + 4];
  if (e === "u") return [String.fromCodePoint(Number.parseInt(src.slice(j + 2, j + 6), 16)), j + 6];
  if (e === "U") return [String.fromCodePoint(Number.parseInt(src.slice(j + 2, j + 10), 16)), j + 10];
  if (e !== undefined && /[0-7]/.test(e)) return [String.fromCharCode(Number.parseInt(src.slice(j + 1, j + 4), 8)), j + 4];
  throw new Error(`line ${line}: unknown escape \\${e}`);
}

// ---- tree ----

export type Type =
  | { t: "name"; name: string }
  | { t: "slice"; of: Type }
  | { t: "map"; key: Type; of: Type }
  | { t: "struct"; fields: string[]; types: Type[] }
  | { t: "ptr"; of: Type }
  | { t: "func" };

export type Expr =
  | { e: "str"; v: string; line: number }
  | { e: "num"; v: string; line: number }
  | { e: "id"; name: string; line: number }
  | { e: "sel"; x: Expr; name: string; line: number }
  | { e: "call"; fn: Expr; args: Expr[]; line: number }
  | { e: "index"; x: Expr; i: Expr; line: number }
  | { e: "unary"; op: string; x: Expr; line: number }
  | { e: "bin"; op: string; a: Expr; b: Expr; line: number }
  | { e: "lit"; type: Type | undefined; elems: { key?: Expr; value: Expr }[]; line: number }
  | { e: "func"; params: string[]; body: Stmt[]; line: number };

export type Stmt =
  | { s: "expr"; x: Expr; line: number }
  | { s: "assign"; lhs: Expr[]; op: string; rhs: Expr[]; line: number }
  | { s: "var"; names: string[]; values: Expr[]; line: number }
  | { s: "if"; init?: Stmt; cond: Expr; then: Stmt[]; else?: Stmt[]; line: number }
  | { s: "range"; key?: string; value?: string; x: Expr; body: Stmt[]; line: number }
  | { s: "defer"; x: Expr; line: number }
  | { s: "return"; values: Expr[]; line: number }
  | { s: "block"; body: Stmt[]; line: number };

export interface GoFile {
  consts: Map<string, Expr>;
  funcs: Map<string, { params: string[]; results: string[]; body: Stmt[] }>;
}

const PREC: Record<string, number> = {
  "||": 1,
  "&&": 2,
  "==": 3,
  "!=": 3,
  "<": 3,
  "<=": 3,
  ">": 3,
  ">=": 3,
  "+": 4,
  "-": 4,
  "|": 4,
  "^": 4,
  "*": 5,
  "/": 5,
  "%": 5,
  "&": 5,
  "<<": 5,
  ">>": 5,
};

export function parseGo(src: string): GoFile {
  const toks = tokenize(src);
  let p = 0;
  const peek = (o = 0) => toks[p + o];
  const line = () => toks[Math.min(p, toks.length - 1)]?.line ?? 0;
  const fail = (m: string): never => {
    throw new Error(`line ${line()}: ${m} (at ${JSON.stringify(peek()?.v)})`);
  };
  const is = (v: string, o = 0) => {
    const t = peek(o);
    return !!t && (t.k === "op" || t.k === "id" || t.k === ";") && t.v === v;
  };
  const isSemi = () => peek()?.k === ";";
  const eat = (v: string) => {
    if (!is(v)) fail(`expected ${v}`);
    p++;
  };
  const ident = () => {
    const t = peek();
    if (t?.k !== "id") fail("expected a name");
    p++;
    return t!.v;
  };
  const skipSemis = () => {
    while (isSemi()) p++;
  };

  function type(): Type {
    if (is("...")) {
      p++;
      return { t: "slice", of: type() };
    }
    if (is("interface")) {
      p++;
      eat("{");
      eat("}");
      return { t: "name", name: "interface{}" };
    }
    if (is("*")) {
      p++;
      return { t: "ptr", of: type() };
    }
    if (is("[")) {
      eat("[");
      eat("]");
      return { t: "slice", of: type() };
    }
    if (is("map")) {
      p++;
      eat("[");
      const key = type();
      eat("]");
      return { t: "map", key, of: type() };
    }
    if (is("struct")) {
      p++;
      eat("{");
      const fields: string[] = [];
      const types: Type[] = [];
      skipSemis();
      while (!is("}")) {
        const names = [ident()];
        while (is(",")) {
          p++;
          names.push(ident());
        }
        const ty = type();
        if (peek()?.k === "str") p++;
        fields.push(...names);
        types.push(...names.map(() => ty));
        skipSemis();
      }
      eat("}");
      return { t: "struct", fields, types };
    }
    if (is("func")) {
      p++;
      eat("(");
      while (!is(")")) p++;
      eat(")");
      return { t: "func" };
    }
    let name = ident();
    if (is(".")) {
      p++;
      name += `.${ident()}`;
    }
    return { t: "name", name };
  }

  function params(): string[] {
    eat("(");
    const names: string[] = [];
    while (!is(")")) {
      if (peek()?.k === "id" && !(is(",", 1) || is(")", 1) || is(".", 1))) {
        names.push(ident());
        type();
      } else if (peek()?.k === "id" && is(",", 1)) {
        // `a, b T`: the names before the type.
        names.push(ident());
      } else {
        type();
      }
      if (is(",")) p++;
    }
    eat(")");
    return names;
  }

  function results(): string[] {
    if (is("(")) return params();
    if (is("{")) return [];
    type();
    return [];
  }

  function litBody(t: Type | undefined, l: number): Expr {
    eat("{");
    const elems: { key?: Expr; value: Expr }[] = [];
    skipSemis();
    while (!is("}")) {
      const a = is("{") ? litBody(undefined, line()) : expr(false);
      if (is(":")) {
        p++;
        skipSemis();
        const v = is("{") ? litBody(undefined, line()) : expr(false);
        elems.push({ key: a, value: v });
      } else elems.push({ value: a });
      if (is(",")) p++;
      skipSemis();
    }
    eat("}");
    return { e: "lit", type: t, elems, line: l };
  }

  function operand(noLit: boolean): Expr {
    const t = peek();
    const l = line();
    if (!t) return fail("unexpected end");
    if (t.k === "str") {
      p++;
      return { e: "str", v: t.v, line: l };
    }
    if (t.k === "num") {
      p++;
      return { e: "num", v: t.v, line: l };
    }
    if (is("(")) {
      p++;
      const x = expr(false);
      eat(")");
      return x;
    }
    if (is("[") || is("map") || is("struct")) {
      const ty = type();
      return litBody(ty, l);
    }
    if (is("func")) {
      p++;
      const ps = params();
      results();
      return { e: "func", params: ps, body: block(), line: l };
    }
    if (t.k === "id") {
      p++;
      return { e: "id", name: t.v, line: l };
    }
    return fail("unexpected token");
  }

  function primary(noLit: boolean): Expr {
    let x = operand(noLit);
    for (;;) {
      const l = line();
      if (is(".") && is("(", 1)) {
        p += 2;
        const ty = type();
        eat(")");
        x = { e: "call", fn: { e: "id", name: `.(${ty.t === "name" ? ty.name : ty.t})`, line: l }, args: [x], line: l };
      } else if (is(".")) {
        p++;
        x = { e: "sel", x, name: ident(), line: l };
      } else if (is("(")) {
        p++;
        const args: Expr[] = [];
        skipSemis();
        while (!is(")")) {
          args.push(expr(false));
          if (is("...")) p++;
          if (is(",")) p++;
          skipSemis();
        }
        eat(")");
        x = { e: "call", fn: x, args, line: l };
      } else if (is("[")) {
        p++;
        const i: Expr = is(":") ? { e: "num", v: "0", line: l } : expr(false);
        if (is(":")) {
          p++;
          const j = is("]") ? undefined : expr(false);
          eat("]");
          x = { e: "call", fn: { e: "id", name: "[:]", line: l }, args: j ? [x, i, j] : [x, i], line: l };
        } else {
          eat("]");
          x = { e: "index", x, i, line: l };
        }
      } else if (is("{") && !noLit && (x.e === "id" || x.e === "sel")) {
        x = litBody({ t: "name", name: x.e === "id" ? x.name : `${(x.x as { name?: string }).name}.${x.name}` }, l);
      } else return x;
    }
  }

  function unary(noLit: boolean): Expr {
    if (is("!") || is("-") || is("&") || is("*")) {
      const op = peek()!.v;
      const l = line();
      p++;
      return { e: "unary", op, x: unary(noLit), line: l };
    }
    return primary(noLit);
  }

  function expr(noLit: boolean, min = 1): Expr {
    let a = unary(noLit);
    for (;;) {
      const t = peek();
      const prec = t?.k === "op" ? PREC[t.v] : undefined;
      if (prec === undefined || prec < min) return a;
      p++;
      skipSemis();
      const b = expr(noLit, prec + 1);
      a = { e: "bin", op: t!.v, a, b, line: t!.line };
    }
  }

  function simple(noLit: boolean): Stmt {
    const l = line();
    const lhs = [expr(noLit)];
    while (is(",")) {
      p++;
      lhs.push(expr(noLit));
    }
    const t = peek();
    if (t && t.k === "op" && [":=", "=", "+=", "-="].includes(t.v)) {
      p++;
      if (is("range")) {
        p++;
        const x = expr(true);
        const names = lhs.map((e) => (e.e === "id" ? e.name : fail("range over a non-name")));
        return { s: "range", key: names[0], value: names[1], x, body: [], line: l };
      }
      const rhs = [expr(noLit)];
      while (is(",")) {
        p++;
        rhs.push(expr(noLit));
      }
      return { s: "assign", lhs, op: t.v, rhs, line: l };
    }
    if (is("++") || is("--")) {
      const op = peek()!.v;
      p++;
      return { s: "assign", lhs, op: op === "++" ? "+=" : "-=", rhs: [{ e: "num", v: "1", line: l }], line: l };
    }
    if (lhs.length !== 1) fail("expected := or =");
    return { s: "expr", x: lhs[0]!, line: l };
  }

  function stmt(): Stmt {
    const l = line();
    if (is("{")) return { s: "block", body: block(), line: l };
    if (is("if")) {
      p++;
      let init: Stmt | undefined;
      let first = simple(true);
      if (is(";")) {
        p++;
        init = first;
        first = simple(true);
      }
      if (first.s !== "expr") fail("if needs a condition");
      const then = block();
      let els: Stmt[] | undefined;
      if (is("else")) {
        p++;
        els = is("if") ? [stmt()] : block();
      }
      return { s: "if", ...(init ? { init } : {}), cond: (first as { x: Expr }).x, then, ...(els ? { else: els } : {}), line: l };
    }
    if (is("for")) {
      p++;
      if (is("range")) {
        p++;
        const x = expr(true);
        return { s: "range", x, body: block(), line: l };
      }
      const r = simple(true);
      if (r.s !== "range") fail("only `for … range` loops are read");
      (r as { body: Stmt[] }).body = block();
      return r;
    }
    if (is("defer")) {
      p++;
      return { s: "defer", x: expr(false), line: l };
    }
    if (is("return")) {
      p++;
      const values: Expr[] = [];
      while (!isSemi() && !is("}")) {
        values.push(expr(false));
        if (is(",")) p++;
      }
      return { s: "return", values, line: l };
    }
    if (is("var")) {
      p++;
      const names = [ident()];
      while (is(",")) {
        p++;
        names.push(ident());
      }
      if (!is("=")) type();
      const values: Expr[] = [];
      if (is("=")) {
        p++;
        values.push(expr(false));
        while (is(",")) {
          p++;
          values.push(expr(false));
        }
      }
      return { s: "var", names, values, line: l };
    }
    return simple(false);
  }

  function block(): Stmt[] {
    eat("{");
    const body: Stmt[] = [];
    skipSemis();
    while (!is("}")) {
      body.push(stmt());
      if (!is("}")) {
        if (!isSemi()) fail("expected the end of a statement");
        skipSemis();
      }
    }
    eat("}");
    return body;
  }

  const file: GoFile = { consts: new Map(), funcs: new Map() };
  skipSemis();
  while (p < toks.length) {
    if (is("package")) {
      p++;
      ident();
    } else if (is("import")) {
      p++;
      if (is("(")) {
        while (!is(")")) p++;
        p++;
      } else {
        if (peek()?.k === "id") p++;
        p++;
      }
    } else if (is("const") || is("var")) {
      p++;
      const one = () => {
        const names = [ident()];
        while (is(",")) {
          p++;
          names.push(ident());
        }
        if (!is("=")) type();
        eat("=");
        names.forEach((n, k) => {
          file.consts.set(n, expr(false));
          if (k < names.length - 1) eat(",");
        });
      };
      if (is("(")) {
        p++;
        skipSemis();
        while (!is(")")) {
          one();
          skipSemis();
        }
        p++;
      } else one();
    } else if (is("func")) {
      p++;
      if (is("(")) params(); // a method's receiver
      const name = ident();
      const ps = params();
      const rs = results();
      file.funcs.set(name, { params: ps, results: rs, body: block() });
    } else if (is("type")) {
      p++;
      ident();
      type();
    } else fail("unexpected top-level token");
    skipSemis();
  }
  return file;
}
