package gateway_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
)

// A halt racing new actions: many clients start actions as fast as they
// can while a halt is issued. Once the halt is acknowledged (journaled),
// no action in its scope may start: in the journal, no action.started of
// the halted agent follows the halt.issued event. Every action that did
// start before it was killed or had finished.
func TestHaltRacesNewActions(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// Long enough that none ends by itself before the halt
				// kills it: every action the halt names must be one it
				// interrupted.
				_, err := f.gw.Run(ctx, f.agent, gatehouse.RunRequest{Argv: []string{"sleep", "30"}, Cwd: f.dir}, gateway.Sink{})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	// Let some actions get going, then halt.
	for {
		st, err := f.gw.Status(ctx, f.admin)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Running) >= 4 {
			break
		}
	}
	h, err := f.gw.Halt(ctx, f.admin, gatehouse.HaltRequest{Scope: gatehouse.Scope{Agent: f.agent.Name}, Reason: "race"})
	if err != nil {
		t.Fatal(err)
	}
	// Keep the clients hammering a little after the acknowledgement.
	for range 50 {
		a, err := f.gw.Run(ctx, f.agent, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: f.dir}, gateway.Sink{})
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != gatehouse.StatusDenied || a.StartedAt != nil {
			t.Fatalf("an action after the halt: status %s, started %v", a.Status, a.StartedAt)
		}
	}
	close(stop)
	wg.Wait()

	haltSeq := h.Seq[0]
	startedAfter, killed := 0, 0
	err = f.store.Events(ctx, 0, func(e gatehouse.Event) error {
		switch {
		case e.Type == gatehouse.EventActionStarted && e.Seq > haltSeq:
			startedAfter++
		case e.Type == gatehouse.EventActionFinished && e.Seq > haltSeq:
			var fin gatehouse.ActionFinished
			_ = json.Unmarshal(e.Data, &fin)
			if fin.Status == gatehouse.StatusInterrupted {
				killed++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if startedAfter != 0 {
		t.Fatalf("%d actions started after the halt was journaled", startedAfter)
	}
	if killed != len(h.Killed) || killed == 0 {
		t.Errorf("the halt names %d killed actions; %d ended interrupted after it", len(h.Killed), killed)
	}
	if st, _ := f.gw.Status(ctx, f.admin); len(st.Running) != 0 {
		t.Errorf("%d actions still running after the halt", len(st.Running))
	}
	rep, err := f.gw.Verify(ctx, f.admin)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}
