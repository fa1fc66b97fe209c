package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/executor"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/shell"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
	"github.com/gatehouse-dev/gatehouse/internal/tripwire"
)

// receiver is a webhook endpoint on loopback that keeps what it is sent
// and checks each signature.
type receiver struct {
	mu   sync.Mutex
	msgs []notify.Message
	bad  int
	got  chan notify.Kind
}

func newReceiver(t testing.TB, secret string) (*receiver, string) {
	r := &receiver{got: make(chan notify.Kind, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		ts, _ := strconv.ParseInt(req.Header.Get(notify.HeaderTimestamp), 10, 64)
		var m notify.Message
		_ = json.Unmarshal(body, &m)
		r.mu.Lock()
		if !notify.VerifySignature(secret, req.Header.Get(notify.HeaderSignature), ts, body) {
			r.bad++
		}
		r.msgs = append(r.msgs, m)
		r.mu.Unlock()
		select {
		case r.got <- m.Kind:
		default: // nobody is waiting for this kind (benchmarks): keep it only in msgs
		}
	}))
	t.Cleanup(srv.Close)
	return r, srv.URL
}

func (r *receiver) wait(t *testing.T, kind notify.Kind) notify.Message {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case k := <-r.got:
			if k == kind {
				r.mu.Lock()
				defer r.mu.Unlock()
				for i := len(r.msgs) - 1; i >= 0; i-- {
					if r.msgs[i].Kind == kind {
						return r.msgs[i]
					}
				}
			}
		case <-deadline:
			t.Fatalf("no %s notification within 30s", kind)
		}
	}
}

// reviewFixture is a gateway deciding by a real policy, with the real
// analyser, notifying a webhook.
func reviewFixture(t testing.TB, pol string) (*fixture, *receiver) {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	z := gateway.Analyzers{Shell: shell.Analyze, Argv: shell.AnalyzeArgv}
	p, err := policy.Parse([]byte(pol), policy.Options{Analyze: z.Shell})
	if err != nil {
		t.Fatal(err)
	}
	learned := policy.NewLearned()
	rcv, url := newReceiver(t, "s3cret")
	hook := notify.NewWebhook(url, "s3cret", notify.Options{Backoff: time.Millisecond})
	t.Cleanup(func() { hook.Close(context.Background()) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gw := gateway.New(store, executor.New(executor.Config{KillGrace: 200 * time.Millisecond}),
		gateway.Config{BaseEnv: map[string]string{"PATH": os.Getenv("PATH")}},
		gateway.Options{AdminToken: "gadm_test", Logger: log, Learned: learned, Notifier: hook,
			Decider: gateway.NewPolicyDecider(p, learned, z, nil), Tripwires: tripwire.NewMonitor(p.Tripwires())})
	ctx := context.Background()
	admin, _ := gw.Authenticate(ctx, "gadm_test")
	_, tok, err := gw.AddAgent(ctx, admin, "ci")
	if err != nil {
		t.Fatal(err)
	}
	agent, _ := gw.Authenticate(ctx, tok)
	return &fixture{gw: gw, store: store, agent: agent, admin: admin, dir: dir}, rcv
}

// A review that times out with on_timeout: escalate is escalated once —
// journaled, notified, extended — and denied when the extension runs out.
func TestEscalation(t *testing.T) {
	f, rcv := reviewFixture(t, `version: 1
default: allow
rules:
  - id: ask-oncall
    effect: review
    reason: deploys need a human
    command: {prefix: "touch deploy"}
    timeout: 200ms
    on_timeout: escalate
    escalate_to: [oncall]
`)
	ctx := context.Background()
	marker := filepath.Join(f.dir, "deploy")
	a, err := f.gw.Run(ctx, f.agent, gatehouse.RunRequest{Argv: []string{"touch", "deploy"}, Cwd: f.dir}, gateway.Sink{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != gatehouse.StatusDenied || a.EscalatedUntil == nil {
		t.Fatalf("status %s, escalated until %v; want denied after an escalation", a.Status, a.EscalatedUntil)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatal("the command ran without approval")
	}
	pending := rcv.wait(t, notify.KindApprovalPending)
	if pending.Action == nil || pending.Action.ID != a.ID || pending.Approve != "gatehouse approve "+a.ID {
		t.Errorf("pending notification: %+v", pending)
	}
	esc := rcv.wait(t, notify.KindApprovalEscalated)
	if len(esc.Reviewers) != 1 || esc.Reviewers[0] != "oncall" {
		t.Errorf("escalated to %v, want [oncall]", esc.Reviewers)
	}
	rcv.mu.Lock()
	bad := rcv.bad
	rcv.mu.Unlock()
	if bad != 0 {
		t.Errorf("%d notifications with a bad signature", bad)
	}
	types := map[gatehouse.EventType]int{}
	_ = f.store.Events(ctx, 0, func(e gatehouse.Event) error { types[e.Type]++; return nil })
	if types[gatehouse.EventActionEscalated] != 1 || types[gatehouse.EventActionStarted] != 0 {
		t.Errorf("events %v: want one escalation and no start", types)
	}
}

func TestReviewRules(t *testing.T) {
	f, _ := reviewFixture(t, `version: 1
default: review
approval_timeout: 1h
`)
	ctx := context.Background()
	reviewer, tok, err := f.gw.AddIdentity(ctx, f.admin, "alice", gatehouse.RoleReviewer)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := f.gw.Authenticate(ctx, tok)
	if err != nil || alice.Role != gatehouse.RoleReviewer || reviewer.Role != gatehouse.RoleReviewer {
		t.Fatalf("reviewer: %+v %v", alice, err)
	}
	// Agents share the namespace: no agent named alice.
	if _, _, err := f.gw.AddAgent(ctx, f.admin, "alice"); gatehouse.ErrorCode(err) != gatehouse.ECONFLICT {
		t.Errorf("agent with a reviewer's name: %v, want ECONFLICT", err)
	}
	pendingCh := make(chan *gatehouse.Action, 1)
	done := make(chan *gatehouse.Action, 1)
	go func() {
		a, err := f.gw.Run(ctx, f.agent, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: f.dir},
			gateway.Sink{Pending: func(a *gatehouse.Action) { pendingCh <- a }})
		if err != nil {
			t.Error(err)
		}
		done <- a
	}()
	p := <-pendingCh
	tests := []struct {
		name    string
		who     gatehouse.Principal
		verdict string
		reason  string
		rem     *gatehouse.Remember
		code    string
	}{
		{"agent cannot approve", f.agent, gatehouse.VerdictApprove, "", nil, gatehouse.EFORBIDDEN},
		{"deny needs a reason", alice, gatehouse.VerdictDeny, "", nil, gatehouse.EINVALID},
		{"bad verdict", alice, "maybe", "", nil, gatehouse.EINVALID},
		{"remember a denial", alice, gatehouse.VerdictDeny, "no", &gatehouse.Remember{Match: "exact", TTL: "1h"}, gatehouse.EINVALID},
		{"remember too long", alice, gatehouse.VerdictApprove, "", &gatehouse.Remember{Match: "exact", TTL: "10000h"}, gatehouse.EINVALID},
		{"remember a prefix that does not cover it", alice, gatehouse.VerdictApprove, "", &gatehouse.Remember{Match: "prefix", Pattern: "false", TTL: "1h"}, gatehouse.EINVALID},
		{"remember bad kind", alice, gatehouse.VerdictApprove, "", &gatehouse.Remember{Match: "regex", TTL: "1h"}, gatehouse.EINVALID},
		{"remember a ttl that is no duration", alice, gatehouse.VerdictApprove, "", &gatehouse.Remember{Match: "exact", TTL: "forever"}, gatehouse.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.gw.Review(ctx, tt.who, p.ID, tt.verdict, gatehouse.ReviewRequest{Reason: tt.reason, Remember: tt.rem})
			if gatehouse.ErrorCode(err) != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
		})
	}
	if _, err := f.gw.Review(ctx, alice, "01ARZ3NDEKTSV4RRFFQ69G5FAV", gatehouse.VerdictApprove, gatehouse.ReviewRequest{}); gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
		t.Errorf("unknown action: %v", err)
	}
	// None of the refused reviews changed the action.
	if a, _ := f.store.Action(ctx, p.ID); len(a.Reviews) != 0 || a.Status != gatehouse.StatusPending {
		t.Fatalf("after refused reviews: %d reviews, status %s", len(a.Reviews), a.Status)
	}
	if _, err := f.gw.Review(ctx, alice, p.ID, gatehouse.VerdictApprove, gatehouse.ReviewRequest{Reason: "ok"}); err != nil {
		t.Fatal(err)
	}
	a := <-done
	if a.Status != gatehouse.StatusSucceeded || len(a.Reviews) != 1 || a.Reviews[0].By != "alice" {
		t.Fatalf("after approval: %s, reviews %+v", a.Status, a.Reviews)
	}
	if _, err := f.gw.Review(ctx, alice, p.ID, gatehouse.VerdictApprove, gatehouse.ReviewRequest{Reason: "again"}); err != nil {
		t.Errorf("repeating an approval: %v, want harmless", err)
	}
	if _, err := f.gw.Review(ctx, alice, p.ID, gatehouse.VerdictDeny, gatehouse.ReviewRequest{Reason: "late"}); gatehouse.ErrorCode(err) != gatehouse.ECONFLICT {
		t.Errorf("denying a finished action: %v, want ECONFLICT", err)
	}
	rep, err := f.gw.Verify(ctx, f.admin)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}
