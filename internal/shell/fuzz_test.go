package shell_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/shell"
)

// FuzzAnalyze checks the invariants of any analysis: it never panics, its
// class is valid, its risk is in 0..100 and inside its class's band for
// each command, its class and risk are the maximum of its commands', and a
// parse error is irreversible. The seed corpus is in
// testdata/fuzz/FuzzAnalyze, besides the table tests' commands.
func FuzzAnalyze(f *testing.F) {
	shell.SetStrict(true)
	for _, tc := range classCases {
		f.Add(tc.cmd)
	}
	f.Fuzz(func(t *testing.T, cmd string) {
		an := shell.Analyze(cmd)
		if err := check(an); err != "" {
			t.Fatalf("Analyze(%q): %s\n%s", cmd, err, describe(an))
		}
		if an.ParseError != "" && an.Class != gatehouse.ClassIrreversible {
			t.Fatalf("Analyze(%q): parse error but class %s", cmd, an.Class)
		}
		if _, err := json.Marshal(an); err != nil {
			t.Fatalf("Analyze(%q): %v", cmd, err)
		}
		argv := strings.Fields(cmd)
		if an := shell.AnalyzeArgv(argv); check(an) != "" {
			t.Fatalf("AnalyzeArgv(%q): %s\n%s", argv, check(an), describe(an))
		}
	})
}
