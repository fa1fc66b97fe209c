package gatehouse_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// TestActionReplica: the replica in charge of an action is the one that
// took the request until one starts it, then that one.
func TestActionReplica(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(seq int64, typ gatehouse.EventType, data any) gatehouse.Event {
		e, err := gatehouse.NewEvent(at, typ, "a1", data)
		if err != nil {
			t.Fatal(err)
		}
		e.Seq = seq
		return e
	}
	decided := gatehouse.ActionDecided{Decision: gatehouse.DefaultDecision}
	tests := []struct {
		name              string
		requested, starts string
		want              string
	}{
		{"one daemon", "", "", ""},
		{"requested and started on one replica", "r1", "r1", "r1"},
		{"attached to another replica", "r1", "r2", "r2"},
		{"started without a replica", "r1", "", "r1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a gatehouse.Action
			for _, e := range []gatehouse.Event{
				ev(1, gatehouse.EventActionRequested, gatehouse.ActionRequested{Agent: "x", Replica: tt.requested}),
				ev(2, gatehouse.EventActionDecided, decided),
			} {
				if err := a.Apply(e); err != nil {
					t.Fatal(err)
				}
			}
			if a.Replica != tt.requested {
				t.Errorf("pending: replica %q, want %q", a.Replica, tt.requested)
			}
			if err := a.Apply(ev(3, gatehouse.EventActionStarted, gatehouse.ActionStarted{Replica: tt.starts})); err != nil {
				t.Fatal(err)
			}
			if a.Replica != tt.want || a.Status != gatehouse.StatusRunning {
				t.Errorf("started: replica %q status %s, want %q running", a.Replica, a.Status, tt.want)
			}
		})
	}
	// A started event whose data is not its payload is refused.
	var a gatehouse.Action
	_ = a.Apply(ev(1, gatehouse.EventActionRequested, gatehouse.ActionRequested{Agent: "x"}))
	_ = a.Apply(ev(2, gatehouse.EventActionDecided, decided))
	bad := ev(3, gatehouse.EventActionStarted, gatehouse.ActionStarted{})
	bad.Data = json.RawMessage(`{"replica": 7}`)
	if err := a.Apply(bad); gatehouse.ErrorCode(err) != gatehouse.EINVALID {
		t.Errorf("malformed action.started: %v, want EINVALID", err)
	}
}
