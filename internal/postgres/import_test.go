package postgres_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/postgres/pgtest"
	"github.com/gatehouse-dev/gatehouse/internal/storetest"
)

func TestImport(t *testing.T) {
	ctx := context.Background()
	srcURL := pgtest.URL(t)
	src := mustOpen(t, srcURL)
	for i, st := range []gatehouse.Status{gatehouse.StatusSucceeded, gatehouse.StatusRunning, gatehouse.StatusDenied, gatehouse.StatusPending, gatehouse.StatusFailed} {
		storetest.Record(t, src, action(i, st))
	}
	if _, err := src.Append(ctx, storetest.AgentAdded(t, t0, "alice", "tok"), storetest.AgentAdded(t, t0, "bob", "tok2"),
		storetest.AgentRevoked(t, t0.Add(time.Hour), "bob")); err != nil {
		t.Fatal(err)
	}
	dst := mustOpen(t, pgtest.URL(t))
	copyAll := func(fn func(gatehouse.Event) error) error { return src.Events(ctx, 0, fn) }
	rep, err := dst.Import(ctx, copyAll, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := storetest.AllEvents(t, src)
	if rep.Events != int64(len(want)) || rep.Actions != 5 || rep.Agents != 2 || rep.Head.Seq != want[len(want)-1].Seq {
		t.Errorf("report %+v", rep)
	}
	if got := storetest.AllEvents(t, dst); !reflect.DeepEqual(got, want) {
		t.Error("the copy's events differ from the source's")
	}
	if diff := storetest.Verify(t, dst); len(diff) != 0 {
		t.Errorf("copy differs at %v", diff)
	}
	running, err := dst.Running(ctx)
	if err != nil || len(running) != 2 {
		t.Errorf("Running() = %v, %v", running, err)
	}
	if g, err := dst.AgentByTokenHash(ctx, storetest.TokenHash("tok")); err != nil || g.Name != "alice" {
		t.Errorf("alice = %v, %v", g, err)
	}
	// The copy goes on from the source's head.
	got, err := dst.Append(ctx, storetest.Event(t, t0, gatehouse.EventActionFinished, storetest.ActionID(1), gatehouse.ActionFinished{Status: gatehouse.StatusInterrupted}))
	if err != nil || got[0].Seq != rep.Head.Seq+1 || got[0].PrevHash != rep.Head.Hash {
		t.Errorf("append after import = %+v, %v", got, err)
	}
	storetest.CheckChain(t, dst)

	// Not into a store that holds anything.
	_, err = dst.Import(ctx, copyAll, nil)
	storetest.WantCode(t, err, gatehouse.ECONFLICT)

	// Not a broken chain; and a refused import leaves the store empty.
	pgtest.Exec(t, srcURL, `UPDATE events SET data = convert_to('{}', 'UTF8') WHERE seq = 6`)
	empty := mustOpen(t, pgtest.URL(t))
	_, err = empty.Import(ctx, copyAll, nil)
	storetest.WantCode(t, err, gatehouse.EINVALID)
	if n := storetest.CheckChain(t, empty); n != 0 {
		t.Errorf("a refused import left %d events", n)
	}
}
