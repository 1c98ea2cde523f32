/**
 * The lexer of Go's text/template language (https://pkg.go.dev/text/template), as Warewulf's `.ww`
 * templates use it: text and `{{ actions }}`, `{{-`/`-}}` trimming, comments, strings, raw strings, chars,
 * numbers, fields, variables, keywords. It works on the whole text at once (no goroutines, no channel):
 * the parser asks for an array of items.
 */

export type ItemType =
  | "text"
  | "left" // {{
  | "right" // }}
  | "comment"
  | "space"
  | "identifier"
  | "field" // .Name
  | "variable" // $name or $
  | "dot"
  | "string"
  | "rawString"
  | "char"
  | "number"
  | "bool"
  | "nil"
  | "pipe"
  | "leftParen"
  | "rightParen"
  | "declare" // :=
  | "assign" // =
  | "comma"
  | "keyword"
  | "eof"
  | "error";

export interface Item {
  type: ItemType;
  val: string;
  /** 1-based line of the item's start. */
  line: number;
  /** Offset in the text. */
  pos: number;
}

export const KEYWORDS = new Set(["block", "break", "continue", "define", "else", "end", "if", "range", "nil", "template", "with"]);

const isSpace = (c: string) => c === " " || c === "\t" || c === "\r" || c === "\n";
const isAlnum = (c: string) => /[\p{L}\p{Nd}_]/u.test(c);

/** Lexes `text` into items; an error item (with the message in `val`) ends the list. */
export function lex(text: string, left = "{{", right = "}}"): Item[] {
  const items: Item[] = [];
  let pos = 0;
  const lineAt = (() => {
    // Lines counted incrementally: items are emitted in order.
    let counted = 0;
    let l = 1;
    return (p: number) => {
      for (; counted < p; counted++) if (text.charCodeAt(counted) === 10) l++;
      return l;
    };
  })();
  const emit = (type: ItemType, start: number, val: string) => items.push({ type, val, pos: start, line: lineAt(start) });
  const fail = (start: number, msg: string) => {
    items.push({ type: "error", val: msg, pos: start, line: lineAt(start) });
    return items;
  };
  const trimMarkerLen = 2; // "- " or " -"

  while (pos <= text.length) {
    // Text up to the next action.
    const i = text.indexOf(left, pos);
    if (i < 0) {
      if (pos < text.length) emit("text", pos, text.slice(pos));
      break;
    }
    let textEnd = i;
    const afterLeft = i + left.length;
    const trimLeft = text[afterLeft] === "-" && isSpace(text[afterLeft + 1] ?? "");
    if (trimLeft) while (textEnd > pos && isSpace(text[textEnd - 1]!)) textEnd--;
    if (textEnd > pos) emit("text", pos, text.slice(pos, textEnd));
    let p = afterLeft + (trimLeft ? trimMarkerLen : 0);

    // A comment: {{/* … */}}, with optional trim markers.
    if (text.startsWith("/*", p)) {
      const end = text.indexOf("*/", p + 2);
      if (end < 0) return fail(i, "unclosed comment");
      let q = end + 2;
      let trimRight = false;
      if (text[q] && isSpace(text[q]!) && text[q + 1] === "-" && text.startsWith(right, q + 2)) {
        trimRight = true;
        q += 2;
      }
      if (!text.startsWith(right, q)) return fail(i, "comment ends before closing delimiter");
      emit("comment", p, text.slice(p, end + 2));
      pos = q + right.length;
      if (trimRight) while (pos < text.length && isSpace(text[pos]!)) pos++;
      continue;
    }
    emit("left", i, left);

    // Inside the action.
    let parenDepth = 0;
    for (;;) {
      // Right delimiter, possibly with a trim marker.
      if (text[p] !== undefined && isSpace(text[p]!) && text[p + 1] === "-" && text.startsWith(right, p + 2)) {
        emit("right", p + 2, right);
        pos = p + 2 + right.length;
        while (pos < text.length && isSpace(text[pos]!)) pos++;
        break;
      }
      if (text.startsWith(right, p)) {
        if (parenDepth > 0) return fail(p, "unclosed left paren");
        emit("right", p, right);
        pos = p + right.length;
        break;
      }
      const c = text[p];
      if (c === undefined) return fail(i, "unclosed action");
      if (isSpace(c)) {
        // A run of spaces; one that begins " -}}" is left for the check above.
        const s = p;
        while (p < text.length && isSpace(text[p]!) && !(text[p + 1] === "-" && text.startsWith(right, p + 2))) p++;
        if (p > s) emit("space", s, text.slice(s, p));
        continue;
      }
      if (c === "=") {
        emit("assign", p, "=");
        p++;
        continue;
      }
      if (c === ":") {
        if (text[p + 1] !== "=") return fail(p, "expected :=");
        emit("declare", p, ":=");
        p += 2;
        continue;
      }
      if (c === "|") {
        emit("pipe", p, "|");
        p++;
        continue;
      }
      if (c === ",") {
        emit("comma", p, ",");
        p++;
        continue;
      }
      if (c === "(") {
        parenDepth++;
        emit("leftParen", p, "(");
        p++;
        continue;
      }
      if (c === ")") {
        parenDepth--;
        if (parenDepth < 0) return fail(p, `unexpected right paren`);
        emit("rightParen", p, ")");
        p++;
        continue;
      }
      if (c === '"') {
        const s = p;
        p++;
        for (;;) {
          const d = text[p];
          if (d === undefined || d === "\n") return fail(s, "unterminated quoted string");
          if (d === "\\") {
            p += 2;
            continue;
          }
          p++;
          if (d === '"') break;
        }
        emit("string", s, text.slice(s, p));
        continue;
      }
      if (c === "`") {
        const s = p;
        const end = text.indexOf("`", p + 1);
        if (end < 0) return fail(s, "unterminated raw quoted string");
        p = end + 1;
        emit("rawString", s, text.slice(s, p));
        continue;
      }
      if (c === "'") {
        const s = p;
        p++;
        for (;;) {
          const d = text[p];
          if (d === undefined || d === "\n") return fail(s, "unterminated character constant");
          if (d === "\\") {
            p += 2;
            continue;
          }
          p++;
          if (d === "'") break;
        }
        emit("char", s, text.slice(s, p));
        continue;
      }
      if (c === "$") {
        const s = p;
        p++;
        while (p < text.length && isAlnum(text[p]!)) p++;
        emit("variable", s, text.slice(s, p));
        continue;
      }
      if (c === ".") {
        const n = text[p + 1];
        if (n !== undefined && /[0-9]/.test(n)) {
          const s = p;
          p = scanNumber(text, p);
          emit("number", s, text.slice(s, p));
          continue;
        }
        if (n !== undefined && isAlnum(n)) {
          const s = p;
          p++;
          while (p < text.length && isAlnum(text[p]!)) p++;
          emit("field", s, text.slice(s, p));
          continue;
        }
        emit("dot", p, ".");
        p++;
        continue;
      }
      if (/[0-9+-]/.test(c)) {
        const s = p;
        const e = scanNumber(text, p);
        if (e === p || (e === p + 1 && (c === "+" || c === "-"))) return fail(p, `bad number syntax: ${JSON.stringify(text.slice(p, p + 2))}`);
        if (e < text.length && isAlnum(text[e]!)) return fail(p, `bad number syntax: ${JSON.stringify(text.slice(p, e + 1))}`);
        p = e;
        emit("number", s, text.slice(s, p));
        continue;
      }
      if (isAlnum(c)) {
        const s = p;
        while (p < text.length && isAlnum(text[p]!)) p++;
        const w = text.slice(s, p);
        emit(KEYWORDS.has(w) ? (w === "nil" ? "nil" : "keyword") : w === "true" || w === "false" ? "bool" : "identifier", s, w);
        // A keyword or identifier followed directly by a field (x.Field) is a chain: the parser handles it.
        continue;
      }
      return fail(p, `unrecognized character in action: ${JSON.stringify(c)}`);
    }
  }
  items.push({ type: "eof", val: "", pos: text.length, line: lineAt(text.length) });
  return items;
}

function scanNumber(t: string, p: number): number {
  if (t[p] === "+" || t[p] === "-") p++;
  let digits = "0123456789_";
  if (t[p] === "0" && /[xXoObB]/.test(t[p + 1] ?? "")) {
    const k = t[p + 1]!.toLowerCase();
    digits = k === "x" ? "0123456789abcdefABCDEF_" : k === "o" ? "01234567_" : "01_";
    p += 2;
  }
  const run = () => {
    while (p < t.length && digits.includes(t[p]!)) p++;
  };
  run();
  if (t[p] === ".") {
    p++;
    run();
  }
  if (digits.length === 11 && /[eE]/.test(t[p] ?? "")) {
    p++;
    if (t[p] === "+" || t[p] === "-") p++;
    while (p < t.length && /[0-9_]/.test(t[p]!)) p++;
  } else if (digits.length > 11 && /[pP]/.test(t[p] ?? "")) {
    p++;
    if (t[p] === "+" || t[p] === "-") p++;
    while (p < t.length && /[0-9_]/.test(t[p]!)) p++;
  }
  if (t[p] === "i") p++;
  return p;
}
