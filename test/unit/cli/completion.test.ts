import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { drover, tempDir } from "../../helpers/cli";

const t = tempDir("drover-completion-");
afterAll(() => t.cleanup());

/** What bash offers after the typed words, with the generated script sourced. */
function bashComplete(script: string, words: string[]): string[] {
  writeFileSync(join(t.dir, "c.bash"), script);
  const cmd = `source ${join(t.dir, "c.bash")}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _drover; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = Bun.spawnSync(["bash", "-c", cmd], { stderr: "pipe" });
  expect(r.stderr.toString()).toBe("");
  return r.stdout.toString().split("\n").filter(Boolean);
}

test("'drover completion bash' completes commands, aliases and options from the command table", async () => {
  const r = await drover(t.dir, "completion", "bash");
  expect(r.code).toBe(0);
  expect(bashComplete(r.out, ["drover", "no"])).toEqual(["node"]);
  expect(bashComplete(r.out, ["drover", "node", "a"])).toEqual(["add"]);
  expect(bashComplete(r.out, ["drover", "-d", "/x", "container", "ex"])).toEqual(["exec"]);
  expect(bashComplete(r.out, ["drover", "node", "add", "n1", "--ipa"])).toEqual(["--ipaddr", "--ipaddr6"]);
  expect(bashComplete(r.out, ["drover", "b"])).toEqual(["backup"]);
});

test("'drover completion zsh' and 'drover completion fish' name every command; an unknown shell is refused", async () => {
  const zsh = await drover(t.dir, "completion", "zsh");
  expect(zsh.out).toStartWith("#compdef drover\n");
  expect(zsh.out).toContain("'drover node add' '");
  const fish = await drover(t.dir, "completion", "fish");
  expect(fish.out).toContain(`complete -c drover -f -n 'test (__drover_path) = "drover node"' -a 'add' -d 'add nodes`);
  expect(fish.out).toContain(`complete -c drover -n 'test (__drover_path) = "drover node add"' -l ipaddr`);
  for (const [shell, text] of [
    ["zsh", zsh.out],
    ["fish", fish.out],
  ] as const) {
    const bin = Bun.which(shell);
    if (!bin) {
      console.warn(`completion.test: ${shell} syntax not checked: no ${shell} here (apt: ${shell})`);
      continue;
    }
    writeFileSync(join(t.dir, `c.${shell}`), text);
    expect(Bun.spawnSync([bin, "-n", join(t.dir, `c.${shell}`)]).exitCode).toBe(0);
  }
  expect((await drover(t.dir, "completion", "tcsh")).code).toBe(2);
});

test("'drover man' is a roff page with every command; man renders it", async () => {
  const r = await drover(t.dir, "man");
  expect(r.out).toStartWith(".TH DROVER 1 ");
  expect(r.out).toContain('.SS "drover node add [options] <names...>"');
  expect(r.out).toContain('.SS "drover backup [options] <file>"');
  const man = Bun.which("man");
  if (man) {
    writeFileSync(join(t.dir, "drover.1"), r.out);
    const text = Bun.spawnSync([man, "-l", join(t.dir, "drover.1")], {
      env: { ...process.env, MANPAGER: "cat", PAGER: "cat", MANWIDTH: "100" },
    }).stdout.toString();
    expect(text).toContain("drover node add [options] <names...>");
  }
});

test("'drover help node add' shows node add's help; aliases work; an unknown command is not found (3)", async () => {
  const r = await drover(t.dir, "help", "node", "add");
  expect(r.code).toBe(0);
  expect(r.out).toStartWith("Usage: drover node add|new [options] <names...>");
  expect((await drover(t.dir, "help", "container", "exec")).out).toStartWith("Usage: drover image exec");
  expect((await drover(t.dir, "help")).out).toStartWith("Usage: drover [options] [command]");
  const bad = await drover(t.dir, "help", "node", "frob");
  expect(bad.code).toBe(3);
  expect(bad.err).toContain("no command 'drover node frob'");
});
