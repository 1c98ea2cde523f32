import { describe, expect, test } from "bun:test";
import { GO_STRING, GO_TRUTH, GO_TYPE, GoTemplateError, Template, ZERO, renderGo, standardFuncs } from "../../../src/overlay/gotmpl";

/**
 * Go text/template semantics, each expectation derived from the Go documentation (pkg.go.dev/text/template,
 * fmt) and what `go run` prints for the same template; written here, not copied from any test suite.
 */

const tags = Object.assign(
  new Map([
    ["a", "1"],
    ["b", "2"],
  ]),
  { [ZERO]: "" },
);
const ip = (s: string) => ({ [GO_TYPE]: "net.IP", [GO_STRING]: () => (s ? s : "<nil>"), [GO_TRUTH]: () => s !== "" });
const data = {
  Name: "n1",
  Tags: tags,
  List: ["x", "y"],
  Empty: [],
  N: 3,
  F: 1.5,
  T: true,
  Nil: null,
  Ip: ip("10.0.0.1"),
  NoIp: ip(""),
  Sub: { Inner: { Deep: "d" } },
  Greet(who: string) {
    return `hi ${who}`;
  },
};
const r = (t: string, d: unknown = data) => renderGo(t, d);

describe("Go text/template", () => {
  test.each([
    ["{{.Name}}", "n1"],
    ["{{ .Sub.Inner.Deep }} {{ $.Sub.Inner.Deep }}", "d d"],
    ["{{ (.Sub).Inner.Deep }}", "d"],
    ['{{ .Greet "bob" }} {{ "amy" | .Greet }}', "hi bob hi amy"],
    ["{{ .Tags.a }}|{{ .Tags.zz }}", "1|<no value>"],
    ["{{ range $k, $v := .Tags }}{{ $k }}={{ $v }} {{ end }}", "a=1 b=2 "],
    ["{{ range $v := .List }}{{ $v }}{{ end }}", "xy"],
    ["{{ range .List }}[{{ . }}]{{ else }}none{{ end }}", "[x][y]"],
    ["{{ range .Empty }}x{{ else }}none{{ end }}", "none"],
    ["{{ range .Tags.zz }}x{{ else }}none{{ end }}", "none"],
    ["{{ range $i, $e := .List }}{{ if eq $i 1 }}{{ break }}{{ end }}{{ $i }}{{ $e }}{{ end }}", "0x"],
    ["{{ range $i, $e := .List }}{{ if eq $i 0 }}{{ continue }}{{ end }}{{ $e }}{{ end }}", "y"],
    ["{{ range 3 }}{{ . }}{{ end }}", "012"],
    ["{{ if eq .N 3 }}three{{ else if eq .N 4 }}four{{ else }}other{{ end }}", "three"],
    ["{{ if eq .N 1 2 3 }}in{{ end }}", "in"],
    ["{{ if and .T (gt .N 2) (lt .F 2.0) }}y{{ end }}", "y"],
    ["{{ if .Empty }}a{{ else if .NoIp }}b{{ else if .Ip }}c{{ end }}", "c"],
    ["{{ with .Nil }}y{{ else with .Name }}{{ . }}{{ end }}", "n1"],
    ["{{ with .Sub.Inner }}{{ .Deep }}{{ end }}", "d"],
    ["{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "2"],
    ["{{ $x := 1 }}{{ if true }}{{ $x := 5 }}{{ $x }}{{ end }}{{ $x }}", "51"],
    ['{{ define "x" }}X{{ . }}{{ end }}{{ template "x" .N }}', "X3"],
    ['{{ block "b" .Name }}[{{ . }}]{{ end }}', "[n1]"],
    ["a  {{- /* a comment */ -}}  b", "ab"],
    ["a \n {{- .N -}} \n b", "a3b"],
    ["{{/* only */}}x", "x"],
    ["{{ `raw\\n` }} {{ 'a' }} {{ 0x1F }} {{ 0o17 }} {{ 1_000 }} {{ -2 }}", "raw\\n 97 31 15 1000 -2"],
    ['{{ "esc\\t\\"q\\"\\u00e9" }}', 'esc\t"q"é'],
    ["{{ .Tags }} {{ .List }} {{ .Nil }} {{ .F }} {{ .T }} {{ .Ip }} {{ .NoIp }}", "map[a:1 b:2] [x y] <nil> 1.5 true 10.0.0.1 <nil>"],
    ["{{ 100000.5 }} {{ 0.0001 }} {{ 0.00001 }} {{ 1234567.5 }}", "100000.5 0.0001 1e-05 1.2345675e+06"],
    ['{{ printf "%-5s|%5d|%05.2f|%q|%x|%X|%v|%t|%3s|%%" .Name .N .F .Name .Name 255 .List .T "ab" }}', 'n1   |    3|01.50|"n1"|6e31|FF|[x y]|true| ab|%'],
    ['{{ printf "%d" "s" }} {{ printf "%s" }} {{ printf "%d" 1 2 }}', "%!d(string=s) %!s(MISSING) 1%!(EXTRA int=2)"],
    ['{{ printf "%v %s %d" .Tags.zz .Ip 07 }}', "<nil> 10.0.0.1 7"],
    ['{{ printf "%c %U %o %b %e %g %8.3f|%-8d|%+d" 65 65 8 5 1500.0 0.5 3.14159 42 3 }}', "A U+0041 10 101 1.500000e+03 0.5    3.142|42      |+3"],
    ['{{ print 1 2 "a" 3 "b" "c" }}|{{ println 1 "x" }}', "1 2a3bc|1 x\n"],
    [
      '{{ len .List }} {{ len .Tags }} {{ len "héllo" }} {{ index .List 1 }} {{ index .Tags "zz" }}|{{ slice "hello" 1 3 }} {{ slice .List 1 }}',
      "2 2 6 y |el [y]",
    ],
    ['{{ html "<a href=\'x\'>&" }} {{ js "it\'s <b>" }} {{ urlquery "a b&c/é" }}', "&lt;a href=&#39;x&#39;&gt;&amp; it\\'s \\u003Cb\\u003E a+b%26c%2F%C3%A9"],
    ['{{ and 1 0 2 }} {{ and 1 2 }} {{ or 0 "" "z" }} {{ or 0 "" }} {{ not 0 }} {{ not .List }}', "0 2 z  true false"],
    ['{{ ne .N 4 }} {{ le 3 3 }} {{ ge 2 3 }} {{ lt "a" "b" }}', "true true false true"],
    ['{{ .Name | printf "%s!" | printf "<%s>" }}', "<n1!>"],
    [
      '{{ default "d" .Tags.zz }} {{ default "d" .Name }} {{ .List | join "," }} {{ list 1 "a" | toJson }} {{ dict "b" 1 "a" true | toJson }}',
      'd n1 x,y [1,"a"] {"a":true,"b":1}',
    ],
    ['{{ $d := dict "k" "v" }}{{ $_ := set $d "z" 1 }}{{ hasKey $d "z" }} {{ keys $d | sortAlpha | join " " }}', "true k z"],
    [
      '{{ splitList ":" "a:b" | last }} {{ (split "," "p,q")._1 }} {{ "A-b" | lower }} {{ upper "x" }} {{ replace "a" "b" "aaa" }} {{ trim "  t " }}',
      "b q a-b X bbb t",
    ],
    [
      '{{ ternary "y" "n" true }} {{ empty "" }} {{ substr 1 3 "hello" }} {{ regexMatch "^n[0-9]+$" "n12" }} {{ regexSplit "[,;]" "a,b;c" -1 | len }}',
      "y true el true 3",
    ],
  ])("%s", (tpl, want) => {
    expect(r(tpl)).toBe(want);
  });

  test("sprig append takes the list first", () => {
    expect(r('{{ append (list "a") "b" | toJson }}')).toBe('["a","b"]');
  });

  test.each([
    ["{{ .Nope }}", 'template: t:1: executing "t" at <.Nope>: can\'t evaluate field Nope in type struct'],
    ["line1\n{{ .Name.X }}", 'template: t:2: executing "t" at <.Name.X>: can\'t evaluate field X in type string'],
    ["{{ if }}", "template: t:1: missing value for if"],
    ["{{ if true }}", "template: t:1: unexpected EOF"],
    ["{{ end }}", "template: t:1: unexpected {{end}}"],
    ["{{ nofunc 1 }}", 'template: t:1: function "nofunc" not defined'],
    ["{{ break }}", "template: t:1: {{break}} outside {{range}}"],
    ["{{ len 3 }}", 'template: t:1: executing "t" at <len 3>: error calling len: len of type int'],
    ["{{ lower .Tags.zz }}", 'template: t:1: executing "t" at <lower .Tags.zz>: invalid value; expected string'],
    ["{{ .Nil.X }}", 'template: t:1: executing "t" at <.Nil.X>: nil pointer evaluating interface {}.X'],
    ["{{ index .List 5 }}", 'template: t:1: executing "t" at <index .List 5>: error calling index: index out of range: 5'],
    ['{{ template "none" }}', 'template: t:1: executing "t" at <template "none">: template "none" not defined'],
    ["{{ 3 4 }}", 'template: t:1: executing "t" at <3 4>: can\'t give argument to non-function 3'],
    ['{{ eq 1 "a" }}', 'template: t:1: executing "t" at <eq 1 "a">: error calling eq: incompatible types for comparison'],
    ['{{ "x" | .Name }}', 'template: t:1: executing "t" at <.Name>: Name has arguments but cannot be invoked as function'],
    ["{{ printf }}", 'template: t:1: executing "t" at <printf>: wrong number of args for printf: want at least 1 got 0'],
    ['{{ "a" "b }}', "template: t:1: unterminated quoted string"],
    ['{{ define "b" }}new{{ end }}{{ block "b" . }}old{{ end }}', 'template: t:1: template: multiple definition of template "b"'],
  ])("error %s", (tpl, msg) => {
    let err: unknown;
    try {
      r(tpl);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GoTemplateError);
    expect((err as Error).message).toBe(msg);
  });

  test("budgets end endless work", () => {
    expect(() => r("{{ range 100000000 }}{{ end }}")).toThrow(/more than 5000000 steps/);
    expect(() => r('{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}')).toThrow(/exceeded maximum template depth/);
    const t = new Template("t", "{{ range 1000 }}xxxxxxxxxx{{ end }}", standardFuncs());
    expect(() => t.execute({}, standardFuncs(), { maxOutput: 5000 })).toThrow(/output is larger than 5000 bytes/);
    expect(() => t.execute({}, standardFuncs(), { deadline: Date.now() - 1, maxSteps: 1e9 })).not.toThrow(); // 1000 steps: under the check interval
    const slow = new Template("t", "{{ range 100000 }}{{ end }}", standardFuncs());
    expect(() => slow.execute({}, standardFuncs(), { deadline: Date.now() - 1 })).toThrow(/ran out of time/);
  });

  test("a stopped run says which budget stopped it; an error of the template has none", () => {
    const budget = (tpl: string, opts = {}) => {
      try {
        new Template("t", tpl, standardFuncs()).execute({}, standardFuncs(), opts);
      } catch (e) {
        return (e as GoTemplateError).budget ?? "none";
      }
      return "rendered";
    };
    expect(budget("{{ range 100000000 }}{{ end }}")).toBe("steps");
    expect(budget("{{ range 100000 }}{{ end }}", { deadline: Date.now() - 1 })).toBe("time");
    expect(budget("{{ range 1000 }}xxxxxxxxxx{{ end }}", { maxOutput: 5000 })).toBe("output");
    expect(budget('{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}')).toBe("depth");
    expect(budget("{{ 1 }}")).toBe("rendered");
    expect(budget("{{ fail 1 }}")).toBe("none");
  });

  test("a function's string result counts against the output budget: a doubled value stops there", () => {
    const t = new Template("t", '{{ $s := "x" }}{{ range 40 }}{{ $s = cat $s $s }}{{ end }}', standardFuncs());
    expect(() => t.execute({}, standardFuncs(), { maxOutput: 1 << 20 })).toThrow(/cat made a value larger than 1048576 bytes/);
  });

  test("indent and nindent refuse a result over 16 MiB before making it, as repeat does", () => {
    expect(r('{{ indent 2 "a\\nb" }}|{{ nindent 1 "c" }}')).toBe("  a\n  b|\n c");
    expect(() => r('{{ indent 1000000000 "x" }}')).toThrow(/indent: the result would be too large/);
    expect(() => r('{{ nindent 20000 (repeat 1000 "\\n") }}')).toThrow(/nindent: the result would be too large/);
  });

  test("printf: widths and precisions over 1e6 are refused as fmt refuses them", () => {
    expect(r('{{ printf "%*d|%-*d|%.*f" 3 1 -3 2 1 2.26 }}')).toBe("  1|2  |2.3");
    expect(r('{{ printf "%*d" 1000000000 1 }}')).toBe("%!(BADWIDTH)1");
    expect(r('{{ printf "%*d" "x" 1 }}')).toBe("%!(BADWIDTH)1");
    expect(r('{{ printf "%.*f" -1 2.5 }}')).toBe("%!(BADPREC)2.500000");
    expect(r('{{ printf "%.*f" 2000000 2.5 }}')).toBe("%!(BADPREC)2.500000");
    expect(r('{{ printf "%1000000d" 1 }}')).toHaveLength(1000000);
    expect(r('{{ printf "%99999999d|" 1 }}')).toBe("%!(NOVERB)%!(EXTRA int=1)");
    expect(r('{{ printf "%.99999999f|" 1.5 }}')).toBe("%!(NOVERB)%!(EXTRA float64=1.5)");
  });

  test("no way out of the data: only own fields are read", () => {
    for (const t of ["{{ .constructor }}", "{{ .__proto__ }}", "{{ .toString }}", "{{ .List.length }}", "{{ .Name.length }}"])
      expect(() => r(t)).toThrow(/can't evaluate field/);
    expect(r('{{ env "HOME" }}|{{ expandenv "$PATH" }}')).toBe("|");
  });

  test("a missing key is reported to onNoValue", () => {
    const seen: string[] = [];
    const t = new Template("x.ww", "a\n{{ .Tags.zz }}", standardFuncs());
    expect(t.execute(data, standardFuncs(), { onNoValue: (n, l, s) => seen.push(`${n}:${l}:${s}`) })).toBe("a\n<no value>");
    expect(seen).toEqual(["x.ww:2:.Tags.zz"]);
  });
});
