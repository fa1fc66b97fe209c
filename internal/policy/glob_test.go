package policy_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"kubectl delete *", "kubectl delete pod/a -n prod", true},
		{"kubectl delete *", "kubectl delete ", true},
		{"kubectl delete *", "kubectl delete", false},
		{"*", "", true},
		{"*", "anything at all / with slashes", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "acb", false},
		{"a*a", "a", false},
		{"a*a", "aa", true},
		{"*.tfvars", "prod.tfvars", true},
		{"ls ?", "ls x", true},
		{"ls ?", "ls é", true},
		{"ls ?", "ls xy", false},
		{"db[0-9]", "db7", true},
		{"db[!0-9]", "db7", false},
		{"db[^0-9]", "dbx", true},
		{"db[]]", "db]", true},
		{`rm \*`, "rm *", true},
		{`rm \*`, "rm x", false},
		{`a\?`, "a?", true},
		{"echo \n*", "echo \nx", true},
	}
	for _, tt := range tests {
		fast, re, _, err := policy.GlobMatch(tt.pat, tt.s)
		if err != nil {
			t.Errorf("%q: %v", tt.pat, err)
			continue
		}
		if fast != tt.want || re != tt.want {
			t.Errorf("glob %q on %q = %v (regexp %v), want %v", tt.pat, tt.s, fast, re, tt.want)
		}
	}
}

// TestGlobFastPath checks the literal-pieces matcher against the regular
// expression translation on random star globs and strings.
func TestGlobFastPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	gen := func(alphabet string, n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	for i := 0; i < 20000; i++ {
		pat, s := gen("ab*", rng.IntN(7)), gen("ab", rng.IntN(9))
		fast, re, hasFast, err := policy.GlobMatch(pat, s)
		if err != nil || !hasFast {
			t.Fatalf("%q: %v %v", pat, err, hasFast)
		}
		if fast != re {
			t.Fatalf("glob %q on %q: fast %v, regexp %v", pat, s, fast, re)
		}
	}
}
