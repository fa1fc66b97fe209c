package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
)

// logs captures a notifier's slog output; safe for the notifier's
// goroutine to write while a test reads.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// records returns the JSON log records whose message contains msg.
func (l *logs) records(t testing.TB, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(l.String()) {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m, _ := r["msg"].(string); strings.Contains(m, msg) {
			out = append(out, r)
		}
	}
	return out
}

// mustRecord returns the one log record whose message contains msg.
func (l *logs) mustRecord(t testing.TB, msg string) map[string]any {
	t.Helper()
	rs := l.records(t, msg)
	if len(rs) != 1 {
		t.Fatalf("want 1 log record with %q, got %d; logs:\n%s", msg, len(rs), l)
	}
	return rs[0]
}

// testOptions returns fast options logging to a buffer.
func testOptions(t testing.TB) (notify.Options, *logs) {
	t.Helper()
	l := &logs{}
	return notify.Options{
		Logger:  slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Backoff: time.Millisecond,
	}, l
}

// request is what a test server received.
type request struct {
	Header http.Header
	Body   []byte
	Path   string
}

// server is a loopback HTTP server that answers each request with the
// next of a script of responses (the last one repeating) and records what
// it received.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
	arrived  chan struct{} // one value per request, before it is answered
}

type response struct {
	status int
	header map[string]string
	body   string
	block  chan struct{} // if set, wait for it (or the client going away) before answering
}

func newServer(t testing.TB, script ...response) *server {
	t.Helper()
	s := &server{arrived: make(chan struct{}, 100)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		n := len(s.requests)
		s.requests = append(s.requests, request{Header: r.Header.Clone(), Body: body, Path: r.URL.RequestURI()})
		s.mu.Unlock()
		resp := response{status: http.StatusOK}
		if len(script) > 0 {
			resp = script[min(n, len(script)-1)]
		}
		s.arrived <- struct{}{}
		if resp.block != nil {
			select {
			case <-resp.block:
			case <-r.Context().Done():
				return
			}
		}
		for k, v := range resp.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(resp.status)
		io.WriteString(w, resp.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) got() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.requests...)
}

// wait blocks until the server has received one more request.
func (s *server) wait(t testing.TB) {
	t.Helper()
	select {
	case <-s.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no request arrived")
	}
}

// mustClose closes n, failing the test if it does not finish cleanly.
func mustClose(t testing.TB, n notify.Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// sleeps records the delays a notifier asks for, without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

func testAction() *gatehouse.Action {
	return &gatehouse.Action{
		ID:      "01K0000000000000000000TEST",
		Time:    time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		Agent:   "claude",
		Session: "sess-42",
		Kind:    gatehouse.KindShell,
		Argv:    []string{"/bin/sh", "-c", "rm -rf build"},
		Command: "rm -rf build",
		Shell:   true,
		Intent:  "clean the build directory",
		Decision: gatehouse.Decision{
			Effect: gatehouse.EffectReview, Rule: "destructive-needs-review", Reason: "destructive commands need a human",
		},
		Analysis: &gatehouse.Analysis{
			Class:   gatehouse.ClassDestructive,
			Risk:    70,
			Reasons: []string{"rm -r deletes a directory tree", "-f suppresses prompts"},
			Targets: []string{"build"},
		},
		Status: gatehouse.StatusPending,
	}
}

func pending() notify.Message {
	a := testAction()
	return notify.Message{
		Kind:      notify.KindApprovalPending,
		Time:      time.Date(2025, 6, 1, 12, 0, 1, 0, time.UTC),
		Action:    a,
		Reviewers: []string{"alice", "group:oncall"},
		Approve:   "gatehouse approve " + a.ID + " [--reason …]",
		Deny:      "gatehouse deny " + a.ID + " [--reason …]",
		Text:      `Agent "claude" asks to run "rm -rf build"; it waits for approval.`,
	}
}
