package policy_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

// benchCommand is a ~200-character pipeline.
const benchCommand = `cat /var/log/app/server-2026-12-04.log | grep -E "error|warn|fatal" | sed -e 's/^[0-9T:.-]* //' | sort | uniq -c | sort -rn | head -n 25 | awk '{print $1, $2, $3}' | tee /tmp/report.txt | wc -l`

// bigPolicy returns a policy of n rules in a realistic mix, whose rule
// matching benchCommand is the fifth from the end:
//
//	40% exact commands, 20% prefixes, 10% globs, 10% anchored regexes,
//	10% agent-scoped rules and 10% system-scoped rules without a command
//	matcher; among them, every 1000th rule a CEL `when` rule with no other
//	matcher, every 500th an unanchored regex and every 1000th a glob
//	starting with '*' (the last three cannot be indexed and are tried for
//	every action), and every 333rd a CEL rule behind a command prefix.
func bigPolicy(n int) string {
	var b strings.Builder
	b.WriteString("version: 1\ndefault: review\nrules:\n")
	for i := 0; i < n-5; i++ {
		fmt.Fprintf(&b, "  - id: r%d\n    effect: %s\n    reason: rule %d\n", i, []string{"allow", "review", "deny"}[i%3], i)
		switch {
		case i%1000 == 999:
			fmt.Fprintf(&b, "    when: 'analysis.risk > 95 && action.intent.contains(\"rotate-%d\")'\n", i)
		case i%500 == 250:
			fmt.Fprintf(&b, "    command: {regex: \"--flag-%d\\\\b\"}\n", i)
		case i%1000 == 500:
			fmt.Fprintf(&b, "    command: {glob: \"* --dangerous-%d *\"}\n", i)
		case i%333 == 0:
			fmt.Fprintf(&b, "    command: {prefix: \"deploy%d \"}\n    when: 'action.system.startsWith(\"prod\") && analysis.risk >= 60'\n", i)
		case i%10 < 4:
			fmt.Fprintf(&b, "    command: {exact: [\"tool%d status --all\", \"tool%d status\"]}\n", i, i)
		case i%10 < 6:
			fmt.Fprintf(&b, "    command: {prefix: \"svc%d deploy \"}\n    agent: [claude, \"ci-*\"]\n", i)
		case i%10 == 6:
			fmt.Fprintf(&b, "    command: {glob: \"kubectl%d delete * -n prod-*\"}\n", i)
		case i%10 == 7:
			fmt.Fprintf(&b, "    command: {regex: \"^terraform%d (apply|destroy)\\\\b\"}\n    system: [\"prod-*\"]\n", i)
		case i%10 == 8:
			fmt.Fprintf(&b, "    agent: [agent-%d]\n    max_class: write\n", i)
		default:
			fmt.Fprintf(&b, "    system: [prod-%d]\n    min_risk: 50\n", i)
		}
	}
	b.WriteString(`  - id: logs-report
    effect: allow
    reason: reading logs into a report
    command: {regex: "^cat /var/log/"}
    max_class: write
  - id: tail-1
    effect: review
    reason: tail
    command: {prefix: "cat "}
  - id: tail-2
    effect: deny
    reason: tail
    min_risk: 99
  - id: tail-3
    effect: allow
    reason: tail
    max_class: read
  - id: tail-4
    effect: review
    reason: tail
    class: [write]
`)
	return b.String()
}

func BenchmarkDecide10000Rules(b *testing.B) {
	p := mustParse(b, bigPolicy(10000))
	a := shellAction("claude", benchCommand)
	a.System = "staging"
	an := fakeAnalyze(benchCommand)
	if got := p.Decide(a, &an, nil, t0); got.Decision.Rule != "logs-report" {
		b.Fatalf("decided by %q (%s), want logs-report", got.Decision.Rule, got.Decision.Reason)
	}
	if len(p.Rules()) != 10000 {
		b.Fatalf("%d rules", len(p.Rules()))
	}
	times := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		p.Decide(a, &an, nil, t0)
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, times)
}

func reportPercentiles(b *testing.B, times []time.Duration) {
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds())/1e3, "p99-µs")
}

func BenchmarkParse10000Rules(b *testing.B) {
	src := []byte(bigPolicy(10000))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := policy.Parse(src, policy.Options{Analyze: fakeAnalyze}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecideDefaultPolicy decides a few typical actions with the
// default policy, whose rules are mostly CEL.
func BenchmarkDecideDefaultPolicy(b *testing.B) {
	p, err := policy.Parse(policy.DefaultPolicy(), policy.Options{Analyze: fakeAnalyze})
	if err != nil {
		b.Fatal(err)
	}
	for _, cmd := range []string{"ls -la", "touch notes.txt", benchCommand} {
		b.Run(strings.Fields(cmd)[0], func(b *testing.B) {
			a := shellAction("claude", cmd)
			an := fakeAnalyze(cmd)
			times := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				p.Decide(a, &an, nil, t0)
				times = append(times, time.Since(start))
			}
			reportPercentiles(b, times)
		})
	}
}

// BenchmarkLearnedExact looks up an exact learned rule among 1,000 and
// 100,000: the time should not grow with the count.
func BenchmarkLearnedExact(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			l := policy.NewLearned()
			for i := 0; i < n; i++ {
				agent := ""
				if i%2 == 0 {
					agent = fmt.Sprintf("agent-%d", i%100)
				}
				r := gatehouse.LearnedRule{ID: fmt.Sprintf("l%d", i), Match: "exact", Agent: agent,
					Pattern: fmt.Sprintf("make deploy-%d ENV=staging --verbose", i), CreatedBy: "alice", CreatedAt: t0}
				if err := l.Add(r); err != nil {
					b.Fatal(err)
				}
			}
			a := shellAction("agent-7", fmt.Sprintf("make deploy-%d ENV=staging --verbose", n-1))
			if _, ok := l.Match(a, t0); !ok {
				b.Fatal("no match")
			}
			miss := shellAction("agent-7", "make deploy-x ENV=staging --verbose")
			b.ResetTimer()
			for b.Loop() {
				l.Match(a, t0)
				l.Match(miss, t0)
			}
		})
	}
}

var _ = gatehouse.EffectAllow
