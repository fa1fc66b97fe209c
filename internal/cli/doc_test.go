package cli

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/CLI.md from the commands' help texts")

const cliDoc = "../../docs/CLI.md"

// cliMarkdown renders the CLI reference: each command's help text exactly
// as `gatehouse help CMD` prints it.
func cliMarkdown() string {
	var b strings.Builder
	b.WriteString("# Command reference\n\n")
	b.WriteString("<!-- Generated from the commands' help texts by\n     go test ./internal/cli -run TestCLIDoc -update-docs\n     Do not edit by hand: edit the help text in internal/cli/CMD.go. -->\n\n")
	b.WriteString("Every command and flag of `gatehouse`. The text under each heading is\nexactly what `gatehouse help COMMAND` prints.\n\n")
	b.WriteString("Environment variables read by the CLI:\n\n")
	b.WriteString("| variable | meaning | default |\n|---|---|---|\n")
	b.WriteString("| `GATEHOUSE_URL` | where clients find the daemon | `http://127.0.0.1:7780` |\n")
	b.WriteString("| `GATEHOUSE_TOKEN` | the token a client presents (an agent's, or the admin's) | the admin token in the state directory, when readable |\n")
	b.WriteString("| `GATEHOUSE_STATE` | the state directory | `$XDG_STATE_HOME/gatehouse`, else `~/.local/state/gatehouse` |\n")
	b.WriteString("| `GATEHOUSE_SESSION`, `GATEHOUSE_MODEL` | defaults of `run --session` and `run --model`; the session and model of `sh` | none |\n")
	b.WriteString("| `GATEHOUSE_SH_ENV` | names of the caller's variables that `sh` passes on to the command (the daemon must allow each) | none |\n\n")
	b.WriteString("```\n" + mainHelp() + "```\n")
	for _, c := range commands {
		b.WriteString("\n## gatehouse " + c.name + "\n\n```\n" + c.help + "```\n")
	}
	return b.String()
}

func TestCLIDoc(t *testing.T) {
	want := cliMarkdown()
	if *updateDocs {
		if err := os.WriteFile(cliDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(cliDoc)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("docs/CLI.md does not match the commands' help texts; run: go test ./internal/cli -run TestCLIDoc -update-docs")
	}
}

// TestHelpTexts checks that every help text opens with its usage line.
func TestHelpTexts(t *testing.T) {
	for _, c := range commands {
		if !strings.HasPrefix(c.help, "Usage: gatehouse "+c.name) {
			t.Errorf("%s: help does not start with its usage line", c.name)
		}
	}
}
