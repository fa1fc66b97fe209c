package sqlite_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
	"github.com/gatehouse-dev/gatehouse/internal/storetest"
)

// TestSQLFailureIsolated makes the SQL of some requests fail (a trigger
// refuses their events), so that the writer must undo a request after it
// has written part of it, within a batch shared with others.
func TestSQLFailureIsolated(t *testing.T) {
	s := MustOpen(t, sqlite.WithMaxBatch(64))
	if _, err := rawDB(t, s.Path()).Exec(`CREATE TRIGGER refuse BEFORE INSERT ON events
		WHEN NEW.type = 'action.started' AND NEW.subject LIKE '%5'
		BEGIN SELECT RAISE(ABORT, 'refused by test'); END`); err != nil {
		t.Fatal(err)
	}
	const clients, perClient = 16, 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := map[string]bool{}
	for c := range clients {
		wg.Go(func() {
			for i := range perClient {
				n := c*perClient + i
				a := actionSpec{ID: actionID(n), Agent: "a", Command: "true", At: t0.Add(time.Duration(n) * time.Millisecond), Status: gatehouse.StatusRunning}
				first, _ := a.Events(t)
				_, err := s.Append(context.Background(), first...)
				switch {
				case n%10 == 5:
					if gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
						t.Errorf("action %d: %v, want EUNAVAILABLE", n, err)
					}
					mu.Lock()
					refused[a.ID] = true
					mu.Unlock()
				case err != nil:
					t.Errorf("action %d: %v", n, err)
				}
			}
		})
	}
	wg.Wait()
	running, err := s.Running(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := clients * perClient * 9 / 10; len(running) != want {
		t.Errorf("%d running, want %d", len(running), want)
	}
	for _, a := range running {
		if refused[a.ID] {
			t.Errorf("refused action %s was kept", a.ID)
		}
	}
	if n := checkChain(t, s); n != len(running)*3 {
		t.Errorf("%d events, want %d", n, len(running)*3)
	}
	if diff := verify(t, s); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}

	// Alone in its batch, a failing request is undone with the whole
	// transaction, and the next one continues the chain.
	n := checkChain(t, s)
	first, _ := actionSpec{ID: "x5", Agent: "a", Command: "true", At: t0, Status: gatehouse.StatusRunning}.Events(t)
	_, err = s.Append(context.Background(), first...)
	wantCode(t, err, gatehouse.EUNAVAILABLE)
	first, _ = actionSpec{ID: "x6", Agent: "a", Command: "true", At: t0, Status: gatehouse.StatusRunning}.Events(t)
	got, err := s.Append(context.Background(), first...)
	if err != nil || got[0].Seq != int64(n+1) {
		t.Fatalf("Append after failure = %v, %v; want seq %d", got, err, n+1)
	}
	checkChain(t, s)
}

// TestLockedJournal holds the write lock from another connection past the
// busy timeout: appends fail with EUNAVAILABLE, and work again, with an
// unbroken chain, once the lock is released.
func TestLockedJournal(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, sqlite.WithBusyTimeout(50*time.Millisecond))
	record(t, s, actionSpec{ID: actionID(1), Agent: "a", Command: "true", At: t0, Status: gatehouse.StatusRunning})

	conn, err := rawDB(t, s.Path()).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			first, _ := actionSpec{ID: actionID(10 + i), Agent: "a", Command: "true", At: t0, Status: gatehouse.StatusRunning}.Events(t)
			_, err := s.Append(ctx, first...)
			if gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
				t.Errorf("Append while locked: %v, want EUNAVAILABLE", err)
			}
		})
	}
	wg.Wait()
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	fin := event(t, t0.Add(time.Second), gatehouse.EventActionFinished, actionID(1), gatehouse.ActionFinished{Status: gatehouse.StatusFailed})
	got, err := s.Append(ctx, fin)
	if err != nil {
		t.Fatalf("Append after unlock: %v", err)
	}
	if got[0].Seq != 4 {
		t.Errorf("seq %d after failed appends, want 4", got[0].Seq)
	}
	record(t, s, actionSpec{ID: actionID(2), Agent: "a", Command: "true", At: t0, Status: gatehouse.StatusSucceeded})
	checkChain(t, s)
	if diff := verify(t, s); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}
}

// TestAgentColumnsOverwriteDoc: tampering with the token column shows in
// what readers get, and in verify.
func TestAgentColumnsOverwriteDoc(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	if _, err := s.Append(ctx, agentAdded(t, t0, "dave", "tok-dave"), storetest.AgentRevoked(t, t0, "dave")); err != nil {
		t.Fatal(err)
	}
	if _, err := rawDB(t, s.Path()).Exec("UPDATE agents SET token_hash = ?, revoked_at = NULL WHERE name = 'dave'", tokenHash("stolen")); err != nil {
		t.Fatal(err)
	}
	if g, err := s.AgentByTokenHash(ctx, tokenHash("stolen")); err != nil || g.Name != "dave" || !g.Active() {
		t.Errorf("tampered dave = %+v, %v", g, err)
	}
	if diff := verify(t, s); len(diff) != 1 || diff[0] != "dave" {
		t.Errorf("verify found %v, want dave", diff)
	}
}
