package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/postgres/pgtest"
	"github.com/gatehouse-dev/gatehouse/internal/storetest"
)

// benchAction returns the events of one realistic shell action, split as
// the gateway appends them (the same action as the SQLite store's
// benchmark): [requested, decided, started] and [finished].
func benchAction(tb testing.TB, id, agent, session string, at time.Time) (first, last []gatehouse.Event) {
	req := storetest.Event(tb, at, gatehouse.EventActionRequested, id, gatehouse.ActionRequested{
		Agent: agent, Session: session, Model: "claude-test", Kind: gatehouse.KindShell,
		Argv: []string{"/bin/sh", "-c", "go test ./... 2>&1 | tail -n 20"}, Command: "go test ./... 2>&1 | tail -n 20",
		Shell: true, Cwd: "/home/agent/src/project", System: "linux/amd64",
		Intent: "run the unit tests after editing the parser", EnvNames: []string{"GOFLAGS", "HOME"},
		TimeoutMS: 120000, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Replica: "bench",
	})
	dec := storetest.Event(tb, at, gatehouse.EventActionDecided, id, gatehouse.ActionDecided{
		Decision: gatehouse.DefaultDecision,
		Analysis: &gatehouse.Analysis{Class: gatehouse.ClassRead, Risk: 10, Reasons: []string{"runs tests", "reads files"},
			Commands: []gatehouse.AnalyzedCommand{
				{Name: "go", Args: []string{"test", "./..."}, Class: gatehouse.ClassRead, Risk: 10},
				{Name: "tail", Args: []string{"-n", "20"}, Class: gatehouse.ClassRead},
			}},
	})
	start := storetest.Event(tb, at.Add(300*time.Microsecond), gatehouse.EventActionStarted, id, gatehouse.ActionStarted{Replica: "bench"})
	code, dur := 0, 1834.2
	fin := storetest.Event(tb, at.Add(1834*time.Millisecond), gatehouse.EventActionFinished, id, gatehouse.ActionFinished{
		Status: gatehouse.StatusSucceeded, ExitCode: &code, DurationMS: &dur,
		Stdout:      "ok  \tgithub.com/example/project/parser\t0.412s\nok  \tgithub.com/example/project/lexer\t0.108s\n",
		StdoutBytes: 86, StdoutSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		StderrSHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	})
	return []gatehouse.Event{req, dec, start}, []gatehouse.Event{fin}
}

// BenchmarkAppendAction64 records whole actions (the two Appends the
// gateway makes, each durable before it returns) from 64 concurrent
// clients through one store. One op is one action.
func BenchmarkAppendAction64(b *testing.B) { benchAppend(b, 1, 64) }

// BenchmarkAppendAction64TwoReplicas is the same with the 64 clients
// split over two stores on one database — two replicas' journal writers,
// which serialise on the head row.
func BenchmarkAppendAction64TwoReplicas(b *testing.B) { benchAppend(b, 2, 32) }

// BenchmarkAppendAction1 is one client: the latency of two commits.
func BenchmarkAppendAction1(b *testing.B) { benchAppend(b, 1, 1) }

func benchAppend(b *testing.B, stores, clients int) {
	u := pgtest.URL(b)
	ss := make([]*postgres.Store, stores)
	for i := range ss {
		ss[i] = mustOpen(b, u)
	}
	ctx := context.Background()
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for si, s := range ss {
		for c := range clients {
			wg.Go(func() {
				agent := fmt.Sprintf("agent-%d-%02d", si, c)
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
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "actions/s")
	if n := storetest.CheckChain(b, ss[0]); n != 4*b.N {
		b.Fatalf("%d events for %d actions", n, b.N)
	}
}
