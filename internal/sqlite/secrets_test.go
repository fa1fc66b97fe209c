package sqlite_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

func putSecret(tb testing.TB, s *sqlite.Store, name string, at time.Time, ciphertext string) error {
	tb.Helper()
	at = gatehouse.Timestamp(at)
	sec := &gatehouse.SealedSecret{Name: name, KeyID: "k-1", Ciphertext: []byte(ciphertext), CreatedAt: at, UpdatedAt: at}
	_, err := s.PutSecret(context.Background(), sec, event(tb, at, gatehouse.EventSecretSet, name, gatehouse.SecretSet{By: "admin"}))
	return err
}

func TestSecrets(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s := MustOpenPath(t, path)

	if err := putSecret(t, s, "GITHUB_TOKEN", t0, "sealed-1"); err != nil {
		t.Fatal(err)
	}
	if err := putSecret(t, s, "AWS", t0.Add(time.Second), "sealed-aws"); err != nil {
		t.Fatal(err)
	}
	// Set again: the value and its time change, its first time stays.
	if err := putSecret(t, s, "GITHUB_TOKEN", t0.Add(time.Minute), "sealed-2"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Secret(ctx, "GITHUB_TOKEN")
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Ciphertext) != "sealed-2" || !got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(t0.Add(time.Minute)) || got.KeyID != "k-1" {
		t.Errorf("Secret = %+v (ciphertext %q)", got, got.Ciphertext)
	}
	list, err := s.Secrets(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "AWS" || list[1].Name != "GITHUB_TOKEN" {
		t.Fatalf("Secrets = %v, %v; want AWS, GITHUB_TOKEN", list, err)
	}

	// Removed: gone; removing it again is ENOTFOUND and appends nothing.
	rm := func(name string) error {
		_, err := s.DeleteSecret(ctx, name, event(t, t0.Add(2*time.Minute), gatehouse.EventSecretRemoved, name, gatehouse.SecretRemoved{By: "admin"}))
		return err
	}
	if err := rm("AWS"); err != nil {
		t.Fatal(err)
	}
	n := len(allEvents(t, s))
	if err := rm("AWS"); gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
		t.Errorf("second DeleteSecret = %v, want ENOTFOUND", err)
	}
	if _, err := s.Secret(ctx, "AWS"); gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
		t.Errorf("Secret(removed) = %v, want ENOTFOUND", err)
	}
	if m := len(allEvents(t, s)); m != n {
		t.Errorf("a refused removal appended %d events", m-n)
	}

	// The journal has who and when, never the ciphertext.
	var types []gatehouse.EventType
	for _, e := range allEvents(t, s) {
		types = append(types, e.Type)
		if bytes.Contains(e.Data, []byte("sealed")) {
			t.Errorf("event %d holds the ciphertext: %s", e.Seq, e.Data)
		}
	}
	if fmt.Sprint(types) != "[secret.set secret.set secret.set secret.removed]" {
		t.Errorf("events %v", types)
	}
	checkChain(t, s)
	r, err := gatehouse.Verify(ctx, s)
	if err != nil || !r.OK() || r.Secrets != 1 {
		t.Fatalf("Verify = %+v, %v; want OK with 1 secret", r, err)
	}

	// It survives a reopen.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := MustOpenPath(t, path)
	if got, err := s2.Secret(ctx, "GITHUB_TOKEN"); err != nil || string(got.Ciphertext) != "sealed-2" {
		t.Errorf("after reopen: %v, %v", got, err)
	}
}

func TestPutSecretRefusesMismatchedEvent(t *testing.T) {
	s := MustOpen(t)
	sec := &gatehouse.SealedSecret{Name: "T", KeyID: "k", Ciphertext: []byte("x"), UpdatedAt: t0, CreatedAt: t0}
	for name, ev := range map[string]gatehouse.Event{
		"other subject": event(t, t0, gatehouse.EventSecretSet, "U", gatehouse.SecretSet{}),
		"other type":    event(t, t0, gatehouse.EventSecretRemoved, "T", gatehouse.SecretRemoved{}),
		"other time":    event(t, t0.Add(time.Second), gatehouse.EventSecretSet, "T", gatehouse.SecretSet{}),
	} {
		if _, err := s.PutSecret(context.Background(), sec, ev); gatehouse.ErrorCode(err) != gatehouse.EINVALID {
			t.Errorf("%s: PutSecret = %v, want EINVALID", name, err)
		}
	}
	if n := len(allEvents(t, s)); n != 0 {
		t.Errorf("%d events appended", n)
	}
}

// Secrets changed while actions are appended keep one whole chain.
func TestSecretsConcurrentWithActions(t *testing.T) {
	s := MustOpen(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				record(t, s, actionSpec{ID: fmt.Sprintf("a-%d-%d", i, j), Agent: "ci", Command: "true",
					At: t0.Add(time.Duration(i*100+j) * time.Millisecond), Status: gatehouse.StatusSucceeded})
			}
		})
	}
	wg.Go(func() {
		for j := range 20 {
			if err := putSecret(t, s, "T", t0.Add(time.Duration(j)*time.Second), fmt.Sprintf("v%d", j)); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	checkChain(t, s)
	if r, err := gatehouse.Verify(context.Background(), s); err != nil || !r.OK() || r.Actions != 160 || r.Secrets != 1 {
		t.Errorf("Verify = %+v, %v", r, err)
	}
}

// Verify catches a secret row changed behind the journal's back.
func TestVerifySecrets(t *testing.T) {
	for _, tc := range []struct {
		name, sql string
		want      string
	}{
		{"inserted", "INSERT INTO secrets VALUES ('EVIL', 'k-1', x'00', 1, 1)", "secret EVIL: not in journal"},
		{"deleted", "DELETE FROM secrets WHERE name = 'T'", "secret T: missing"},
		{"older value put back", "UPDATE secrets SET updated_at = updated_at - 1000", "secret T: differs ([updated_at])"},
		{"first time changed", "UPDATE secrets SET created_at = 5", "secret T: differs ([created_at])"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gatehouse.db")
			s := MustOpenPath(t, path)
			if err := putSecret(t, s, "T", t0, "sealed"); err != nil {
				t.Fatal(err)
			}
			if _, err := rawDB(t, path).Exec(tc.sql); err != nil {
				t.Fatal(err)
			}
			r, err := gatehouse.Verify(context.Background(), s)
			if err != nil || r.Chain != nil || len(r.Projection) != 1 || r.Projection[0].String() != tc.want {
				t.Errorf("Verify = %+v, %v; want the one problem %q", r, err, tc.want)
			}
		})
	}
}

func TestSecretsReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s := MustOpenPath(t, path)
	if err := putSecret(t, s, "T", t0, "sealed"); err != nil {
		t.Fatal(err)
	}
	ro, err := sqlite.OpenReadOnly(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if list, err := ro.Secrets(context.Background()); err != nil || len(list) != 1 {
		t.Errorf("read-only Secrets = %v, %v", list, err)
	}
	if err := putSecret(t, ro, "U", t0, "x"); gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
		t.Errorf("read-only PutSecret = %v, want EUNAVAILABLE", err)
	}
}
