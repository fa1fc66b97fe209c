package tripwire_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/tripwire"
)

// TestConcurrent observes from many goroutines at once (run with -race):
// a tripwire shared by all of them fires exactly once, and each
// goroutine's own tripwires fire exactly once each.
func TestConcurrent(t *testing.T) {
	cfg := tripwire.DefaultConfig()
	cfg.FirstContact = &tripwire.FirstContact{Effect: tripwire.EffectHalt}
	cfg.SpeedBump = &tripwire.SpeedBump{MinRisk: 90, Interval: tripwire.Duration(time.Second)}
	m := tripwire.NewMonitor(cfg)
	const workers, each = 32, 200
	var mu sync.Mutex
	count := map[string]int{}
	var passed atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			own := fmt.Sprintf("agent-%d", w)
			for i := range each {
				at := t0.Add(time.Duration(i) * time.Millisecond)
				var fired []tripwire.Fired
				// Shared: one agent, one session, one system, from everyone.
				o := tripwire.Observation{ActionID: fmt.Sprintf("shared-%d-%d", w, i), Agent: "shared", Session: "shared",
					System: "prod", Time: at, Status: gatehouse.StatusRunning, Effect: gatehouse.EffectAllow,
					Class: gatehouse.ClassDestructive, Risk: 80}
				fired = append(fired, m.Observe(o)...)
				// Own: a failure and a denial each time.
				fired = append(fired, m.Observe(tripwire.Observation{ActionID: fmt.Sprintf("f-%d-%d", w, i), Agent: own,
					Session: own, Time: at, Status: gatehouse.StatusFailed})...)
				fired = append(fired, m.Observe(tripwire.Observation{ActionID: fmt.Sprintf("d-%d-%d", w, i), Agent: own,
					Session: own, Command: "rm -rf /", Time: at, Status: gatehouse.StatusDenied, Effect: gatehouse.EffectDeny})...)
				if m.SpeedBumpWait(own, 95, at) == 0 {
					passed.Add(1)
				}
				if i%50 == 0 {
					m.SetConfig(cfg)
					m.SeedSystems(own, "staging")
				}
				mu.Lock()
				for _, f := range fired {
					count[f.Tripwire+":"+f.Agent+f.Session]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	want := map[string]int{"velocity:shared": 1, "destructive_budget:shared": 1, "first_contact:shared": 1}
	for w := range workers {
		own := fmt.Sprintf("agent-%d", w)
		want["failures:"+own] = 1
		want["denials:"+own] = 1
	}
	if len(count) != len(want) {
		t.Errorf("fired %v", count)
	}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%s fired %d times, want %d", k, count[k], n)
		}
	}
	// Each own agent's 200 actions span 199ms: only the first passed the
	// 1s speed bump.
	if passed.Load() != workers {
		t.Errorf("%d actions passed the speed bump, want %d", passed.Load(), workers)
	}
}

// BenchmarkObserve is the cost of one Observe, the tripwires' whole share
// of the path from a threshold being crossed to the halt in force. Each
// iteration is one action's two observations averaged (decision and
// final), over 100 agents in 1000 sessions, all default tripwires and
// first contact on.
func BenchmarkObserve(b *testing.B) {
	cfg := tripwire.DefaultConfig()
	cfg.FirstContact = &tripwire.FirstContact{Effect: tripwire.EffectPause, Systems: []string{"prod-*"}}
	m := tripwire.NewMonitor(cfg)
	const n = 4096
	obs := make([]tripwire.Observation, n)
	statuses := []gatehouse.Status{gatehouse.StatusSucceeded, gatehouse.StatusSucceeded, gatehouse.StatusFailed, gatehouse.StatusDenied}
	classes := []gatehouse.Class{gatehouse.ClassRead, gatehouse.ClassWrite, gatehouse.ClassDestructive}
	for i := range obs {
		o := tripwire.Observation{
			ActionID: fmt.Sprintf("01J%023d", i/2), Agent: fmt.Sprintf("agent-%d", i%100),
			Session: fmt.Sprintf("session-%d", i%1000), System: fmt.Sprintf("prod-%d", i%7),
			Command: "kubectl delete pod web-1", Class: classes[i%3], Risk: (i * 37) % 100,
			Status: gatehouse.StatusRunning, Effect: gatehouse.EffectAllow,
		}
		if i%2 == 1 {
			o.Status = statuses[(i/2)%4]
		}
		obs[i] = o
	}
	b.ReportAllocs()
	at := t0
	for i := 0; b.Loop(); i++ {
		o := obs[i%n]
		at = at.Add(100 * time.Millisecond)
		o.Time = at
		m.Observe(o)
	}
}

// BenchmarkObserveFiring is the worst case: every observation fires
// (first contact with a new system), and past MaxSystems each one also
// forgets the agent's least recently used system.
func BenchmarkObserveFiring(b *testing.B) {
	m := tripwire.NewMonitor(tripwire.Config{FirstContact: &tripwire.FirstContact{Effect: tripwire.EffectHalt}})
	const n = 1 << 14
	systems := make([]string, n)
	for i := range systems {
		systems[i] = fmt.Sprintf("sys-%d", i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Observe(tripwire.Observation{ActionID: systems[i%n], Agent: fmt.Sprint("a", i/n), System: systems[i%n],
			Time: t0, Status: gatehouse.StatusRunning, Effect: gatehouse.EffectAllow, Class: gatehouse.ClassRead})
	}
}

// BenchmarkObserveParallel is Observe under contention from all CPUs: one
// agent and session per goroutine, each action decided then finished.
func BenchmarkObserveParallel(b *testing.B) {
	m := tripwire.NewMonitor(tripwire.DefaultConfig())
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		g := next.Add(1)
		agent := fmt.Sprintf("agent-%d", g)
		ids := make([]string, 1024)
		for i := range ids {
			ids[i] = fmt.Sprintf("%s-%d", agent, i)
		}
		o := tripwire.Observation{Agent: agent, Session: agent, Effect: gatehouse.EffectAllow, Class: gatehouse.ClassWrite, Risk: 70}
		for i := 0; pb.Next(); i++ {
			o.ActionID, o.Time = ids[(i/2)%len(ids)], t0.Add(time.Duration(i)*time.Second)
			o.Status = gatehouse.StatusRunning
			if i%2 == 1 {
				o.Status = gatehouse.StatusSucceeded
			}
			m.Observe(o)
		}
	})
}
