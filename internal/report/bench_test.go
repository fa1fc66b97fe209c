package report_test

import (
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/report"
)

// benchInput is 100,000 actions in an hour in memory: Build's own share
// of the incident benchmark (internal/gateway BenchmarkIncident100k
// includes reading them from SQLite).
func benchInput() *report.Input {
	start := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	commands := []string{"go test ./...", "git status", "make deploy ENV=staging", "kubectl get pods -n web", "rm -rf build/"}
	in := &report.Input{Now: start.Add(time.Hour), Query: report.Query{Since: start, Until: start.Add(time.Hour)}}
	for n := range 100_000 {
		at := start.Add(time.Duration(n) * 36 * time.Millisecond)
		st, fin := at.Add(3*time.Millisecond), at.Add(21*time.Millisecond)
		code, dur := 0, 18.0
		a := &gatehouse.Action{ID: fmt.Sprintf("01JINCIDENT%015d", n), Time: at, Agent: fmt.Sprintf("agent-%02d", n%20),
			Session: fmt.Sprintf("sess-%03d", n%200), Kind: gatehouse.KindShell, Command: commands[(n/200)%len(commands)],
			System: fmt.Sprintf("system-%d", n%7), Intent: "ship the fix", TraceID: fmt.Sprintf("%032x", n+1),
			Decision: gatehouse.DefaultDecision, Analysis: &gatehouse.Analysis{Class: gatehouse.ClassRead, Risk: 5},
			Status: gatehouse.StatusSucceeded, ExitCode: &code, DurationMS: &dur, StartedAt: &st, FinishedAt: &fin,
			Seq: []int64{int64(4*n + 1), int64(4*n + 2), int64(4*n + 3), int64(4*n + 4)}}
		if n%50 == 3 {
			a.Status = gatehouse.StatusFailed
		}
		in.Actions = append(in.Actions, a)
	}
	return in
}

func BenchmarkBuild100k(b *testing.B) {
	in := benchInput()
	cpu0 := cpuTime()
	for b.Loop() {
		report.Build(in)
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
}

// cpuTime is the process's user and system CPU time so far: steadier than
// wall time on a shared machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkRender100k(b *testing.B) {
	r := report.Build(benchInput())
	for _, f := range []struct {
		name   string
		render func(io.Writer, *report.Report) error
	}{{"json", report.JSON}, {"markdown", report.Markdown}, {"html", report.HTML}} {
		b.Run(f.name, func(b *testing.B) {
			cpu0 := cpuTime()
			for b.Loop() {
				if err := f.render(io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}
