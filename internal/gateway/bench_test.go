package gateway_test

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/shell"
)

// BenchmarkRunTrue is the gateway's own share of the overhead (no HTTP):
// gateway.Run of /bin/true — decide, journal write-ahead (synced), exec,
// journal the end (synced) — next to a direct fork/exec, alternately.
func BenchmarkRunTrue(b *testing.B) {
	f := newFixture(b, gateway.Config{})
	ctx := context.Background()
	req := gatehouse.RunRequest{Argv: []string{"/bin/true"}, Cwd: f.dir}
	sink := gateway.Sink{Stdout: io.Discard, Stderr: io.Discard}
	var direct, run []time.Duration
	for range b.N {
		t0 := time.Now()
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := f.gw.Run(ctx, f.agent, req, sink); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		direct = append(direct, t1.Sub(t0))
		run = append(run, t2.Sub(t1))
	}
	b.ReportMetric(msMedian(direct), "direct-median-ms")
	b.ReportMetric(msMedian(run), "gateway-median-ms")
	b.ReportMetric(0, "ns/op")
}

func msMedian(d []time.Duration) float64 {
	slices.Sort(d)
	return float64(d[len(d)/2]) / float64(time.Millisecond)
}

// BenchmarkDecide10000Rules is what every action pays to be decided: the
// shell analysis of a ~200-character pipeline plus the policy decision
// against 10,000 rules (the matching one near the end), through the
// daemon's PolicyDecider.
func BenchmarkDecide10000Rules(b *testing.B) {
	var src strings.Builder
	src.WriteString("version: 1\ndefault: review\nrules:\n")
	for i := range 10000 {
		fmt.Fprintf(&src, "  - id: r%d\n    effect: allow\n    reason: generated\n", i)
		switch i % 5 {
		case 0:
			fmt.Fprintf(&src, "    command: {exact: \"tool%d --flag\"}\n", i)
		case 1:
			fmt.Fprintf(&src, "    command: {prefix: \"tool%d \"}\n", i)
		case 2:
			fmt.Fprintf(&src, "    command: {glob: \"tool%d * --out=*\"}\n", i)
		case 3:
			fmt.Fprintf(&src, "    command: {regex: \"^tool%d (a|b)\"}\n", i)
		case 4:
			fmt.Fprintf(&src, "    agent: [agent-%d]\n    system: [sys-%d]\n", i, i)
		}
	}
	src.WriteString("  - id: the-one\n    effect: allow\n    reason: matches the pipeline\n    command: {prefix: \"cd /srv/app && git fetch\"}\n    max_class: write\n")
	z := gateway.Analyzers{Shell: shell.Analyze, Argv: shell.AnalyzeArgv}
	p, err := policy.Parse([]byte(src.String()), policy.Options{Analyze: z.Shell})
	if err != nil {
		b.Fatal(err)
	}
	d := gateway.NewPolicyDecider(p, policy.NewLearned(), z, nil)
	a := &gatehouse.Action{ID: "x", Agent: "ci", Kind: gatehouse.KindShell, Shell: true, Cwd: "/srv/app",
		Command: `cd /srv/app && git fetch origin && git log --oneline -5 | grep -v WIP | awk '{print $1}' | xargs -I{} git show --stat {} | tee /tmp/report.txt | wc -l`}
	ctx := context.Background()
	var took []time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		v, _ := d.Decide(ctx, a)
		took = append(took, time.Since(t0))
		if v.Decision.Rule != "the-one" {
			b.Fatalf("decided by %q: %s", v.Decision.Rule, v.Decision.Reason)
		}
	}
	b.ReportMetric(float64(msMedian(took))*1000, "p50-µs")
}

// BenchmarkTripwireToHalt measures from a tripwire's threshold being
// crossed to its halt being in force: each iteration a fresh agent's action
// is denied once more than the denials tripwire allows (max 1 here), and
// the clock runs from the start of the Run whose end crosses it to the
// moment the halt refuses the agent's next action — the halt's journaling
// and enforcement, measured from outside.
func BenchmarkTripwireToHalt(b *testing.B) {
	f, _ := reviewFixture(b, `version: 1
default: deny
tripwires:
  denials: {max: 1, window: 1h, effect: halt}
`)
	ctx := context.Background()
	req := gatehouse.RunRequest{Argv: []string{"true"}, Cwd: f.dir}
	var took []time.Duration
	for i := range b.N {
		_, tok, err := f.gw.AddAgent(ctx, f.admin, fmt.Sprintf("a%d", i))
		if err != nil {
			b.Fatal(err)
		}
		agent, _ := f.gw.Authenticate(ctx, tok)
		if _, err := f.gw.Run(ctx, agent, req, gateway.Sink{}); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if _, err := f.gw.Run(ctx, agent, req, gateway.Sink{}); err != nil { // crosses: the halt follows its end
			b.Fatal(err)
		}
		crossed := time.Since(t0)
		hs, _ := f.gw.Halts(ctx, f.admin)
		if len(hs) != i+1 {
			b.Fatalf("%d halts in force, want %d", len(hs), i+1)
		}
		took = append(took, crossed)
	}
	b.ReportMetric(msMedian(took), "cross-to-halt-median-ms")
	b.ReportMetric(0, "ns/op")
}
