package storetest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// The secrets part of the suite: every store is a gatehouse.SecretStore,
// each change atomic with its journal event. Tampering with a secrets row
// (which Verify must catch) is SQL, and stays in each store's tests.

// secretStore returns s as a SecretStore, failing the test if it is not.
func secretStore(tb testing.TB, s gatehouse.Store) gatehouse.SecretStore {
	tb.Helper()
	ss, ok := s.(gatehouse.SecretStore)
	if !ok {
		tb.Fatalf("%T is not a gatehouse.SecretStore", s)
	}
	return ss
}

// PutSecret stores a sealed secret name (key k-1, the given "ciphertext")
// set at at, with its secret.set event, and returns the event as linked.
func PutSecret(tb testing.TB, s gatehouse.Store, name string, at time.Time, ciphertext string) (gatehouse.Event, error) {
	tb.Helper()
	at = gatehouse.Timestamp(at)
	sec := &gatehouse.SealedSecret{Name: name, KeyID: "k-1", Ciphertext: []byte(ciphertext), CreatedAt: at, UpdatedAt: at}
	return secretStore(tb, s).PutSecret(context.Background(), sec, Event(tb, at, gatehouse.EventSecretSet, name, gatehouse.SecretSet{By: "admin"}))
}

// DeleteSecret removes the secret name at at, with its secret.removed
// event.
func DeleteSecret(tb testing.TB, s gatehouse.Store, name string, at time.Time) (gatehouse.Event, error) {
	tb.Helper()
	return secretStore(tb, s).DeleteSecret(context.Background(), name, Event(tb, at, gatehouse.EventSecretRemoved, name, gatehouse.SecretRemoved{By: "admin"}))
}

func testSecrets(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	ss := secretStore(t, s)
	if list, err := ss.Secrets(ctx); err != nil || len(list) != 0 {
		t.Fatalf("Secrets() of a new store = %v, %v", list, err)
	}
	if _, err := ss.Secret(ctx, "GITHUB_TOKEN"); gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
		t.Errorf("Secret(unset) = %v, want ENOTFOUND", err)
	}
	ev, err := PutSecret(t, s, "GITHUB_TOKEN", T0, "sealed-1")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Seq != 1 || ev.Type != gatehouse.EventSecretSet || ev.Hash == "" {
		t.Errorf("PutSecret returned %+v, want the linked event 1", ev)
	}
	if _, err := PutSecret(t, s, "AWS", T0.Add(time.Second), "sealed-aws"); err != nil {
		t.Fatal(err)
	}
	// Set again: the value and its time change, its first time stays.
	if _, err := PutSecret(t, s, "GITHUB_TOKEN", T0.Add(time.Minute), "sealed-2"); err != nil {
		t.Fatal(err)
	}
	got, err := ss.Secret(ctx, "GITHUB_TOKEN")
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Ciphertext) != "sealed-2" || !got.CreatedAt.Equal(T0) || !got.UpdatedAt.Equal(T0.Add(time.Minute)) || got.KeyID != "k-1" {
		t.Errorf("Secret = %+v (ciphertext %q)", got, got.Ciphertext)
	}
	list, err := ss.Secrets(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "AWS" || list[1].Name != "GITHUB_TOKEN" {
		t.Fatalf("Secrets = %v, %v; want AWS, GITHUB_TOKEN", list, err)
	}

	// Removed: gone; removing it again is ENOTFOUND and appends nothing.
	if _, err := DeleteSecret(t, s, "AWS", T0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	n := len(AllEvents(t, s))
	_, err = DeleteSecret(t, s, "AWS", T0.Add(3*time.Minute))
	WantCode(t, err, gatehouse.ENOTFOUND)
	_, err = DeleteSecret(t, s, "NEVER_SET", T0.Add(3*time.Minute))
	WantCode(t, err, gatehouse.ENOTFOUND)
	if _, err := ss.Secret(ctx, "AWS"); gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
		t.Errorf("Secret(removed) = %v, want ENOTFOUND", err)
	}
	if m := len(AllEvents(t, s)); m != n {
		t.Errorf("a refused removal appended %d events", m-n)
	}
	// Set after removal: a new first time.
	if _, err := PutSecret(t, s, "AWS", T0.Add(4*time.Minute), "sealed-aws-2"); err != nil {
		t.Fatal(err)
	}
	if got, err := ss.Secret(ctx, "AWS"); err != nil || !got.CreatedAt.Equal(T0.Add(4*time.Minute)) {
		t.Errorf("AWS set again = %+v, %v; want created at its new time", got, err)
	}

	// The journal has who and when, never the ciphertext.
	var types []gatehouse.EventType
	for _, e := range AllEvents(t, s) {
		types = append(types, e.Type)
		if bytes.Contains(e.Data, []byte("sealed")) {
			t.Errorf("event %d holds the ciphertext: %s", e.Seq, e.Data)
		}
	}
	if fmt.Sprint(types) != "[secret.set secret.set secret.set secret.removed secret.set]" {
		t.Errorf("events %v", types)
	}
	CheckChain(t, s)
	r, err := gatehouse.Verify(ctx, s)
	if err != nil || !r.OK() || r.Secrets != 2 {
		t.Fatalf("Verify = %+v, %v; want OK with 2 secrets", r, err)
	}

	// It survives a reopen (the store is closed when the test ends; a
	// second one on the same journal reads what the first wrote).
	s2 := secretStore(t, open(t))
	if got, err := s2.Secret(ctx, "GITHUB_TOKEN"); err != nil || string(got.Ciphertext) != "sealed-2" {
		t.Errorf("from another store: %v, %v", got, err)
	}
}

// A refused change changes nothing: no event, no row.
func testSecretsRefused(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	ss := secretStore(t, s)
	at := T0
	sec := &gatehouse.SealedSecret{Name: "T", KeyID: "k", Ciphertext: []byte("x"), UpdatedAt: at, CreatedAt: at}
	for name, tc := range map[string]struct {
		sec *gatehouse.SealedSecret
		ev  gatehouse.Event
	}{
		"other subject":  {sec, Event(t, at, gatehouse.EventSecretSet, "U", gatehouse.SecretSet{})},
		"other type":     {sec, Event(t, at, gatehouse.EventSecretRemoved, "T", gatehouse.SecretRemoved{})},
		"other time":     {sec, Event(t, at.Add(time.Second), gatehouse.EventSecretSet, "T", gatehouse.SecretSet{})},
		"not sealed":     {&gatehouse.SealedSecret{Name: "T", KeyID: "k", UpdatedAt: at, CreatedAt: at}, Event(t, at, gatehouse.EventSecretSet, "T", gatehouse.SecretSet{})},
		"no key":         {&gatehouse.SealedSecret{Name: "T", Ciphertext: []byte("x"), UpdatedAt: at, CreatedAt: at}, Event(t, at, gatehouse.EventSecretSet, "T", gatehouse.SecretSet{})},
		"bad name":       {&gatehouse.SealedSecret{Name: "1T", KeyID: "k", Ciphertext: []byte("x"), UpdatedAt: at, CreatedAt: at}, Event(t, at, gatehouse.EventSecretSet, "1T", gatehouse.SecretSet{})},
		"data not JSON":  {sec, gatehouse.Event{Time: at, Type: gatehouse.EventSecretSet, Subject: "T", Data: []byte("{")}},
		"time too large": {&gatehouse.SealedSecret{Name: "T", KeyID: "k", Ciphertext: []byte("x"), UpdatedAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, Event(t, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), gatehouse.EventSecretSet, "T", gatehouse.SecretSet{})},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ss.PutSecret(ctx, tc.sec, tc.ev)
			WantCode(t, err, gatehouse.EINVALID)
		})
	}
	_, err := ss.DeleteSecret(ctx, "T", Event(t, at, gatehouse.EventSecretSet, "T", gatehouse.SecretSet{}))
	WantCode(t, err, gatehouse.EINVALID)
	if n := len(AllEvents(t, s)); n != 0 {
		t.Errorf("%d events appended", n)
	}
	if list, err := ss.Secrets(ctx); err != nil || len(list) != 0 {
		t.Errorf("Secrets() = %v, %v; want none", list, err)
	}
}

// Secrets changed while actions are appended, through two stores on one
// journal, keep one whole chain that Verify accepts; of two removals of
// one secret racing, exactly one takes place.
func testSecretsConcurrent(t *testing.T, open Opener) {
	s1, s2 := open(t), open(t)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			s := s1
			if i%2 == 1 {
				s = s2
			}
			for j := range 15 {
				Record(t, s, Action{ID: fmt.Sprintf("a-%d-%d", i, j), Agent: "ci", Command: "true",
					At: T0.Add(time.Duration(i*100+j) * time.Millisecond), Status: gatehouse.StatusSucceeded})
			}
		})
	}
	for i, s := range []gatehouse.Store{s1, s2} {
		wg.Go(func() {
			for j := range 10 {
				if _, err := PutSecret(t, s, fmt.Sprintf("S%d", i), T0.Add(time.Duration(j)*time.Second), fmt.Sprintf("v%d", j)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if _, err := PutSecret(t, s1, "GONE", T0.Add(time.Hour), "v"); err != nil {
		t.Fatal(err)
	}
	var removed, missing atomic.Int32
	for round := range 3 {
		for _, s := range []gatehouse.Store{s1, s2, s1, s2} {
			wg.Go(func() {
				_, err := DeleteSecret(t, s, "GONE", T0.Add(time.Hour+time.Duration(round)*time.Second))
				switch gatehouse.ErrorCode(err) {
				case "":
					removed.Add(1)
				case gatehouse.ENOTFOUND:
					missing.Add(1)
				default:
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	if removed.Load() != 1 || missing.Load() != 11 {
		t.Errorf("12 racing removals: %d took place, %d found nothing; want 1 and 11", removed.Load(), missing.Load())
	}
	n := 0
	for _, e := range AllEvents(t, s2) {
		if e.Type == gatehouse.EventSecretRemoved {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d secret.removed events, want 1", n)
	}
	CheckChain(t, s1)
	if r, err := gatehouse.Verify(context.Background(), s2); err != nil || !r.OK() || r.Actions != 60 || r.Secrets != 2 {
		t.Errorf("Verify = %+v, %v; want OK with 60 actions and 2 secrets", r, err)
	}
	for i, s := range []gatehouse.Store{s2, s1} {
		got, err := secretStore(t, s).Secret(context.Background(), fmt.Sprintf("S%d", i))
		if err != nil || string(got.Ciphertext) != "v9" || !got.CreatedAt.Equal(T0) || !got.UpdatedAt.Equal(T0.Add(9*time.Second)) {
			t.Errorf("S%d = %+v, %v; want v9, set at T0 and last at T0+9s", i, got, err)
		}
	}
}
