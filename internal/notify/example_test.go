package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
)

// A receiver checks the timestamp and the signature before it trusts a
// delivery, and answers 2xx once it has handled it.
func ExampleVerifySignature() {
	const secret = "whsec_example"
	done := make(chan struct{})
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		ts, err := strconv.ParseInt(r.Header.Get("X-Gatehouse-Timestamp"), 10, 64)
		if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
			http.Error(w, "stale or missing timestamp", http.StatusUnauthorized)
			return
		}
		if !notify.VerifySignature(secret, r.Header.Get("X-Gatehouse-Signature"), ts, body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var m notify.Message
		if err := json.Unmarshal(body, &m); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		fmt.Println("verified:", m.Kind, m.Action.ID, m.Approve)
		w.WriteHeader(http.StatusNoContent)
		close(done)
	}))
	defer receiver.Close()

	w := notify.NewWebhook(receiver.URL, secret, notify.Options{})
	w.Notify(notify.Message{
		Kind:    notify.KindApprovalPending,
		Action:  &gatehouse.Action{ID: "01KEXAMPLE", Agent: "claude", Command: "git push --force"},
		Approve: "gatehouse approve 01KEXAMPLE",
	})
	<-done
	w.Close(context.Background())
	// Output: verified: approval.pending 01KEXAMPLE gatehouse approve 01KEXAMPLE
}
