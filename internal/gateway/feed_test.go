package gateway_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
)

func ev(seq int64) gatehouse.Event {
	return gatehouse.Event{Seq: seq, Type: gatehouse.EventActionRequested, Subject: fmt.Sprint("a", seq)}
}

// drain reads what is buffered on ch until it is empty; closed reports
// whether the channel was closed.
func drain(ch <-chan gatehouse.Event) (seqs []int64, closed bool) {
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return seqs, true
			}
			seqs = append(seqs, e.Seq)
		default:
			return seqs, false
		}
	}
}

func TestFeed(t *testing.T) {
	for _, tc := range []struct {
		name       string
		buffer     int
		publish    [][]int64 // one Publish per element
		want       []int64   // what the subscriber reads
		wantClosed bool      // dropped
	}{
		{"one event", 4, [][]int64{{1}}, []int64{1}, false},
		{"in order", 4, [][]int64{{1, 2}, {3}}, []int64{1, 2, 3}, false},
		{"fills the buffer exactly", 3, [][]int64{{1, 2}, {3}}, []int64{1, 2, 3}, false},
		{"one over: dropped, keeps what it had", 3, [][]int64{{1, 2}, {3}, {4}}, []int64{1, 2, 3}, true},
		{"a batch that does not fit is not split", 3, [][]int64{{1, 2}, {3, 4}}, []int64{1, 2}, true},
		{"nothing published", 2, [][]int64{{}}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := gateway.NewFeed(tc.buffer)
			slow := f.Subscribe(context.Background())
			// A second subscriber reads after every Publish: it is never
			// dropped because of the slow one.
			fast := f.Subscribe(context.Background())
			var fastGot []int64
			for _, batch := range tc.publish {
				var evs []gatehouse.Event
				for _, s := range batch {
					evs = append(evs, ev(s))
				}
				f.Publish(evs...) // returns although slow reads nothing
				got, closed := drain(fast)
				if closed {
					t.Fatal("the reading subscriber was dropped")
				}
				fastGot = append(fastGot, got...)
			}
			got, closed := drain(slow)
			if !slices.Equal(got, tc.want) || closed != tc.wantClosed {
				t.Errorf("slow subscriber read %v (closed %v), want %v (closed %v)", got, closed, tc.want, tc.wantClosed)
			}
			if all := slices.Concat(tc.publish...); !slices.Equal(fastGot, all) && len(all) > 0 {
				t.Errorf("fast subscriber read %v, want %v", fastGot, all)
			}
			wantSubs := 2
			if tc.wantClosed {
				wantSubs = 1
			}
			if n := f.Subscribers(); n != wantSubs {
				t.Errorf("%d subscribers left, want %d", n, wantSubs)
			}
		})
	}
}

func TestFeedUnsubscribe(t *testing.T) {
	f := gateway.NewFeed(4)
	ctx, cancel := context.WithCancel(context.Background())
	ch := f.Subscribe(ctx)
	f.Publish(ev(1))
	cancel()
	var got []int64
	for e := range ch { // ends: cancelling closes the channel
		got = append(got, e.Seq)
	}
	if ctx.Err() == nil {
		t.Fatal("context not done")
	}
	if len(got) > 1 {
		t.Errorf("read %v after cancel", got)
	}
	if n := f.Subscribers(); n != 0 {
		t.Errorf("%d subscribers after cancel", n)
	}
	f.Publish(ev(2)) // no subscriber: nothing to do, nothing panics
}

// Concurrent publishers, subscribers that come and go, and one that never
// reads: for the race detector, and to show that Publish does not wait
// for anyone.
func TestFeedConcurrent(t *testing.T) {
	f := gateway.NewFeed(8)
	stuck := f.Subscribe(context.Background()) // never read: dropped, never blocks
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for i := range 200 {
				f.Publish(ev(int64(p*1000+i)), ev(int64(p*1000+i)+500))
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for range 50 {
				ctx, cancel := context.WithCancel(context.Background())
				ch := f.Subscribe(ctx)
				n := 0
				for range ch {
					if n++; n == 5 {
						cancel()
					}
				}
				cancel()
			}
		})
	}
	// Keep publishing until every reader has seen enough to finish.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for i := int64(0); ; i++ {
		select {
		case <-done:
			if _, closed := drain(stuck); !closed {
				t.Error("the subscriber that never read was not dropped")
			}
			return
		default:
			f.Publish(ev(100000 + i))
		}
	}
}

// The gateway publishes what it journals, to readers only.
func TestGatewaySubscribe(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	if _, err := f.gw.Subscribe(context.Background(), f.agent); gatehouse.ErrorCode(err) != gatehouse.EFORBIDDEN {
		t.Fatalf("agent Subscribe: %v, want EFORBIDDEN", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := f.gw.Subscribe(ctx, f.admin)
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.gw.Run(context.Background(), f.agent, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: f.dir}, gateway.Sink{})
	if err != nil {
		t.Fatal(err)
	}
	var types []gatehouse.EventType
	for e := range ch {
		if e.Subject != a.ID {
			continue
		}
		if e.Seq == 0 || e.Hash == "" {
			t.Errorf("published event is not the linked one: %+v", e)
		}
		types = append(types, e.Type)
		if e.Type == gatehouse.EventActionFinished {
			break
		}
	}
	want := []gatehouse.EventType{gatehouse.EventActionRequested, gatehouse.EventActionDecided, gatehouse.EventActionStarted, gatehouse.EventActionFinished}
	if !slices.Equal(types, want) {
		t.Errorf("events of the action: %v, want %v", types, want)
	}
}
