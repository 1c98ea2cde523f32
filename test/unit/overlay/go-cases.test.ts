import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunContext, readGoCases, testenvFiles } from "./go-cases";

/** The Go reader on a test file of our own (the shapes Warewulf's overlay tests use), no Warewulf needed. */
test("reads inline inputs, tables (slice and map), shared state and assertions; says why a case cannot be read", () => {
  const dir = mkdtempSync(join(tmpdir(), "drover-gocases-"));
  try {
    writeFileSync(join(dir, "given.conf"), "from a file\n");
    const go = `package x

func Test_a(t *testing.T) {
	env := testenv.New(t)
	defer env.RemoveAll()
	env.ImportFile("etc/given", "given.conf")
	tests := []struct {
		name  string
		input string
		args  []string
		log   string
	}{
		{name: "one", input: "a\\tb", args: []string{"--render", "n1", "o", "f.ww"}, log: want1},
		{name: "two", args: []string{"--render", "n2", "o", "f.ww"}, log: \`n2 a	b
\`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.input != "" {
				env.WriteFile("etc/input", tt.input)
			}
			cmd := show.GetCommand()
			cmd.SetArgs(tt.args)
			logbuf := bytes.NewBufferString("")
			wwlog.SetLogWriter(logbuf)
			err := cmd.Execute()
			assert.NoError(t, err)
			assert.Equal(t, strings.ReplaceAll(tt.log, "%H%", "h"), logbuf.String())
		})
	}
}

func Test_b(t *testing.T) {
	tests := map[string]struct{ args []string }{
		"bad": {args: []string{"x"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			env := testenv.New(t)
			env.Symlink("a", "b")
		})
	}
}

const want1 string = \`n1 a	b %H%
\`
`;
    writeFileSync(join(dir, "x_test.go"), go);
    const seen: RunContext[] = [];
    const init = testenvFiles("package testenv\nconst initWarewulfConf = ``\nconst initNodesConf = `nodes: {}\n`\n");
    const r = readGoCases(join(dir, "x_test.go"), "o/internal/x_test.go", init, (ctx) => {
      seen.push(ctx);
      return { log: `${ctx.args[1]} ${ctx.files.get("etc/input")}${ctx.args[1] === "n1" ? " h" : ""}\n`, stdout: "", stderr: "" };
    });
    expect(r.found).toBe(3);
    expect(r.problems).toEqual([]);
    expect(r.cases.map((c) => [c.name, c.unreadable ?? "read", c.checks.map((k) => k.ok)])).toEqual([
      ["one", "read", [true, true]],
      // The environment is shared: "two" sees the input "one" wrote.
      ["two", "read", [true, true]],
      ["bad", "line 40: env.Symlink is not known to the reader", []],
    ]);
    expect(seen[0]!.files.get("etc/given")).toBe("from a file\n");
    expect(seen[0]!.files.get("etc/warewulf/nodes.conf")).toBe("nodes: {}\n");
    expect(seen[0]!.warewulfConf).toEqual([""]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
