package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/postgres/pgtest"
	"github.com/gatehouse-dev/gatehouse/internal/storetest"
)

// countType returns how many events of type typ the journal holds.
func countType(t *testing.T, s gatehouse.Store, typ gatehouse.EventType) int {
	t.Helper()
	n := 0
	for _, e := range storetest.AllEvents(t, s) {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// verifySnapshot runs gatehouse.Verify inside a snapshot, as `gatehouse
// verify` and Gateway.Verify do on PostgreSQL.
func verifySnapshot(t *testing.T, s *postgres.Store) *gatehouse.VerifyReport {
	t.Helper()
	var r *gatehouse.VerifyReport
	err := s.Snapshot(context.Background(), func(snap gatehouse.Store) error {
		var err error
		r, err = gatehouse.Verify(context.Background(), snap)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Verify, in a snapshot, catches a secret row changed behind the
// journal's back.
func TestVerifySecrets(t *testing.T) {
	for _, tc := range []struct {
		name, sql string
		want      string
	}{
		{"inserted", "INSERT INTO secrets VALUES ('EVIL', 'k-1', '\\x00', 1, 1)", "secret EVIL: not in journal"},
		{"deleted", "DELETE FROM secrets WHERE name = 'T'", "secret T: missing"},
		{"older value put back", "UPDATE secrets SET updated_at = updated_at - 1000", "secret T: differs ([updated_at])"},
		{"first time changed", "UPDATE secrets SET created_at = 5", "secret T: differs ([created_at])"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := pgtest.URL(t)
			s := mustOpen(t, u)
			if _, err := storetest.PutSecret(t, s, "T", t0, "sealed"); err != nil {
				t.Fatal(err)
			}
			if r := verifySnapshot(t, s); !r.OK() || r.Secrets != 1 {
				t.Fatalf("before: Verify = %+v", r)
			}
			if n := pgtest.Exec(t, u, tc.sql); n != 1 {
				t.Fatalf("%s: %d rows", tc.sql, n)
			}
			r := verifySnapshot(t, s)
			if r.Chain != nil || len(r.Projection) != 1 || r.Projection[0].String() != tc.want {
				t.Errorf("Verify = %+v; want the one problem %q", r, tc.want)
			}
		})
	}
}

// A secret change and its event are one transaction: when the server
// refuses either, neither is there.
func TestSecretChangeIsAtomic(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	s := mustOpen(t, u)
	if _, err := storetest.PutSecret(t, s, "KEEP", t0, "sealed-keep"); err != nil {
		t.Fatal(err)
	}
	// The row is refused: no secret.set.
	pgtest.Exec(t, u, "ALTER TABLE secrets ADD CONSTRAINT no_bad CHECK (name <> 'BAD')")
	_, err := storetest.PutSecret(t, s, "BAD", t0.Add(time.Second), "sealed-bad")
	storetest.WantCode(t, err, gatehouse.EUNAVAILABLE)
	// The event is refused: the secret stays, and so does its new value's
	// absence.
	pgtest.Exec(t, u, "ALTER TABLE events ADD CONSTRAINT no_removal CHECK (type <> 'secret.removed')")
	_, err = storetest.DeleteSecret(t, s, "KEEP", t0.Add(2*time.Second))
	storetest.WantCode(t, err, gatehouse.EUNAVAILABLE)
	pgtest.Exec(t, u, "ALTER TABLE events ADD CONSTRAINT no_set CHECK (type <> 'secret.set') NOT VALID")
	_, err = storetest.PutSecret(t, s, "KEEP", t0.Add(3*time.Second), "sealed-new")
	storetest.WantCode(t, err, gatehouse.EUNAVAILABLE)

	if n := storetest.CheckChain(t, s); n != 1 {
		t.Errorf("%d events, want the first secret.set alone", n)
	}
	got, err := s.Secret(ctx, "KEEP")
	if err != nil || string(got.Ciphertext) != "sealed-keep" || !got.UpdatedAt.Equal(t0) {
		t.Errorf("KEEP = %+v, %v; want its first value", got, err)
	}
	if _, err := s.Secret(ctx, "BAD"); gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
		t.Errorf("BAD = %v, want ENOTFOUND", err)
	}
	if r := verifySnapshot(t, s); !r.OK() || r.Secrets != 1 {
		t.Errorf("Verify = %+v", r)
	}
}

// A secret change whose COMMIT answer is lost (after the server committed
// it, or before it got the COMMIT) is retried without being done twice:
// one secret.set, one secret.removed.
func TestSecretCommitAnswerLost(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	px := newProxy(t, u)
	s := mustOpen(t, px.url, postgres.WithWriteTimeout(20*time.Second))
	storetest.Record(t, s, action(1, gatehouse.StatusSucceeded))
	for i, mode := range []int32{cutAfterCommit, cutBeforeCommit} {
		name := []string{"AFTER", "BEFORE"}[i]
		px.mode.Store(mode)
		ev, err := storetest.PutSecret(t, s, name, t0.Add(time.Duration(i)*time.Minute), "sealed-"+name)
		if err != nil {
			t.Fatalf("mode %d: PutSecret: %v", mode, err)
		}
		px.mode.Store(mode)
		rm, err := storetest.DeleteSecret(t, s, name, t0.Add(time.Duration(i)*time.Minute+time.Second))
		if err != nil {
			t.Fatalf("mode %d: DeleteSecret: %v", mode, err)
		}
		if px.cuts.Load() != int32(2*(i+1)) {
			t.Fatalf("mode %d: the proxy cut %d connections, want %d", mode, px.cuts.Load(), 2*(i+1))
		}
		es := storetest.AllEvents(t, s)
		var set, removed int
		for _, e := range es {
			if e.Subject == name {
				switch e.Type {
				case gatehouse.EventSecretSet:
					set++
				case gatehouse.EventSecretRemoved:
					removed++
				}
			}
		}
		if set != 1 || removed != 1 {
			t.Errorf("mode %d: %d secret.set and %d secret.removed of %s, want 1 of each", mode, set, removed, name)
		}
		if last := es[len(es)-1]; rm.Seq != last.Seq || ev.Seq != last.Seq-1 {
			t.Errorf("mode %d: returned seqs %d, %d; the journal ends at %d", mode, ev.Seq, rm.Seq, last.Seq)
		}
	}
	// And a put that is retried leaves its row once, with its value.
	px.mode.Store(cutAfterCommit)
	if _, err := storetest.PutSecret(t, s, "KEPT", t0.Add(time.Hour), "sealed-kept"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Secret(ctx, "KEPT"); err != nil || string(got.Ciphertext) != "sealed-kept" {
		t.Errorf("KEPT = %+v, %v", got, err)
	}
	if n := countType(t, s, gatehouse.EventSecretSet); n != 3 {
		t.Errorf("%d secret.set events, want 3", n)
	}
	storetest.CheckChain(t, s)
	if r := verifySnapshot(t, s); !r.OK() || r.Secrets != 1 {
		t.Errorf("Verify = %+v", r)
	}
}

func TestSecretsReadOnly(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	s := mustOpen(t, u)
	if _, err := storetest.PutSecret(t, s, "T", t0, "sealed"); err != nil {
		t.Fatal(err)
	}
	ro, err := postgres.OpenReadOnly(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if list, err := ro.Secrets(ctx); err != nil || len(list) != 1 || string(list[0].Ciphertext) != "sealed" {
		t.Errorf("read-only Secrets = %v, %v", list, err)
	}
	_, err = storetest.PutSecret(t, ro, "U", t0, "x")
	storetest.WantCode(t, err, gatehouse.EUNAVAILABLE)
	_, err = storetest.DeleteSecret(t, ro, "T", t0)
	storetest.WantCode(t, err, gatehouse.EUNAVAILABLE)
	// Nor through a snapshot.
	err = s.Snapshot(ctx, func(snap gatehouse.Store) error {
		ss := snap.(gatehouse.SecretStore)
		if got, err := ss.Secret(ctx, "T"); err != nil || string(got.Ciphertext) != "sealed" {
			t.Errorf("snapshot Secret = %+v, %v", got, err)
		}
		_, err := storetest.PutSecret(t, snap, "U", t0, "x")
		storetest.WantCode(t, err, gatehouse.EUNAVAILABLE)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := storetest.CheckChain(t, s); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
}

// Import copies the sealed secrets as they are, and refuses secrets the
// journal does not account for.
func TestImportSecrets(t *testing.T) {
	ctx := context.Background()
	src := mustOpen(t, pgtest.URL(t))
	storetest.Record(t, src, action(1, gatehouse.StatusSucceeded))
	for i, name := range []string{"A", "B", "C"} {
		if _, err := storetest.PutSecret(t, src, name, t0.Add(time.Duration(i)*time.Second), "sealed-"+name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := storetest.PutSecret(t, src, "A", t0.Add(time.Minute), "sealed-A2"); err != nil {
		t.Fatal(err)
	}
	if _, err := storetest.DeleteSecret(t, src, "B", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	secrets, err := src.Secrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	copyAll := func(fn func(gatehouse.Event) error) error { return src.Events(ctx, 0, fn) }

	for name, bad := range map[string][]*gatehouse.SealedSecret{
		"one missing":     secrets[:1],
		"one not set":     append(append([]*gatehouse.SealedSecret(nil), secrets...), &gatehouse.SealedSecret{Name: "B", KeyID: "k-1", Ciphertext: []byte("x"), CreatedAt: t0.Add(time.Second), UpdatedAt: t0.Add(time.Second)}),
		"an older time":   {secrets[1], {Name: "A", KeyID: "k-1", Ciphertext: []byte("sealed-A"), CreatedAt: t0, UpdatedAt: t0}},
		"twice":           append(append([]*gatehouse.SealedSecret(nil), secrets...), secrets[0]),
		"without its key": {secrets[1], {Name: "A", Ciphertext: []byte("sealed-A2"), CreatedAt: t0, UpdatedAt: t0.Add(time.Minute)}},
	} {
		t.Run(name, func(t *testing.T) {
			dst := mustOpen(t, pgtest.URL(t))
			_, err := dst.Import(ctx, copyAll, bad)
			storetest.WantCode(t, err, gatehouse.EINVALID)
			if !strings.Contains(err.Error(), "do not match its journal") {
				t.Errorf("error %v", err)
			}
			if n := storetest.CheckChain(t, dst); n != 0 {
				t.Errorf("a refused import left %d events", n)
			}
			if list, err := dst.Secrets(ctx); err != nil || len(list) != 0 {
				t.Errorf("a refused import left secrets %v, %v", list, err)
			}
		})
	}

	dst := mustOpen(t, pgtest.URL(t))
	rep, err := dst.Import(ctx, copyAll, secrets)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Secrets != 2 {
		t.Errorf("report %+v, want 2 secrets", rep)
	}
	got, err := dst.Secrets(ctx)
	if err != nil || len(got) != 2 {
		t.Fatalf("copied secrets %v, %v", got, err)
	}
	for i := range got {
		w := secrets[i]
		if g := got[i]; g.Name != w.Name || g.KeyID != w.KeyID || string(g.Ciphertext) != string(w.Ciphertext) || !g.CreatedAt.Equal(w.CreatedAt) || !g.UpdatedAt.Equal(w.UpdatedAt) {
			t.Errorf("copied %+v, want %+v", g, w)
		}
	}
	if r := verifySnapshot(t, dst); !r.OK() || r.Secrets != 2 {
		t.Errorf("Verify of the copy = %+v", r)
	}
	// Not into a store that holds a secret only.
	only := pgtest.URL(t)
	o := mustOpen(t, only)
	pgtest.Exec(t, only, "INSERT INTO secrets VALUES ('X', 'k', '\\x00', 1, 1)")
	_, err = o.Import(ctx, copyAll, secrets)
	storetest.WantCode(t, err, gatehouse.ECONFLICT)
}
