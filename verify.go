package gatehouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
)

// VerifyReport is the result of Verify.
type VerifyReport struct {
	Events  int64 `json:"events"`  // events read
	Actions int   `json:"actions"` // actions rebuilt from them
	Agents  int   `json:"agents"`  // agents rebuilt from them
	Secrets int   `json:"secrets"` // secrets the journal says are set
	// Chain is the first break in the hash chain, or nil if it is whole.
	Chain *ChainError `json:"chain,omitempty"`
	// Projection lists the actions and agents whose stored rows differ from
	// what the events say, are missing, or have no events at all.
	Projection []ProjectionDiff `json:"projection,omitempty"`
	// Checkpoint is the check of an anchor (VerifyAnchored); nil without
	// one.
	Checkpoint *AnchorCheck `json:"checkpoint,omitempty"`
}

// OK reports whether the journal and its projection are intact, and the
// anchor, if one was given, is still in the journal.
func (r *VerifyReport) OK() bool {
	return r.Chain == nil && len(r.Projection) == 0 && (r.Checkpoint == nil || r.Checkpoint.OK)
}

// Anchor is a point of the chain recorded outside the store — what a
// signed checkpoint holds: the event at Seq had the hash Hash. The chain
// alone cannot show that its newest events were cut off, or that the whole
// store was rewritten with fresh hashes; an anchor kept elsewhere can, for
// everything up to it.
type Anchor struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// AnchorCheck is what Verify found at an anchor.
type AnchorCheck struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
	OK   bool   `json:"ok"`
	// Reason is "truncated" (the journal no longer reaches Seq) or
	// "rewritten" (the event at Seq has another hash); "" when OK.
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail"`
}

// ProjectionDiff is one stored row that does not match the journal.
type ProjectionDiff struct {
	Kind   string   `json:"kind"` // "action", "agent" or "secret"
	ID     string   `json:"id"`
	Reason string   `json:"reason"`           // "differs", "missing", "not in journal"
	Fields []string `json:"fields,omitempty"` // for "differs": the JSON fields that differ
}

func (d ProjectionDiff) String() string {
	s := fmt.Sprintf("%s %s: %s", d.Kind, d.ID, d.Reason)
	if len(d.Fields) > 0 {
		s += fmt.Sprintf(" (%v)", d.Fields)
	}
	return s
}

// maxDiffs bounds the report: a wholesale rewrite should not produce a
// million-line answer.
const maxDiffs = 100

// Verify checks the store's journal and its projection. It walks every
// event checking the hash chain (the first break is reported in
// Chain), rebuilds actions and agents from the events with Apply, and
// compares them with what the store serves (ScanActions, Agents). If the
// store is also a SecretStore, the secrets it holds must be those the
// journal's secret.set and secret.removed events leave set, with their
// times. It returns an error only when the store cannot be read; a
// damaged journal is a report with OK() false.
func Verify(ctx context.Context, s Store) (*VerifyReport, error) {
	return verify(ctx, s, nil)
}

// VerifyAnchored is Verify, and also checks that the journal still holds
// the event of the anchor with the anchor's hash (Report.Checkpoint): that
// it was neither cut off before it nor rewritten up to it. The anchor's
// own authenticity (its signature) is the caller's to check first.
func VerifyAnchored(ctx context.Context, s Store, a Anchor) (*VerifyReport, error) {
	if a.Seq < 1 || !validHexID(a.Hash, 64) {
		return nil, Errorf(EINVALID, "invalid anchor: event %d, hash %q", a.Seq, a.Hash)
	}
	return verify(ctx, s, &a)
}

func verify(ctx context.Context, s Store, anchor *Anchor) (*VerifyReport, error) {
	r := &VerifyReport{}
	var chain Chain
	var last int64
	var atAnchor *Event
	actions := map[string]*Action{}
	agents := map[string]*Agent{}
	secrets := map[string]*SealedSecret{} // name and times only
	err := s.Events(ctx, 0, func(e Event) error {
		r.Events++
		last = e.Seq
		if anchor != nil && e.Seq == anchor.Seq && atAnchor == nil {
			c := e
			atAnchor = &c
		}
		if r.Chain == nil {
			if err := chain.Check(e); err != nil {
				var ce *ChainError
				errors.As(err, &ce)
				r.Chain = ce
			}
		}
		switch {
		case e.Type.IsAction():
			a := actions[e.Subject]
			if a == nil {
				a = &Action{}
			}
			if err := a.Apply(e); err == nil {
				actions[e.Subject] = a
			} else if r.Chain == nil {
				// An event the chain accepts but the projection cannot: the
				// journal was written wrongly. Report it as a chain fault at
				// this event, since nothing after it can be trusted.
				r.Chain = &ChainError{Seq: e.Seq, Reason: "invalid", Detail: ErrorMessage(err)}
			}
		case e.Type.IsAgent():
			g := agents[e.Subject]
			if g == nil {
				g = &Agent{}
			}
			if err := g.Apply(e); err == nil {
				agents[e.Subject] = g
			} else if r.Chain == nil {
				r.Chain = &ChainError{Seq: e.Seq, Reason: "invalid", Detail: ErrorMessage(err)}
			}
		case e.Type == EventSecretSet:
			if cur := secrets[e.Subject]; cur != nil {
				cur.UpdatedAt = e.Time
			} else {
				secrets[e.Subject] = &SealedSecret{Name: e.Subject, CreatedAt: e.Time, UpdatedAt: e.Time}
			}
		case e.Type == EventSecretRemoved:
			delete(secrets, e.Subject)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.Actions, r.Agents = len(actions), len(agents)
	if anchor != nil {
		r.Checkpoint = checkAnchor(*anchor, atAnchor, last)
	}

	seen := map[string]bool{}
	err = s.ScanActions(ctx, func(got *Action) error {
		seen[got.ID] = true
		want, ok := actions[got.ID]
		switch {
		case !ok:
			r.addDiff(ProjectionDiff{Kind: "action", ID: got.ID, Reason: "not in journal"})
		default:
			if f := diffJSON(want, got); len(f) > 0 {
				r.addDiff(ProjectionDiff{Kind: "action", ID: got.ID, Reason: "differs", Fields: f})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, id := range sortedKeys(actions) {
		if !seen[id] {
			r.addDiff(ProjectionDiff{Kind: "action", ID: id, Reason: "missing"})
		}
	}

	stored, err := s.Agents(ctx)
	if err != nil {
		return nil, err
	}
	seen = map[string]bool{}
	for _, got := range stored {
		seen[got.Name] = true
		want, ok := agents[got.Name]
		switch {
		case !ok:
			r.addDiff(ProjectionDiff{Kind: "agent", ID: got.Name, Reason: "not in journal"})
		case want.TokenHash != got.TokenHash:
			r.addDiff(ProjectionDiff{Kind: "agent", ID: got.Name, Reason: "differs", Fields: []string{"token_hash"}})
		default:
			if f := diffJSON(want, got); len(f) > 0 {
				r.addDiff(ProjectionDiff{Kind: "agent", ID: got.Name, Reason: "differs", Fields: f})
			}
		}
	}
	for _, name := range sortedKeys(agents) {
		if !seen[name] {
			r.addDiff(ProjectionDiff{Kind: "agent", ID: name, Reason: "missing"})
		}
	}
	r.Secrets = len(secrets)
	if ss, ok := s.(SecretStore); ok {
		if err := verifySecrets(ctx, ss, secrets, r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// checkAnchor compares the event found at the anchor's seq (nil if none)
// with the anchor; last is the journal's last seq.
func checkAnchor(a Anchor, at *Event, last int64) *AnchorCheck {
	c := &AnchorCheck{Seq: a.Seq, Hash: a.Hash}
	switch {
	case at == nil && last < a.Seq:
		c.Reason = "truncated"
		c.Detail = fmt.Sprintf("the journal ends at event %d; the checkpoint names event %d: events were cut off its end", last, a.Seq)
	case at == nil:
		c.Reason = "truncated"
		c.Detail = fmt.Sprintf("event %d, which the checkpoint names, is missing", a.Seq)
	case at.Hash != a.Hash:
		c.Reason = "rewritten"
		c.Detail = fmt.Sprintf("event %d has hash %s; the checkpoint says %s: the journal was rewritten up to it", a.Seq, at.Hash, a.Hash)
	default:
		c.OK = true
		c.Detail = fmt.Sprintf("event %d has the hash the checkpoint recorded", a.Seq)
	}
	return c
}

// verifySecrets compares the secrets a store holds with those the journal
// leaves set. A ciphertext cannot be checked against the journal (it is
// not there), but its time can, and the time is sealed into it: an older
// ciphertext put back with the current time does not open.
func verifySecrets(ctx context.Context, s SecretStore, want map[string]*SealedSecret, r *VerifyReport) error {
	stored, err := s.Secrets(ctx)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, got := range stored {
		seen[got.Name] = true
		w, ok := want[got.Name]
		if !ok {
			r.addDiff(ProjectionDiff{Kind: "secret", ID: got.Name, Reason: "not in journal"})
			continue
		}
		var fields []string
		if !got.CreatedAt.Equal(w.CreatedAt) {
			fields = append(fields, "created_at")
		}
		if !got.UpdatedAt.Equal(w.UpdatedAt) {
			fields = append(fields, "updated_at")
		}
		if len(fields) > 0 {
			r.addDiff(ProjectionDiff{Kind: "secret", ID: got.Name, Reason: "differs", Fields: fields})
		}
	}
	for _, name := range sortedKeys(want) {
		if !seen[name] {
			r.addDiff(ProjectionDiff{Kind: "secret", ID: name, Reason: "missing"})
		}
	}
	return nil
}

func (r *VerifyReport) addDiff(d ProjectionDiff) {
	if len(r.Projection) < maxDiffs {
		r.Projection = append(r.Projection, d)
	}
}

// diffJSON compares two values by their public JSON form — what a user of
// log or show would see — and returns the names of the top-level fields
// that differ.
func diffJSON(want, got any) []string {
	var w, g map[string]json.RawMessage
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(got)
	_ = json.Unmarshal(wb, &w)
	_ = json.Unmarshal(gb, &g)
	var fields []string
	for k := range union(w, g) {
		var wv, gv any
		_ = json.Unmarshal(w[k], &wv)
		_ = json.Unmarshal(g[k], &gv)
		if !reflect.DeepEqual(wv, gv) {
			fields = append(fields, k)
		}
	}
	sort.Strings(fields)
	return fields
}

func union(a, b map[string]json.RawMessage) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
