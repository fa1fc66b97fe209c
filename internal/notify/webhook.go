package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Headers of a webhook delivery.
const (
	HeaderEvent     = "X-Gatehouse-Event"     // the message's kind
	HeaderDelivery  = "X-Gatehouse-Delivery"  // random; the same on every attempt of one message
	HeaderTimestamp = "X-Gatehouse-Timestamp" // Unix seconds when this attempt was made
	HeaderSignature = "X-Gatehouse-Signature" // Sign(secret, timestamp, body); absent without a secret
)

// Webhook posts each message as JSON to a URL. Create it with NewWebhook;
// it is safe for concurrent use.
type Webhook struct {
	s *sender
}

// NewWebhook returns a notifier that posts messages to url, signed with
// secret (unsigned if secret is empty). It starts the notifier's
// background goroutine: call Close when done with it. An invalid url is
// logged (without the URL) and every message is then dropped.
func NewWebhook(url, secret string, opts Options) *Webhook {
	return &Webhook{s: newSender("webhook", url, opts, func(h http.Header, d *delivery, t time.Time) {
		ts := t.Unix()
		h.Set(HeaderEvent, string(d.kind))
		h.Set(HeaderDelivery, d.id)
		h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		if secret != "" {
			h.Set(HeaderSignature, Sign(secret, ts, d.body))
		}
	})}
}

// Notify implements Notifier.
func (w *Webhook) Notify(m Message) {
	m = w.s.prepare(m)
	body, err := json.Marshal(m)
	if err != nil {
		w.s.dropEncoding(m, err)
		return
	}
	w.s.enqueue(newDelivery(m, body))
}

// Close implements Notifier.
func (w *Webhook) Close(ctx context.Context) error { return w.s.close(ctx) }

// Sign returns the X-Gatehouse-Signature of a delivery: "sha256=" and the
// hex HMAC-SHA256, keyed with secret, of the decimal timestamp, a ".", and
// the body exactly as received. The timestamp is inside the MAC so that a
// captured delivery cannot be replayed later under a fresh timestamp.
func Sign(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(strconv.AppendInt(nil, timestamp, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether header, the value of a delivery's
// X-Gatehouse-Signature, is Sign(secret, timestamp, body). It compares in
// constant time. An empty secret verifies nothing: it returns false. It
// does not judge the timestamp: a receiver should also reject timestamps
// far from its own clock (see the package documentation).
func VerifySignature(secret, header string, timestamp int64, body []byte) bool {
	if secret == "" {
		return false
	}
	return hmac.Equal([]byte(header), []byte(Sign(secret, timestamp, body)))
}
