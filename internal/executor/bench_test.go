package executor_test

import (
	"context"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/executor"
)

// BenchmarkRunTrue measures Prepare and Run of /bin/true, to be read next
// to BenchmarkExecTrueDirect: the difference is the executor's overhead
// (pipes, readers, waitid, the group kill, and the containment: making
// and removing a cgroup, or a sweep of /proc).
func BenchmarkRunTrue(b *testing.B) {
	for _, l := range []struct {
		name    string
		disable bool
	}{{executor.ContainCgroup, false}, {executor.ContainEnviron, true}} {
		b.Run(l.name, func(b *testing.B) {
			cfg := executor.DefaultConfig()
			cfg.DisableCgroup = l.disable
			e := executor.New(cfg)
			if e.Containment() != l.name {
				b.Skipf("containment %s here", e.Containment())
			}
			ctx := context.Background()
			spec := executor.Spec{Argv: []string{"/bin/true"}, Env: []string{}}
			for b.Loop() {
				p, err := e.Prepare(spec)
				if err != nil {
					b.Fatal(err)
				}
				if r := e.Run(ctx, p); r.ExitCode != 0 || r.Err != nil {
					b.Fatalf("exit %d, %v", r.ExitCode, r.Err)
				}
			}
		})
	}
}

func BenchmarkExecTrueDirect(b *testing.B) {
	for b.Loop() {
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKill100 measures a halt of 100 actions: 100 concurrent Runs of
// `sleep 300`, each with its own context, all cancelled at once; the time
// is from the cancel until every Run has returned, which it does once the
// action's processes are gone and the leader reaped. The median and the
// worst over the iterations are reported in ms; sleep does not ignore
// SIGTERM, so no grace is spent.
func BenchmarkKill100(b *testing.B) {
	for _, l := range []struct {
		name    string
		disable bool
	}{{executor.ContainCgroup, false}, {executor.ContainEnviron, true}} {
		b.Run(l.name, func(b *testing.B) {
			cfg := executor.DefaultConfig()
			cfg.DisableCgroup = l.disable
			e := executor.New(cfg)
			if e.Containment() != l.name {
				b.Skipf("containment %s here", e.Containment())
			}
			var times []time.Duration
			for b.Loop() {
				times = append(times, kill100(b, e, l.name))
			}
			slices.Sort(times)
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			b.ReportMetric(ms(times[len(times)/2]), "ms-median")
			b.ReportMetric(ms(times[len(times)-1]), "ms-max")
		})
	}
}

func kill100(b *testing.B, e *executor.Executor, containment string) time.Duration {
	const n = 100
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	var started, ended sync.WaitGroup
	results := make([]executor.Result, n)
	for i := range n {
		started.Add(1)
		sink := &readySink{}
		var once sync.Once
		sink.ready = func() { once.Do(started.Done) }
		p, err := e.Prepare(executor.Spec{Argv: sh("echo ready; exec sleep 300"), Env: []string{stdPath}, Stdout: sink})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancelOne := context.WithCancel(parent)
		defer cancelOne()
		ended.Go(func() { results[i] = e.Run(ctx, p) })
	}
	started.Wait()
	time.Sleep(20 * time.Millisecond) // for the shells to have become sleep
	t0 := time.Now()
	cancel()
	ended.Wait()
	d := time.Since(t0)
	for _, r := range results {
		if !r.Interrupted || r.Containment != containment {
			b.Fatalf("Interrupted %v containment %q signal %q: %v", r.Interrupted, r.Containment, r.Signal, r.Err)
		}
	}
	return d
}
