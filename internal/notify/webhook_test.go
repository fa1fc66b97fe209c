package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/notify"
)

const secret = "whsec_test_0123456789"

func TestWebhookSignsDeliveries(t *testing.T) {
	srv := newServer(t)
	opts, _ := testOptions(t)
	now := time.Date(2025, 6, 1, 12, 0, 5, 0, time.UTC)
	opts.Now = func() time.Time { return now }
	w := notify.NewWebhook(srv.URL+"/hook", secret, opts)
	m := pending()
	w.Notify(m)
	mustClose(t, w)

	reqs := srv.got()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	for k, want := range map[string]string{
		"Content-Type":          "application/json",
		"User-Agent":            "gatehouse",
		"X-Gatehouse-Event":     "approval.pending",
		"X-Gatehouse-Timestamp": strconv.FormatInt(now.Unix(), 10),
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if r.Header.Get("X-Gatehouse-Delivery") == "" {
		t.Error("no delivery id")
	}

	ts, err := strconv.ParseInt(r.Header.Get(notify.HeaderTimestamp), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	sig := r.Header.Get(notify.HeaderSignature)
	if !notify.VerifySignature(secret, sig, ts, r.Body) {
		t.Fatalf("signature %q does not verify", sig)
	}
	// Computed independently of Sign.
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.%s", ts, r.Body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); sig != want {
		t.Errorf("signature %q, want %q", sig, want)
	}
	for name, ok := range map[string]bool{
		"wrong secret":    notify.VerifySignature("other", sig, ts, r.Body),
		"empty secret":    notify.VerifySignature("", sig, ts, r.Body),
		"other timestamp": notify.VerifySignature(secret, sig, ts+1, r.Body),
		"altered body":    notify.VerifySignature(secret, sig, ts, append(r.Body[:len(r.Body):len(r.Body)], ' ')),
		"bare hex":        notify.VerifySignature(secret, strings.TrimPrefix(sig, "sha256="), ts, r.Body),
	} {
		if ok {
			t.Errorf("%s: verified", name)
		}
	}

	var got notify.Message
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Kind != m.Kind || !got.Time.Equal(m.Time) || got.Text != m.Text || got.Approve != m.Approve ||
		got.Deny != m.Deny || strings.Join(got.Reviewers, ",") != "alice,group:oncall" {
		t.Errorf("body = %+v", got)
	}
	if got.Action == nil || got.Action.ID != m.Action.ID || got.Action.Command != "rm -rf build" ||
		got.Action.Analysis == nil || got.Action.Analysis.Risk != 70 || got.Action.Decision.Rule != "destructive-needs-review" {
		t.Errorf("body action = %+v", got.Action)
	}
}

func TestWebhookWithoutSecretIsUnsigned(t *testing.T) {
	srv := newServer(t)
	opts, _ := testOptions(t)
	w := notify.NewWebhook(srv.URL, "", opts)
	w.Notify(pending())
	mustClose(t, w)
	reqs := srv.got()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests", len(reqs))
	}
	if h, ok := reqs[0].Header[notify.HeaderSignature]; ok {
		t.Errorf("signature header %q without a secret", h)
	}
	if reqs[0].Header.Get(notify.HeaderTimestamp) == "" {
		t.Error("no timestamp")
	}
}

func TestWebhookFillsTimeAndText(t *testing.T) {
	srv := newServer(t)
	opts, _ := testOptions(t)
	now := time.Date(2025, 6, 1, 12, 0, 5, 0, time.UTC)
	opts.Now = func() time.Time { return now }
	w := notify.NewWebhook(srv.URL, secret, opts)
	m := pending()
	m.Time, m.Text = time.Time{}, ""
	w.Notify(m)
	mustClose(t, w)
	var got notify.Message
	if err := json.Unmarshal(srv.got()[0].Body, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Time.Equal(now) {
		t.Errorf("time = %v, want %v", got.Time, now)
	}
	if !strings.Contains(got.Text, "claude") || !strings.Contains(got.Text, "rm -rf build") {
		t.Errorf("text = %q", got.Text)
	}
}

// Notify copies the message: the caller may go on changing its action.
func TestNotifySnapshotsTheAction(t *testing.T) {
	srv := newServer(t)
	opts, _ := testOptions(t)
	w := notify.NewWebhook(srv.URL, secret, opts)
	m := pending()
	w.Notify(m)
	m.Action.Command = "changed"
	m.Action.Analysis.Reasons[0] = "changed"
	mustClose(t, w)
	var got notify.Message
	if err := json.Unmarshal(srv.got()[0].Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Action.Command != "rm -rf build" || got.Action.Analysis.Reasons[0] == "changed" {
		t.Errorf("delivered the changed action: %+v", got.Action)
	}
}

func TestWebhookRetriesWithTheSameDeliveryID(t *testing.T) {
	for _, status := range []int{500, 502, 503, 408, 429} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			srv := newServer(t, response{status: status}, response{status: status}, response{status: 200})
			opts, l := testOptions(t)
			w := notify.NewWebhook(srv.URL, secret, opts)
			w.Notify(pending())
			mustClose(t, w)

			reqs := srv.got()
			if len(reqs) != 3 {
				t.Fatalf("got %d requests, want 3", len(reqs))
			}
			id := reqs[0].Header.Get(notify.HeaderDelivery)
			for i, r := range reqs {
				if got := r.Header.Get(notify.HeaderDelivery); got != id {
					t.Errorf("attempt %d: delivery id %q, want %q", i+1, got, id)
				}
				ts, _ := strconv.ParseInt(r.Header.Get(notify.HeaderTimestamp), 10, 64)
				if !notify.VerifySignature(secret, r.Header.Get(notify.HeaderSignature), ts, r.Body) {
					t.Errorf("attempt %d: signature does not verify", i+1)
				}
				if string(r.Body) != string(reqs[0].Body) {
					t.Errorf("attempt %d: body differs", i+1)
				}
			}
			if n := len(l.records(t, "will retry")); n != 2 {
				t.Errorf("%d retry warnings, want 2:\n%s", n, l)
			}
			rec := l.mustRecord(t, "delivered")
			if rec["delivery"] != id || rec["attempt"] != 3.0 {
				t.Errorf("delivered record %v", rec)
			}
		})
	}
}

func TestWebhookDeliveryIDsDiffer(t *testing.T) {
	srv := newServer(t)
	opts, _ := testOptions(t)
	w := notify.NewWebhook(srv.URL, secret, opts)
	w.Notify(pending())
	w.Notify(pending())
	mustClose(t, w)
	reqs := srv.got()
	if len(reqs) != 2 || reqs[0].Header.Get(notify.HeaderDelivery) == reqs[1].Header.Get(notify.HeaderDelivery) {
		t.Errorf("want 2 requests with different delivery ids, got %d", len(reqs))
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	for _, tc := range []struct {
		status     int
		retryAfter string
		want       time.Duration
	}{
		{429, "7", 7 * time.Second},
		{429, "0", 0},
		{503, "2", 2 * time.Second},
		{429, "86400", time.Minute}, // capped
	} {
		t.Run(fmt.Sprint(tc.status, "/", tc.retryAfter), func(t *testing.T) {
			srv := newServer(t, response{status: tc.status, header: map[string]string{"Retry-After": tc.retryAfter}}, response{status: 200})
			opts, _ := testOptions(t)
			w := notify.NewWebhook(srv.URL, secret, opts)
			var s sleeps
			notify.SetSleep(w, s.sleep)
			w.Notify(pending())
			mustClose(t, w)
			if n := len(srv.got()); n != 2 {
				t.Fatalf("got %d requests, want 2", n)
			}
			if got := s.got(); len(got) != 1 || got[0] != tc.want {
				t.Errorf("waited %v, want [%v]", got, tc.want)
			}
		})
	}
}

// Without Retry-After the delay doubles from Backoff up to 30s, jittered
// into [d/2, d]. The delays are observed, not spent.
func TestBackoffDoublesUpToCap(t *testing.T) {
	srv := newServer(t, response{status: 500})
	opts, _ := testOptions(t)
	opts.Backoff, opts.MaxAttempts = 5*time.Second, 8
	w := notify.NewWebhook(srv.URL, secret, opts)
	var s sleeps
	notify.SetSleep(w, s.sleep)
	w.Notify(pending())
	mustClose(t, w)
	got := s.got()
	if len(got) != 7 {
		t.Fatalf("%d waits, want 7", len(got))
	}
	d := 5 * time.Second
	for i, g := range got {
		if g < d/2 || g > d {
			t.Errorf("wait %d = %v, want in [%v, %v]", i+1, g, d/2, d)
		}
		d = min(2*d, 30*time.Second)
	}
}

func TestWebhookDoesNotRetryOtherClientErrors(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 410, 422, 301} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			srv := newServer(t, response{status: status, body: "invalid_payload", header: map[string]string{"Location": "/elsewhere"}})
			opts, l := testOptions(t)
			w := notify.NewWebhook(srv.URL, secret, opts)
			m := pending()
			w.Notify(m)
			mustClose(t, w)
			if n := len(srv.got()); n != 1 {
				t.Fatalf("got %d requests, want 1", n)
			}
			rec := l.mustRecord(t, "rejected")
			if rec["level"] != "ERROR" || rec["status"] != float64(status) || rec["action"] != m.Action.ID ||
				rec["kind"] != "approval.pending" || rec["response"] != "invalid_payload" {
				t.Errorf("log record %v", rec)
			}
		})
	}
}

func TestWebhookGivesUpAfterMaxAttempts(t *testing.T) {
	srv := newServer(t, response{status: 503})
	opts, l := testOptions(t)
	opts.MaxAttempts = 3
	w := notify.NewWebhook(srv.URL, secret, opts)
	m := pending()
	w.Notify(m)
	mustClose(t, w)
	if n := len(srv.got()); n != 3 {
		t.Fatalf("got %d requests, want 3", n)
	}
	rec := l.mustRecord(t, "giving up")
	if rec["level"] != "ERROR" || rec["attempt"] != 3.0 || rec["status"] != 503.0 ||
		rec["action"] != m.Action.ID || rec["kind"] != "approval.pending" || rec["delivery"] == "" {
		t.Errorf("log record %v", rec)
	}
}

func TestWebhookRetriesNetworkErrors(t *testing.T) {
	srv := newServer(t)
	url := srv.URL
	srv.Close() // nothing listens there any more
	opts, l := testOptions(t)
	opts.MaxAttempts = 2
	w := notify.NewWebhook(url, secret, opts)
	w.Notify(pending())
	mustClose(t, w)
	if n := len(l.records(t, "will retry")); n != 1 {
		t.Errorf("%d retries, want 1:\n%s", n, l)
	}
	rec := l.mustRecord(t, "giving up")
	if e, _ := rec["err"].(string); e == "" {
		t.Errorf("no error in %v", rec)
	}
}

func TestQueueFullDropsNewMessages(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, response{status: 200, block: release}, response{status: 200})
	opts, l := testOptions(t)
	opts.QueueSize = 1
	w := notify.NewWebhook(srv.URL, secret, opts)

	first, second, third := pending(), pending(), pending()
	first.Action.ID, second.Action.ID, third.Action.ID = "01KFIRST", "01KSECOND", "01KTHIRD"
	third.Kind = notify.KindApprovalEscalated
	w.Notify(first)
	srv.wait(t)      // first is in flight, the queue is empty
	w.Notify(second) // fills the queue
	w.Notify(third)  // must return at once, dropped
	rec := l.mustRecord(t, "queue full")
	if rec["level"] != "ERROR" || rec["action"] != "01KTHIRD" || rec["kind"] != "approval.escalated" {
		t.Errorf("log record %v", rec)
	}
	close(release)
	mustClose(t, w)

	var ids []string
	for _, r := range srv.got() {
		var m notify.Message
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.Action.ID)
	}
	if strings.Join(ids, " ") != "01KFIRST 01KSECOND" {
		t.Errorf("delivered %v, want the first two in order", ids)
	}
}

func TestCloseWaitsForInFlightDelivery(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, response{status: 200, block: release})
	opts, _ := testOptions(t)
	w := notify.NewWebhook(srv.URL, secret, opts)
	w.Notify(pending())
	w.Notify(pending())
	srv.wait(t)

	closed := make(chan error, 1)
	go func() {
		closed <- w.Close(context.Background())
	}()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with a delivery in flight", err)
	default:
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Both the one in flight and the one queued behind it were sent
	// before Close returned.
	if n := len(srv.got()); n != 2 {
		t.Errorf("%d requests when Close returned, want 2", n)
	}
}

func TestCloseGivesUpWhenContextEnds(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	srv := newServer(t, response{status: 200, block: block})
	opts, l := testOptions(t)
	w := notify.NewWebhook(srv.URL, secret, opts)
	w.Notify(pending())
	w.Notify(pending())
	w.Notify(pending())
	srv.wait(t)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want context.Canceled", err)
	}
	// A second Close waits for the goroutine, which stops promptly.
	mustClose(t, w)
	l.mustRecord(t, "abandoned")
	rec := l.mustRecord(t, "they are lost")
	if rec["count"] != 2.0 {
		t.Errorf("lost record %v", rec)
	}
}

func TestNotifyAfterCloseIsDropped(t *testing.T) {
	srv := newServer(t)
	opts, l := testOptions(t)
	w := notify.NewWebhook(srv.URL, secret, opts)
	mustClose(t, w)
	w.Notify(pending())
	mustClose(t, w)
	if n := len(srv.got()); n != 0 {
		t.Errorf("%d requests after Close", n)
	}
	l.mustRecord(t, "closed; message dropped")
}

func TestMultiFansOut(t *testing.T) {
	a, b := newServer(t), newServer(t)
	opts, _ := testOptions(t)
	n := notify.Multi{notify.NewWebhook(a.URL, secret, opts), nil, notify.Discard, notify.NewSlack(b.URL, opts)}
	n.Notify(pending())
	mustClose(t, n)
	if len(a.got()) != 1 || len(b.got()) != 1 {
		t.Errorf("webhook got %d, slack got %d; want 1 each", len(a.got()), len(b.got()))
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	const (
		hookSecret  = "whsec_SUPERSECRET"
		pathSecret  = "PATHSECRET"
		querySecret = "QUERYSECRET"
		slackSecret = "SLACKSECRET"
	)
	srv := newServer(t, response{status: 500, body: "oops"}, response{status: 400, body: "bad"})
	dead := newServer(t)
	deadURL := dead.URL
	dead.Close()

	opts, l := testOptions(t)
	opts.MaxAttempts = 2
	var ns notify.Multi
	ns = append(ns,
		notify.NewWebhook(srv.URL+"/hook/"+pathSecret+"?token="+querySecret, hookSecret, opts),
		notify.NewWebhook(deadURL+"/hook/"+pathSecret+"?token="+querySecret, hookSecret, opts),
		notify.NewSlack(srv.URL+"/services/T0/B0/"+slackSecret, opts),
		notify.NewSlack(deadURL+"/services/T0/B0/"+slackSecret, opts),
		notify.NewWebhook("ht tp://bad/"+pathSecret, hookSecret, opts),
	)
	ns.Notify(pending())
	mustClose(t, ns)

	out := l.String()
	for _, s := range []string{hookSecret, pathSecret, querySecret, slackSecret, "/hook", "/services"} {
		if strings.Contains(out, s) {
			t.Errorf("logs contain %q:\n%s", s, out)
		}
	}
	if !strings.Contains(out, "127.0.0.1") || !strings.Contains(out, "giving up") || !strings.Contains(out, "invalid URL") {
		t.Errorf("logs lack the endpoint host or the failures:\n%s", out)
	}
	// The requests did reach the secret paths.
	var paths []string
	for _, r := range srv.got() {
		paths = append(paths, r.Path)
	}
	if all := strings.Join(paths, " "); !strings.Contains(all, querySecret) || !strings.Contains(all, slackSecret) {
		t.Errorf("request paths: %v", paths)
	}
}

func TestDiscard(t *testing.T) {
	notify.Discard.Notify(pending())
	if err := notify.Discard.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
