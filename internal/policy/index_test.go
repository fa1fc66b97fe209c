package policy_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// TestIndexMatchesLinearScan decides random actions against random
// policies, with the index and by trying every rule in order, and expects
// the same decision every time: the index must only ever skip rules that
// cannot match.
func TestIndexMatchesLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"git", "git push", "git push origin", "make", "make test", "ls", "rm -rf", "kubectl", "kubectl delete", "g", ""}
	pick := func(l []string) string { return l[rng.IntN(len(l))] }
	agents := []string{"claude", "bob", "ci-1", "ci-22"}
	systems := []string{"", "prod-eu", "prod-us", "staging"}
	for round := 0; round < 40; round++ {
		var b strings.Builder
		b.WriteString("version: 1\ndefault: review\nrules:\n")
		n := 5 + rng.IntN(60)
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "  - id: r%d\n    effect: %s\n    reason: r%d\n", i, pick([]string{"allow", "deny", "review"}), i)
			matchers := 0
			if rng.IntN(3) == 0 {
				fmt.Fprintf(&b, "    agent: [%q]\n", pick(append(agents, "ci-*", "*")))
				matchers++
			}
			if rng.IntN(4) == 0 {
				fmt.Fprintf(&b, "    system: [%q, %q]\n", pick(systems[1:]), pick([]string{"prod-*", "staging"}))
				matchers++
			}
			switch rng.IntN(6) {
			case 0:
				fmt.Fprintf(&b, "    command: {exact: [%q, %q]}\n", pick(words[:10])+" x", pick(words[:10]))
				matchers++
			case 1:
				fmt.Fprintf(&b, "    command: {prefix: %q}\n", pick(words[:10]))
				matchers++
			case 2:
				fmt.Fprintf(&b, "    command: {glob: %q}\n", pick([]string{"git *", "* origin *", "make ?est", "kubectl delete *", "ls", "g[io]t *"}))
				matchers++
			case 3:
				fmt.Fprintf(&b, "    command: {regex: %q}\n", pick([]string{"^git (push|pull)", "origin", "^(?i)LS", "^make t", "^kubectl.*delete", "(?m)^rm"}))
				matchers++
			}
			if rng.IntN(5) == 0 {
				fmt.Fprintf(&b, "    max_class: %s\n", pick([]string{"read", "write", "destructive"}))
				matchers++
			}
			if rng.IntN(8) == 0 {
				fmt.Fprintf(&b, "    when: 'action.command.size() %% %d == 0'\n", 2+rng.IntN(3))
				matchers++
			}
			if matchers == 0 {
				b.WriteString("    min_risk: 50\n")
			}
		}
		p := mustParse(t, b.String())
		for k := 0; k < 200; k++ {
			cmd := strings.TrimSpace(pick(words) + " " + pick([]string{"", "x", "origin main", "est", "pod/a", "-la"}))
			a := shellAction(pick(agents), cmd)
			a.System = pick(systems)
			an := fakeAnalyze(cmd)
			got := p.Decide(a, &an, nil, t0)
			want := p.DecideLinear(a, &an, t0)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d, %s@%s %q: indexed %+v, linear %+v\n%s", round, a.Agent, a.System, cmd, got.Decision, want.Decision, b.String())
			}
		}
	}
}
