package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchAction returns the events of one realistic shell action, split as
// the gateway appends them: [requested, decided, started] before the
// process starts and [finished] after it ends.
func benchAction(tb testing.TB, id, agent, session string, at time.Time) (first, last []gatehouse.Event) {
	req := event(tb, at, gatehouse.EventActionRequested, id, gatehouse.ActionRequested{
		Agent: agent, Session: session, Model: "claude-test", Kind: gatehouse.KindShell,
		Argv: []string{"/bin/sh", "-c", "go test ./... 2>&1 | tail -n 20"}, Command: "go test ./... 2>&1 | tail -n 20",
		Shell: true, Cwd: "/home/agent/src/project", System: "linux/amd64",
		Intent: "run the unit tests after editing the parser", EnvNames: []string{"GOFLAGS", "HOME"},
		TimeoutMS: 120000, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
	})
	dec := event(tb, at, gatehouse.EventActionDecided, id, gatehouse.ActionDecided{
		Decision: gatehouse.DefaultDecision,
		Analysis: &gatehouse.Analysis{Class: gatehouse.ClassRead, Risk: 10, Reasons: []string{"runs tests", "reads files"},
			Commands: []gatehouse.AnalyzedCommand{
				{Name: "go", Args: []string{"test", "./..."}, Class: gatehouse.ClassRead, Risk: 10},
				{Name: "tail", Args: []string{"-n", "20"}, Class: gatehouse.ClassRead},
			}},
	})
	start := event(tb, at.Add(300*time.Microsecond), gatehouse.EventActionStarted, id, gatehouse.ActionStarted{})
	code, dur := 0, 1834.2
	fin := event(tb, at.Add(1834*time.Millisecond), gatehouse.EventActionFinished, id, gatehouse.ActionFinished{
		Status: gatehouse.StatusSucceeded, ExitCode: &code, DurationMS: &dur,
		Stdout:      "ok  \tgithub.com/example/project/parser\t0.412s\nok  \tgithub.com/example/project/lexer\t0.108s\n",
		StdoutBytes: 86, StdoutSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		StderrSHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	})
	return []gatehouse.Event{req, dec, start}, []gatehouse.Event{fin}
}

// BenchmarkAppendAction64 records whole actions (two Appends each, as the
// gateway does) from 64 concurrent clients against a real file, each
// Append durable (fsync) before it returns. One op is one action.
func BenchmarkAppendAction64(b *testing.B) { benchAppend(b, 64) }

// BenchmarkAppendAction1 is the same with one client: no group commit to
// share, so it measures the latency of two durable commits per action.
func BenchmarkAppendAction1(b *testing.B) { benchAppend(b, 1) }

func benchAppend(b *testing.B, clients int) {
	s := MustOpen(b)
	ctx := context.Background()
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			agent := fmt.Sprintf("agent-%02d", c)
			for {
				n := next.Add(1) - 1
				if n >= int64(b.N) {
					return
				}
				first, last := benchAction(b, fmt.Sprintf("01JBENCH%018d", n), agent, agent+"-session", t0.Add(time.Duration(n)*time.Millisecond))
				if _, err := s.Append(ctx, first...); err != nil {
					b.Error(err)
					return
				}
				if _, err := s.Append(ctx, last...); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "actions/s")
}

// The journal BenchmarkQueryAgentSince1h queries: 1,000,000 actions of 50
// agents spread evenly over the 24 hours before benchNow.
const (
	benchActions = 1_000_000
	benchAgents  = 50
)

var (
	benchNow  = t0.Add(24 * time.Hour)
	benchDir  string // removed by TestMain
	benchOnce sync.Once
	benchPath string
	benchErr  error
)

// benchJournal returns the path of the 1M-action journal, building it on
// first use in this process. Set GATEHOUSE_BENCH_JOURNAL to a path to keep
// the file and reuse it across runs.
func benchJournal(b *testing.B) string {
	b.Helper()
	benchOnce.Do(func() {
		path := os.Getenv("GATEHOUSE_BENCH_JOURNAL")
		if path != "" {
			if _, err := os.Stat(path); err == nil {
				benchPath = path
				return
			}
		} else {
			benchDir, benchErr = os.MkdirTemp("", "gatehouse-bench-")
			if benchErr != nil {
				return
			}
			path = filepath.Join(benchDir, "journal.db")
		}
		start := time.Now()
		benchErr = buildJournal(b, path)
		b.Logf("built %d actions (%d events) in %v", benchActions, 4*benchActions, time.Since(start).Round(time.Millisecond))
		benchPath = path
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchPath
}

// buildJournal appends the benchmark's actions through the ordinary
// Append, in large batches: each call is one transaction with many
// actions, complete (all four events) at once. Two producers keep the
// writer busy while they encode the next batch.
func buildJournal(b *testing.B, path string) error {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	const perCall, producers = 2000, 2
	step := 24 * time.Hour / benchActions
	var next atomic.Int64
	errs := make(chan error, producers)
	var wg sync.WaitGroup
	for range producers {
		wg.Go(func() {
			batch := make([]gatehouse.Event, 0, 4*perCall)
			for {
				lo := next.Add(perCall) - perCall
				if lo >= benchActions {
					return
				}
				batch = batch[:0]
				for n := lo; n < min(lo+perCall, benchActions); n++ {
					agent := fmt.Sprintf("agent-%02d", n%benchAgents)
					session := fmt.Sprintf("%s-s%d", agent, n/5000)
					at := benchNow.Add(-24 * time.Hour).Add(time.Duration(n) * step)
					first, last := benchAction(b, fmt.Sprintf("01JBULK%019d", n), agent, session, at)
					batch = append(append(batch, first...), last...)
				}
				if _, err := s.Append(ctx, batch...); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		s.Close()
		return err
	}
	return s.Close()
}

// BenchmarkQueryAgentSince1h times the query behind `gatehouse log
// --agent X --since 1h` on a journal of 1,000,000 actions (built once per
// process, which takes a minute or two).
func BenchmarkQueryAgentSince1h(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 1,000,000-action journal")
	}
	path := benchJournal(b)
	s := MustOpenPath(b, path)
	ctx := context.Background()
	f := gatehouse.ActionFilter{Agent: "agent-07", Since: benchNow.Add(-time.Hour)}
	as, err := s.Actions(ctx, f)
	if err != nil {
		b.Fatal(err)
	}
	if want := benchActions / benchAgents / 24; len(as) < want*9/10 || len(as) > want*11/10 {
		b.Fatalf("query returned %d actions, want about %d", len(as), want)
	}
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, err := s.Actions(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(b.N), "ms/op")
	b.ReportMetric(float64(len(as)), "actions/op")
}

// The journal of the console's benchmarks: 100,000 actions of 20 agents
// over the 24 hours before benchNow, in sessions of 100, on five systems
// (one of them none), with risks spread from 0 to 99.
const pageActions = 100_000

var (
	pageOnce sync.Once
	pagePath string
	pageErr  error
)

var pageSystems = []string{"", "prod-db", "staging", "github", "k8s-eu"}

// pageJournal returns the path of the 100,000-action journal, building
// it on first use in this process.
func pageJournal(b *testing.B) string {
	b.Helper()
	pageOnce.Do(func() {
		if benchDir == "" {
			if benchDir, pageErr = os.MkdirTemp("", "gatehouse-bench-"); pageErr != nil {
				return
			}
		}
		pagePath = filepath.Join(benchDir, "page.db")
		start := time.Now()
		s, err := sqlite.Open(context.Background(), pagePath)
		if err != nil {
			pageErr = err
			return
		}
		step := 24 * time.Hour / pageActions
		batch := make([]gatehouse.Event, 0, 4*2000)
		for n := range pageActions {
			agent := fmt.Sprintf("agent-%02d", n%20)
			at := benchNow.Add(-24 * time.Hour).Add(time.Duration(n) * step)
			first, last := benchAction(b, fmt.Sprintf("01JPAGE%019d", n), agent, fmt.Sprintf("%s-s%d", agent, n/2000), at)
			// Vary what the console filters on: system and risk.
			first[0] = event(b, at, gatehouse.EventActionRequested, first[0].Subject, gatehouse.ActionRequested{
				Agent: agent, Session: fmt.Sprintf("%s-s%d", agent, n/2000), Kind: gatehouse.KindShell,
				Argv: []string{"/bin/sh", "-c", fmt.Sprintf("make deploy-%d", n)}, Command: fmt.Sprintf("make deploy-%d", n),
				Shell: true, Cwd: "/srv", System: pageSystems[n%len(pageSystems)], Intent: "ship the release", TraceID: "t",
			})
			first[1] = event(b, at, gatehouse.EventActionDecided, first[1].Subject, gatehouse.ActionDecided{
				Decision: gatehouse.DefaultDecision,
				Analysis: &gatehouse.Analysis{Class: gatehouse.ClassWrite, Risk: (n * 37) % 100, Reasons: []string{"builds"}},
			})
			batch = append(append(batch, first...), last...)
			if len(batch) >= 4*2000 || n == pageActions-1 {
				if _, err := s.Append(context.Background(), batch...); err != nil {
					pageErr = err
					s.Close()
					return
				}
				batch = batch[:0]
			}
		}
		pageErr = s.Close()
		b.Logf("built %d actions in %v", pageActions, time.Since(start).Round(time.Millisecond))
	})
	if pageErr != nil {
		b.Fatal(pageErr)
	}
	return pagePath
}

// BenchmarkActivityPage times the console's activity query — one page of
// 51 actions (50 shown, one to know if there are more), newest first — on
// a journal of 100,000 actions, for each filter the console offers, at
// the newest page and deep into the journal by cursor. One op is one
// page.
func BenchmarkActivityPage(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 100,000-action journal")
	}
	s := MustOpenPath(b, pageJournal(b))
	ctx := context.Background()
	mid, err := s.Actions(ctx, gatehouse.ActionFilter{Until: benchNow.Add(-12 * time.Hour), Limit: 1})
	if err != nil || len(mid) != 1 {
		b.Fatalf("the middle action: %v %v", mid, err)
	}
	deep := mid[0].Cursor()
	for _, bc := range []struct {
		name string
		f    gatehouse.ActionFilter
	}{
		{"newest", gatehouse.ActionFilter{}},
		{"deep", gatehouse.ActionFilter{Before: deep}},
		{"forward", gatehouse.ActionFilter{After: deep, Oldest: true}},
		{"agent", gatehouse.ActionFilter{Agent: "agent-07"}},
		{"agent-deep", gatehouse.ActionFilter{Agent: "agent-07", Before: deep}},
		{"session", gatehouse.ActionFilter{Session: "agent-07-s25"}},
		{"system", gatehouse.ActionFilter{System: "prod-db"}},
		{"system-deep", gatehouse.ActionFilter{System: "prod-db", Before: deep}},
		{"status", gatehouse.ActionFilter{Status: gatehouse.StatusSucceeded}},
		{"risk90", gatehouse.ActionFilter{MinRisk: 90}},
		{"risk99-deep", gatehouse.ActionFilter{MinRisk: 99, Before: deep}},
		{"since1h", gatehouse.ActionFilter{Since: benchNow.Add(-time.Hour)}},
		{"text", gatehouse.ActionFilter{Grep: "deploy-4242"}},
		{"text-none", gatehouse.ActionFilter{Grep: "no such text"}},
		{"agent-system-risk", gatehouse.ActionFilter{Agent: "agent-03", System: "staging", MinRisk: 50}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := bc.f
			f.Limit = 51
			as, err := s.Actions(ctx, f)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				if _, err := s.Actions(ctx, f); err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(b.N), "ms/op")
			b.ReportMetric(float64(len(as)), "actions/op")
		})
	}
}
