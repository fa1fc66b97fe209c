package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/executor"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/report"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

// The incident benchmark's journal: 100,000 actions in one hour, by 20
// agents in 200 sessions, with the mix an incident has: 2 % failed, 1 %
// denied, 0.5 % reviewed, a few destructive, retries, session prompts and
// three halts that killed what ran.
const (
	incidentActions  = 100_000
	incidentAgents   = 20
	incidentSessions = 200
)

var incidentStart = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// incidentJournal returns the path of the benchmark's journal, building it
// (about a minute) unless GATEHOUSE_BENCH_INCIDENT names one that exists;
// with that variable set, the built file is kept there.
// GATEHOUSE_BENCH_OUTPUT=N gives each action N bytes of stdout instead of
// 36 (use another GATEHOUSE_BENCH_INCIDENT file for it).
func incidentJournal(b *testing.B) string {
	b.Helper()
	path := os.Getenv("GATEHOUSE_BENCH_INCIDENT")
	if path != "" {
		if _, err := os.Stat(path); err == nil {
			return path
		}
	} else {
		path = filepath.Join(b.TempDir(), "incident.db")
	}
	start := time.Now()
	buildIncidentJournal(b, path)
	b.Logf("built %d actions in %v", incidentActions, time.Since(start).Round(time.Millisecond))
	return path
}

func buildIncidentJournal(b *testing.B, path string) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ev := func(t time.Time, typ gatehouse.EventType, subject string, data any) gatehouse.Event {
		e, err := gatehouse.NewEvent(t, typ, subject, data)
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	commands := []string{"go test ./...", "git status", "make deploy ENV=staging", "kubectl get pods -n web",
		"rm -rf build/", "curl -sS https://api.example.com/health", "terraform plan", "cat README.md"}
	classes := []gatehouse.Class{gatehouse.ClassRead, gatehouse.ClassRead, gatehouse.ClassWrite, gatehouse.ClassRead,
		gatehouse.ClassDestructive, gatehouse.ClassRead, gatehouse.ClassRead, gatehouse.ClassRead}
	step := time.Hour / incidentActions
	stdout := "ok  \tgithub.com/example/project\t0.41s\n"
	if n, err := strconv.Atoi(os.Getenv("GATEHOUSE_BENCH_OUTPUT")); err == nil && n > 0 {
		stdout = strings.Repeat(stdout, n/len(stdout)+1)[:n]
	}
	var batch []gatehouse.Event
	flush := func() {
		if _, err := s.Append(ctx, batch...); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	for sess := range incidentSessions {
		agent := fmt.Sprintf("agent-%02d", sess%incidentAgents)
		batch = append(batch, ev(incidentStart.Add(time.Duration(sess)*time.Millisecond), gatehouse.EventSession,
			fmt.Sprintf("sess-%03d", sess), gatehouse.SessionEvent{Agent: agent, Event: "UserPromptSubmit", Prompt: "fix the flaky deploy and ship it"}))
	}
	flush()
	var killed []string
	for n := range incidentActions {
		sess := n % incidentSessions
		agent := fmt.Sprintf("agent-%02d", sess%incidentAgents)
		id := fmt.Sprintf("01JINCIDENT%015d", n)
		at := incidentStart.Add(time.Duration(n) * step)
		k := (n / incidentSessions) % len(commands)
		class := classes[k]
		risk := map[gatehouse.Class]int{gatehouse.ClassRead: 5, gatehouse.ClassWrite: 40, gatehouse.ClassDestructive: 75}[class]
		batch = append(batch, ev(at, gatehouse.EventActionRequested, id, gatehouse.ActionRequested{
			Agent: agent, Session: fmt.Sprintf("sess-%03d", sess), Kind: gatehouse.KindShell, Shell: true,
			Argv: []string{"/bin/sh", "-c", commands[k]}, Command: commands[k], Cwd: "/src/app",
			System: fmt.Sprintf("system-%d", n%7), Intent: "ship the fix", TraceID: fmt.Sprintf("%032x", n+1)}))
		an := &gatehouse.Analysis{Class: class, Risk: risk, Reasons: []string{"analysed"},
			Commands: []gatehouse.AnalyzedCommand{{Name: "x", Class: class, Risk: risk}}}
		code, dur := 0, 18.5
		switch {
		case n%100 == 37: // denied by policy
			batch = append(batch,
				ev(at, gatehouse.EventActionDecided, id, gatehouse.ActionDecided{Decision: gatehouse.Decision{Effect: gatehouse.EffectDeny, Rule: "no", Reason: "no"}, Analysis: an}),
				ev(at.Add(time.Microsecond), gatehouse.EventActionFinished, id, gatehouse.ActionFinished{Status: gatehouse.StatusDenied, Error: "refused"}))
			continue
		case n%200 == 11: // reviewed and approved
			batch = append(batch,
				ev(at, gatehouse.EventActionDecided, id, gatehouse.ActionDecided{Decision: gatehouse.Decision{Effect: gatehouse.EffectReview, Rule: "r", Reason: "look", Approvals: 1}, Analysis: an}),
				ev(at.Add(2*time.Millisecond), gatehouse.EventActionReviewed, id, gatehouse.ActionReviewed{By: "alice", Verdict: gatehouse.VerdictApprove, LatencyMS: 2}))
		default:
			batch = append(batch, ev(at, gatehouse.EventActionDecided, id, gatehouse.ActionDecided{Decision: gatehouse.DefaultDecision, Analysis: an}))
		}
		fin := gatehouse.ActionFinished{Status: gatehouse.StatusSucceeded, ExitCode: &code, DurationMS: &dur,
			Stdout: stdout, StdoutBytes: int64(len(stdout))}
		if n%50 == 3 {
			code = 1
			fin.Status, fin.Stderr = gatehouse.StatusFailed, "FAIL\n"
		}
		batch = append(batch, ev(at.Add(3*time.Millisecond), gatehouse.EventActionStarted, id, gatehouse.ActionStarted{}))
		if n%33333 == 100 { // still running when a halt comes: killed
			killed = append(killed, id)
			continue
		}
		batch = append(batch, ev(at.Add(21*time.Millisecond), gatehouse.EventActionFinished, id, fin))
		if len(batch) >= 8000 {
			flush()
		}
	}
	for i, id := range killed {
		t := incidentStart.Add(time.Duration(i+1) * 15 * time.Minute)
		batch = append(batch,
			ev(t, gatehouse.EventHaltIssued, fmt.Sprintf("h-%d", i), gatehouse.HaltIssued{Mode: gatehouse.ModeHalt,
				Scope: gatehouse.Scope{All: true}, Reason: "stop", By: "tripwire:velocity", Tripwire: "velocity", Kill: true, Killed: []string{id}}),
			ev(t.Add(time.Millisecond), gatehouse.EventActionFinished, id, gatehouse.ActionFinished{Status: gatehouse.StatusInterrupted, Error: "interrupted: halted"}),
			ev(t.Add(time.Second), gatehouse.EventHaltLifted, fmt.Sprintf("h-%d", i), gatehouse.HaltLifted{By: "admin"}))
	}
	flush()
}

// BenchmarkIncident100k builds the incident report of one hour holding
// 100,000 actions from a real SQLite store, as GET /v1/incident does:
// the query (every action decoded), the halt and session events, the
// sections. The render sub-benchmarks write the built report in each
// format.
func BenchmarkIncident100k(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 100,000-action journal")
	}
	path := incidentJournal(b)
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	gw := gateway.New(s, executor.New(executor.Config{}), gateway.Config{}, gateway.Options{
		AdminToken: "gadm_bench", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	admin, err := gw.Authenticate(context.Background(), "gadm_bench")
	if err != nil {
		b.Fatal(err)
	}
	q := report.Query{Since: incidentStart, Until: incidentStart.Add(time.Hour)}
	r, err := gw.Incident(context.Background(), admin, q)
	if err != nil {
		b.Fatal(err)
	}
	if r.Summary.Actions != incidentActions || r.Truncated || len(r.Halts) != 3 {
		b.Fatalf("report of %d actions (truncated %v, %d halts), want %d", r.Summary.Actions, r.Truncated, len(r.Halts), incidentActions)
	}
	b.Run("build", func(b *testing.B) {
		cpu0 := cpuTime()
		for b.Loop() {
			if _, err := gw.Incident(context.Background(), admin, q); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/report")
		// CPU time (both cores) is steadier than wall time on a shared
		// machine.
		b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/report")
	})
	for _, f := range []struct {
		name   string
		render func(io.Writer, *report.Report) error
	}{{"json", report.JSON}, {"markdown", report.Markdown}, {"html", report.HTML}} {
		b.Run(f.name, func(b *testing.B) {
			var n countWriter
			for b.Loop() {
				n = 0
				if err := f.render(&n, r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/(1<<20), "MiB")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/report")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
