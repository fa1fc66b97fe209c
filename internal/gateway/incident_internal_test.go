package gateway

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

// Reading a window in slices gives exactly what one query gives: the
// newest Limit matches, oldest first — whichever slices are full.
func TestActionsInPartsIsActions(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	// 60 actions, unevenly spread: a burst in the first minute, a few
	// after, two at the same instant, one at the very end.
	var evs []gatehouse.Event
	add := func(i int, at time.Time, agent string) {
		e, _ := gatehouse.NewEvent(at, gatehouse.EventActionRequested, fmt.Sprintf("A%03d", i),
			gatehouse.ActionRequested{Agent: agent, Kind: gatehouse.KindShell, Command: "x", Cwd: "/"})
		evs = append(evs, e)
	}
	for i := range 50 {
		add(i, t0.Add(time.Duration(i)*time.Second), []string{"a", "b"}[i%2])
	}
	for i := 50; i < 58; i++ {
		add(i, t0.Add(time.Duration(i)*time.Minute), "a")
	}
	add(58, t0.Add(30*time.Minute), "b")
	add(59, t0.Add(30*time.Minute), "a")
	if _, err := s.Append(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	g := &Gateway{store: s}
	now := t0.Add(2 * time.Hour)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		for _, f := range []gatehouse.ActionFilter{
			{Since: t0, Limit: 100},
			{Since: t0, Limit: 7},  // the newest slice is full
			{Since: t0, Limit: 55}, // an older slice is cut
			{Since: t0, Until: t0.Add(30 * time.Minute), Limit: 100},
			{Since: t0, Until: t0.Add(30 * time.Minute), Limit: 3},
			{Since: t0.Add(10 * time.Second), Agent: "a", Limit: 100},
			{Since: t0.Add(10 * time.Second), Agent: "a", Limit: 10},
			{Since: t0.Add(-time.Hour), Until: t0.Add(time.Second), Limit: 100},
			{Limit: 12}, // no lower bound: one query
			{Since: t0, Until: t0, Limit: 100},
		} {
			want, err := s.Actions(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := g.actionsInParts(ctx, f, now)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), ids(want)) {
				t.Errorf("%d procs, %+v:\n got %v\nwant %v", procs, f, ids(got), ids(want))
			}
		}
	}
}

func ids(as []*gatehouse.Action) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}
