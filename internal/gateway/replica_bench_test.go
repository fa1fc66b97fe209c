package gateway_test

import (
	"context"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
)

// BenchmarkReplicasRunTrue64 is durable actions per second through two
// replicas on one PostgreSQL: 64 clients, half on each, run /bin/true
// through gateway.Run — decide, journal request, decision and start
// (committed, fenced against halts), exec, journal the end — as fast as
// they can. One op is one action.
func BenchmarkReplicasRunTrue64(b *testing.B) { benchReplicasRun(b, 2, 64) }

// BenchmarkReplicasRunTrue64One is the same through one replica, for
// comparison.
func BenchmarkReplicasRunTrue64One(b *testing.B) { benchReplicasRun(b, 1, 64) }

// BenchmarkRunTrue64SQLite is the same through one gateway on SQLite, the
// single-daemon baseline on the same machine.
func BenchmarkRunTrue64SQLite(b *testing.B) {
	f := newFixture(b, gateway.Config{})
	runClients(b, []*gateway.Gateway{f.gw}, f.agent, f.dir, 64)
	verifyOK(b, f.store)
}

func benchReplicasRun(b *testing.B, replicas, clients int) {
	a, r1, _, agent, _ := twoReplicas(b, replicaOpts{grace: time.Minute})
	gws := []*gateway.Gateway{a.gw, r1.gw}[:replicas]
	runClients(b, gws, agent, b.TempDir(), clients)
	verifyOK(b, a.store)
}

// runClients runs b.N actions of /bin/true from clients goroutines spread
// over gws, and reports actions per second.
func runClients(b *testing.B, gws []*gateway.Gateway, agent gatehouse.Principal, dir string, clients int) {
	req := gatehouse.RunRequest{Argv: []string{"/bin/true"}, Cwd: dir}
	sink := gateway.Sink{Stdout: io.Discard, Stderr: io.Discard}
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			gw := gws[c%len(gws)]
			for next.Add(1) <= int64(b.N) {
				act, err := gw.Run(context.Background(), agent, req, sink)
				if err != nil || act.Status != gatehouse.StatusSucceeded {
					b.Errorf("run: %+v %v", act, err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "actions/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkReplicaHaltPropagation times a halt issued on replica A
// reaching replica B, where an action in its scope runs `sleep 300`: from
// the call to A's Halt until the halt is in force on B (B refuses new
// actions from then on), and until B's action has ended (its process
// killed and reaped, its end journaled by B). Medians and 99th
// percentiles over b.N halts.
func BenchmarkReplicaHaltPropagation(b *testing.B) {
	a, r1, _, agent, admin := twoReplicas(b, replicaOpts{grace: time.Minute})
	ctx := context.Background()
	dir := b.TempDir()
	var inForce, ended []time.Duration
	b.ResetTimer()
	for range b.N {
		ch := runAsync(r1, agent, gatehouse.RunRequest{Argv: []string{"sleep", "300"}, Cwd: dir})
		eventually(b, "the action running on r1", func() bool { return len(running(b, a.store)) == 1 })
		t0 := time.Now()
		h, err := a.gw.Halt(ctx, admin, gatehouse.HaltRequest{Scope: gatehouse.Scope{Agent: agent.Name}, Reason: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		var forced time.Duration
		for {
			hs, _ := r1.gw.Halts(ctx, admin)
			if len(hs) == 1 && hs[0].ID == h.ID {
				forced = time.Since(t0)
				break
			}
			if time.Since(t0) > 30*time.Second {
				b.Fatal("the halt did not reach r1 within 30s")
			}
			time.Sleep(50 * time.Microsecond)
		}
		res := await(b, ch)
		done := time.Since(t0)
		if res.a == nil || res.a.Status != gatehouse.StatusInterrupted {
			b.Fatalf("r1's action: %+v %v", res.a, res.err)
		}
		inForce, ended = append(inForce, forced), append(ended, done)
		if _, err := a.gw.Resume(ctx, admin, gatehouse.Scope{Agent: agent.Name}); err != nil {
			b.Fatal(err)
		}
		eventually(b, "the lift reaching r1", func() bool {
			hs, _ := r1.gw.Halts(ctx, admin)
			return len(hs) == 0
		})
	}
	b.StopTimer()
	b.ReportMetric(msMedian(inForce), "in-force-median-ms")
	b.ReportMetric(msPercentile(inForce, 99), "in-force-p99-ms")
	b.ReportMetric(msMedian(ended), "killed-median-ms")
	b.ReportMetric(msPercentile(ended, 99), "killed-p99-ms")
	b.ReportMetric(0, "ns/op")
}

func msPercentile(d []time.Duration, p int) float64 {
	slices.Sort(d)
	return float64(d[min(len(d)-1, len(d)*p/100)]) / float64(time.Millisecond)
}
