package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/executor"
	"github.com/gatehouse-dev/gatehouse/internal/redact"
)

// Credentials is how the gateway holds secrets and gives them to the
// actions it runs: the sealed secrets (Store), what seals and opens them
// (Sealer), and the configuration's grants. With no Store the gateway
// holds no secrets: the secret commands answer EUNAVAILABLE, and an
// action granted a credential fails without running.
type Credentials struct {
	Store  gatehouse.SecretStore
	Sealer Sealer
	Grants []gatehouse.Grant
}

// Sealer encrypts and decrypts secret values. *seal.Keyring implements it.
type Sealer interface {
	// Seal encrypts value for s, bound to s.Name and s.UpdatedAt, and
	// sets s.KeyID and s.Ciphertext.
	Seal(s *gatehouse.SealedSecret, value []byte) error
	// Open decrypts s; EUNAVAILABLE if it does not open.
	Open(s *gatehouse.SealedSecret) ([]byte, error)
}

// MaxSecretSize is the largest value a secret may have.
const MaxSecretSize = 64 << 10

func (g *Gateway) secretStore() (gatehouse.SecretStore, error) {
	if g.creds.Store == nil || g.creds.Sealer == nil {
		return nil, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "this gateway holds no secrets (it has no secrets store or key)")
	}
	return g.creds.Store, nil
}

// SetSecret seals value and stores it as the secret name, replacing the
// value it had, and journals secret.set — who set it, never the value. It
// returns the secret's record without its ciphertext.
//
// Errors: EFORBIDDEN unless p is the admin; EINVALID for a bad name, or a
// value that is shorter than redact.MinLen (it could not be redacted
// reliably from output), longer than MaxSecretSize, or holds a NUL byte
// (it could not be put into an environment); EUNAVAILABLE if the gateway
// holds no secrets or the store cannot be written.
func (g *Gateway) SetSecret(ctx context.Context, p gatehouse.Principal, name string, value []byte) (*gatehouse.SealedSecret, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	if err := gatehouse.ValidateSecretName(name); err != nil {
		return nil, err
	}
	switch {
	case len(value) < redact.MinLen:
		return nil, gatehouse.Errorf(gatehouse.EINVALID,
			"the value of %s is %d bytes: at least %d are needed, since a shorter value matches ordinary output by chance and cannot be redacted reliably",
			name, len(value), redact.MinLen)
	case len(value) > MaxSecretSize:
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "the value of %s is over %d bytes", name, MaxSecretSize)
	case bytes.IndexByte(value, 0) >= 0:
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "the value of %s holds a NUL byte, which an environment variable cannot", name)
	}
	st, err := g.secretStore()
	if err != nil {
		return nil, err
	}
	_, err = st.Secret(ctx, name)
	replaced := err == nil
	if err != nil && gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
		return nil, err
	}
	now := gatehouse.Timestamp(g.now())
	sec := &gatehouse.SealedSecret{Name: name, CreatedAt: now, UpdatedAt: now}
	if err := g.creds.Sealer.Seal(sec, value); err != nil {
		return nil, err
	}
	ev, err := gatehouse.NewEvent(now, gatehouse.EventSecretSet, name, gatehouse.SecretSet{By: p.Name, Replaced: replaced})
	if err != nil {
		return nil, err
	}
	if _, err := st.PutSecret(ctx, sec, ev); err != nil {
		return nil, err
	}
	g.log.Info("secret set", "name", name, "by", p.Name, "replaced", replaced, "key", sec.KeyID)
	out, err := st.Secret(ctx, name)
	if err != nil {
		return nil, err
	}
	out.Ciphertext = nil
	return out, nil
}

// RemoveSecret removes the secret name and journals secret.removed.
// EFORBIDDEN unless p is the admin; ENOTFOUND if there is no such secret.
func (g *Gateway) RemoveSecret(ctx context.Context, p gatehouse.Principal, name string) error {
	if err := requireAdmin(p); err != nil {
		return err
	}
	st, err := g.secretStore()
	if err != nil {
		return err
	}
	ev, err := gatehouse.NewEvent(g.now(), gatehouse.EventSecretRemoved, name, gatehouse.SecretRemoved{By: p.Name})
	if err != nil {
		return err
	}
	if _, err := st.DeleteSecret(ctx, name, ev); err != nil {
		return err
	}
	g.log.Info("secret removed", "name", name, "by", p.Name)
	return nil
}

// Secrets lists the secrets the gateway holds — names, key ids and times,
// never values. EFORBIDDEN unless p is the admin.
func (g *Gateway) Secrets(ctx context.Context, p gatehouse.Principal) ([]*gatehouse.SealedSecret, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	st, err := g.secretStore()
	if err != nil {
		return nil, err
	}
	list, err := st.Secrets(ctx)
	for _, s := range list {
		s.Ciphertext = nil
	}
	return list, err
}

// grant records on a new action the credentials the configuration grants
// it. Called when the action is built, before it is decided, so that
// policy and reviewers see them.
func (g *Gateway) grant(a *gatehouse.Action) {
	a.Credentials = gatehouse.GrantsFor(g.creds.Grants, a.Agent, a.System)
}

// inject returns the environment variables that carry a's credentials and
// the output filter that redacts their values, or, if a credential cannot
// be given, the end to journal instead: the action does not run without
// one it was granted (fail closed).
func (g *Gateway) inject(ctx context.Context, a *gatehouse.Action) (map[string]string, func() executor.Filter, *gatehouse.ActionFinished) {
	if len(a.Credentials) == 0 && len(gatehouse.GrantsFor(g.creds.Grants, a.Agent, a.System)) == 0 {
		return nil, nil, nil
	}
	fail := func(format string, args ...any) (map[string]string, func() executor.Filter, *gatehouse.ActionFinished) {
		return nil, nil, &gatehouse.ActionFinished{Status: gatehouse.StatusFailed, Error: fmt.Sprintf(format, args...)}
	}
	if want := gatehouse.GrantsFor(g.creds.Grants, a.Agent, a.System); !slices.Equal(want, a.Credentials) {
		return fail("the credentials granted to this action changed since it was requested (the configuration changed): run it again")
	}
	if _, err := g.secretStore(); err != nil {
		return fail("credential %s cannot be given: %s", a.Credentials[0].Secret, gatehouse.ErrorMessage(err))
	}
	env := make(map[string]string, len(a.Credentials))
	secrets := make([]redact.Secret, 0, len(a.Credentials))
	for _, c := range a.Credentials {
		sec, err := g.creds.Store.Secret(ctx, c.Secret)
		if gatehouse.ErrorCode(err) == gatehouse.ENOTFOUND {
			return fail("credential %s is granted but not set: gatehouse secret set %s", c.Secret, c.Secret)
		}
		if err != nil {
			return fail("credential %s cannot be read: %s", c.Secret, gatehouse.ErrorMessage(err))
		}
		v, err := g.creds.Sealer.Open(sec)
		if err != nil {
			g.log.Error("a secret does not open", "secret", c.Secret, "err", err)
			return fail("credential %s cannot be opened: %s", c.Secret, gatehouse.ErrorMessage(err))
		}
		env[c.Env] = string(v)
		secrets = append(secrets, redact.Secret{Name: c.Secret, Value: v})
	}
	set := redact.New(secrets)
	return env, func() executor.Filter { return set.Filter() }, nil
}

// Credentials lists the credentials each agent (or only agent, if not
// "") holds by the configuration — one row per agent, system and grant —
// with whether the secret is set and when an action last received it.
// EFORBIDDEN unless p may read the journal.
//
// The last use is found by reading the agent's actions newest first, a
// page at a time, until every credential it holds has been seen: quick
// when they are in use, a read of the agent's whole history for one that
// never was.
func (g *Gateway) Credentials(ctx context.Context, p gatehouse.Principal, agent string) ([]gatehouse.CredentialHolding, error) {
	if err := requireReader(p); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	if st, err := g.secretStore(); err == nil {
		list, err := st.Secrets(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range list {
			set[s.Name] = true
		}
	}
	type key struct{ agent, system, secret, env string }
	var out []gatehouse.CredentialHolding
	idx := map[key]int{}
	for _, gr := range g.creds.Grants {
		for _, ag := range gr.Agents {
			if agent != "" && ag != agent {
				continue
			}
			for _, sys := range gr.Systems {
				k := key{ag, sys, gr.Secret, gr.Env}
				if _, dup := idx[k]; dup {
					continue
				}
				idx[k] = len(out)
				out = append(out, gatehouse.CredentialHolding{Agent: ag, System: sys, Secret: gr.Secret, Env: gr.Env, SecretSet: set[gr.Secret]})
			}
		}
	}
	slices.SortFunc(out, func(a, b gatehouse.CredentialHolding) int {
		return strings.Compare(a.Agent+"\x00"+a.System+"\x00"+a.Secret+"\x00"+a.Env, b.Agent+"\x00"+b.System+"\x00"+b.Secret+"\x00"+b.Env)
	})
	for i := range out {
		h := &out[i]
		idx[key{h.Agent, h.System, h.Secret, h.Env}] = i
	}
	agents := map[string]int{} // agent → credentials not yet seen in use
	for _, h := range out {
		agents[h.Agent]++
	}
	const page = 1000
	for ag, missing := range agents {
		var until time.Time
		for missing > 0 {
			acts, err := g.store.Actions(ctx, gatehouse.ActionFilter{Agent: ag, Until: until, Limit: page})
			if err != nil {
				return nil, err
			}
			for _, u := range gatehouse.CredentialUses(acts) {
				i, ok := idx[key{u.Agent, u.System, u.Secret, u.Env}]
				if !ok {
					continue // granted before, not now
				}
				h := &out[i]
				if h.LastUsed == nil {
					missing--
				}
				if h.LastUsed == nil || u.Last.After(*h.LastUsed) {
					last := u.Last
					h.LastUsed, h.LastAction = &last, u.LastAction
				}
			}
			if len(acts) < page {
				break
			}
			oldest := acts[0].Time
			if !until.IsZero() && !oldest.Before(until.Add(-time.Nanosecond)) {
				break // a whole page at one instant: nothing older is reachable this way
			}
			// Until is exclusive: the next page starts with this one's
			// oldest instant again, so that no action of it is skipped.
			until = oldest.Add(time.Nanosecond)
		}
	}
	return out, nil
}

// CredentialScanOf returns the newest credential scan journaled for
// session. EFORBIDDEN unless p may read the journal; ENOTFOUND if the
// session has none. It reads the journal's session events.
func (g *Gateway) CredentialScanOf(ctx context.Context, p gatehouse.Principal, session string) (*gatehouse.CredentialScan, error) {
	if err := requireReader(p); err != nil {
		return nil, err
	}
	if session == "" {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "name a session")
	}
	var found *gatehouse.CredentialScan
	err := g.store.EventsOfType(ctx, []gatehouse.EventType{gatehouse.EventSession}, func(e gatehouse.Event) error {
		if e.Subject != session {
			return nil
		}
		var se gatehouse.SessionEvent
		if err := json.Unmarshal(e.Data, &se); err != nil || se.Reach == nil {
			return nil
		}
		found = &gatehouse.CredentialScan{Session: session, Agent: se.Agent, Event: se.Event, Time: e.Time, Seq: e.Seq, CredentialReach: *se.Reach}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "no credential scan recorded for session %q: `gatehouse hook claude` records one at SessionStart", session)
	}
	return found, nil
}

// validateReach checks a scan a harness reports: bounded, names and
// paths that look like names and paths.
func validateReach(r *gatehouse.CredentialReach) error {
	if r == nil {
		return nil
	}
	inv := func(f string, a ...any) error { return gatehouse.Errorf(gatehouse.EINVALID, f, a...) }
	if len(r.Env) > gatehouse.MaxReachEnv || len(r.Files) > gatehouse.MaxReachFiles {
		return inv("the credential scan lists more than %d variables or %d files", gatehouse.MaxReachEnv, gatehouse.MaxReachFiles)
	}
	for _, n := range r.Env {
		if !envName.MatchString(n) || len(n) > 256 {
			return inv("the credential scan names an invalid variable %q", n)
		}
	}
	for _, f := range r.Files {
		if !strings.HasPrefix(f.Path, "/") || len(f.Path) > 4096 || strings.IndexByte(f.Path, 0) >= 0 || len(f.Kind) > 64 {
			return inv("the credential scan names an invalid file %q", f.Path)
		}
	}
	return nil
}
