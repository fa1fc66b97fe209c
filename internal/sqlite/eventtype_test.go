package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

func TestEventsOfType(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	evs := []gatehouse.Event{
		agentAdded(t, at, "a", "tok-a"),
		event(t, at, gatehouse.EventDaemonStarted, "", gatehouse.DaemonStarted{PID: 1}),
		agentRevoked(t, at, "a"),
		event(t, at, gatehouse.EventDaemonStopped, "", gatehouse.DaemonStopped{}),
		event(t, at, gatehouse.EventDaemonStarted, "", gatehouse.DaemonStarted{PID: 2}),
	}
	for _, e := range evs {
		if _, err := s.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		types []gatehouse.EventType
		want  []int64
	}{
		{nil, nil},
		{[]gatehouse.EventType{gatehouse.EventDaemonStarted}, []int64{2, 5}},
		{[]gatehouse.EventType{gatehouse.EventDaemonStopped, gatehouse.EventAgentAdded}, []int64{1, 4}},
		{[]gatehouse.EventType{gatehouse.EventRuleLearned}, nil},
	}
	for _, tt := range tests {
		var got []int64
		err := s.EventsOfType(ctx, tt.types, func(e gatehouse.Event) error {
			if gatehouse.HashEvent(e) != e.Hash {
				t.Errorf("event %d not returned as stored", e.Seq)
			}
			got = append(got, e.Seq)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tt.want) {
			t.Errorf("%v: got seqs %v, want %v", tt.types, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%v: got seqs %v, want %v", tt.types, got, tt.want)
				break
			}
		}
	}
}
