package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// delivery is one queued message, already encoded: what the background
// goroutine sends, with nothing in it that the caller still holds.
type delivery struct {
	id     string // X-Gatehouse-Delivery: the same on every attempt
	kind   Kind
	action string // the action's ID, for logs
	body   []byte
}

// sender is the queue, the background goroutine and the retry policy that
// Webhook and Slack share. What differs between them is the body (built by
// their Notify) and the per-attempt headers (header).
type sender struct {
	url      string
	badURL   bool
	client   *http.Client
	log      *slog.Logger
	attempts int
	backoff  time.Duration
	now      func() time.Time
	// header sets the headers of one attempt made at time ts.
	header func(h http.Header, d *delivery, ts time.Time)
	// sleep waits d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error

	mu     sync.Mutex
	closed bool
	queue  chan *delivery

	ctx    context.Context // cancelled when Close gives up waiting
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine has finished
}

func newSender(name, rawURL string, opts Options, header func(http.Header, *delivery, time.Time)) *sender {
	if opts.Client == nil {
		opts.Client = &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	endpoint, ok := redactURL(rawURL)
	ctx, cancel := context.WithCancel(context.Background())
	s := &sender{
		url: rawURL, badURL: !ok, client: opts.Client,
		log:      opts.Logger.With("notifier", name, "endpoint", endpoint),
		attempts: opts.MaxAttempts, backoff: opts.Backoff, now: opts.Now,
		header: header, sleep: sleep,
		queue: make(chan *delivery, opts.QueueSize),
		ctx:   ctx, cancel: cancel, done: make(chan struct{}),
	}
	if s.badURL {
		// The URL itself is not logged: it may be a secret.
		s.log.Error("notify: invalid URL (want http or https with a host); every message will be dropped")
	}
	go s.run()
	return s
}

// redactURL returns what of a URL may be logged, the scheme and the host,
// and whether it is one a notifier can post to. The path and query of
// webhook URLs are often credentials (Slack's are), so they are never
// logged; neither is the text of a parse error, which quotes the URL.
func redactURL(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "invalid", false
	}
	return u.Scheme + "://" + u.Host, true
}

// prepare fills in what a message left empty.
func (s *sender) prepare(m Message) Message {
	if m.Time.IsZero() {
		m.Time = s.now()
	}
	if m.Text == "" {
		m.Text = summary(m)
	}
	return m
}

// newDelivery wraps an encoded message.
func newDelivery(m Message, body []byte) *delivery {
	d := &delivery{id: rand.Text(), kind: m.Kind, body: body}
	if m.Action != nil {
		d.action = m.Action.ID
	}
	return d
}

func (d *delivery) attrs(more ...any) []any {
	return append([]any{"kind", string(d.kind), "action", d.action, "delivery", d.id}, more...)
}

// enqueue queues d without ever blocking.
func (s *sender) enqueue(d *delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.log.Warn("notify: notifier closed; message dropped", d.attrs()...)
		return
	}
	select {
	case s.queue <- d:
	default:
		s.log.Error("notify: queue full; message dropped", d.attrs("queue_size", cap(s.queue))...)
	}
}

// dropEncoding logs a message that could not be encoded.
func (s *sender) dropEncoding(m Message, err error) {
	d := newDelivery(m, nil)
	s.log.Error("notify: cannot encode message; dropped", d.attrs("err", err.Error())...)
}

func (s *sender) close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.queue)
	}
	s.mu.Unlock()
	select {
	case <-s.done:
		return nil
	default:
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.cancel()
		return fmt.Errorf("notify.Close: deliveries still pending: %w", context.Cause(ctx))
	}
}

// run delivers the queue's messages one after another until it is closed
// and empty.
func (s *sender) run() {
	defer close(s.done)
	defer s.cancel()
	abandoned := 0
	for d := range s.queue {
		if s.ctx.Err() != nil {
			abandoned++
			continue
		}
		s.deliver(d)
	}
	if abandoned > 0 {
		s.log.Error("notify: closed before queued messages could be sent; they are lost", "count", abandoned)
	}
}

// result is how one attempt went.
type result struct {
	status     int           // 0 if no response
	retryAfter time.Duration // from Retry-After; -1 if none
	body       string        // the start of the response body, for logs
	err        error         // no response; never quotes the URL
}

func (r result) retryable() bool {
	if r.err != nil {
		return true
	}
	return r.status == http.StatusRequestTimeout || r.status == http.StatusTooManyRequests ||
		(r.status >= 500 && r.status < 600)
}

func (r result) attrs(attempt int) []any {
	a := []any{"attempt", attempt}
	if r.err != nil {
		return append(a, "err", r.err.Error())
	}
	a = append(a, "status", r.status)
	if r.body != "" {
		a = append(a, "response", r.body)
	}
	return a
}

// deliver tries d until it is accepted, refused, or out of attempts.
func (s *sender) deliver(d *delivery) {
	if s.badURL {
		s.log.Error("notify: message dropped: the notifier's URL is invalid", d.attrs()...)
		return
	}
	for attempt := 1; ; attempt++ {
		r := s.try(d)
		switch {
		case r.err == nil && r.status >= 200 && r.status < 300:
			s.log.Debug("notify: delivered", d.attrs("attempt", attempt, "status", r.status)...)
			return
		case s.ctx.Err() != nil:
			s.log.Error("notify: delivery abandoned: closed before it succeeded", d.attrs(r.attrs(attempt)...)...)
			return
		case !r.retryable():
			s.log.Error("notify: delivery rejected; not retried", d.attrs(r.attrs(attempt)...)...)
			return
		case attempt >= s.attempts:
			s.log.Error("notify: delivery failed; giving up", d.attrs(r.attrs(attempt)...)...)
			return
		}
		wait := r.retryAfter
		if wait < 0 {
			wait = s.delay(attempt)
		}
		s.log.Warn("notify: delivery failed; will retry", d.attrs(append(r.attrs(attempt), "retry_in", wait)...)...)
		if err := s.sleep(s.ctx, wait); err != nil {
			s.log.Error("notify: delivery abandoned: closed before it succeeded", d.attrs("attempt", attempt)...)
			return
		}
	}
}

// delay is the wait after the given failed attempt: Backoff doubled for
// each earlier retry, capped, then jittered into [d/2, d] so that many
// gateways behind one failing receiver do not retry in step.
func (s *sender) delay(attempt int) time.Duration {
	d := s.backoff
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	half := d / 2
	return half + mrand.N(d-half+1)
}

// try makes one attempt.
func (s *sender) try(d *delivery) result {
	ctx, cancel := context.WithTimeout(s.ctx, attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(d.body))
	if err != nil {
		return result{err: errors.New("cannot build the request"), retryAfter: -1} // err quotes the URL
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gatehouse")
	if s.header != nil {
		s.header(req.Header, d, s.now())
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return result{err: redactErr(err), retryAfter: -1}
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection can be reused
	r := result{status: resp.StatusCode, retryAfter: -1}
	if r.status < 200 || r.status >= 300 {
		r.body = strings.TrimSpace(strings.ToValidUTF8(string(head), "\uFFFD"))
	}
	if r.status == http.StatusTooManyRequests || r.status == http.StatusServiceUnavailable {
		r.retryAfter = s.parseRetryAfter(resp.Header.Get("Retry-After"))
	}
	return r
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date, clamped to
// [0, maxRetryAfter]; -1 if absent or unreadable.
func (s *sender) parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(s.now())
	} else {
		return -1
	}
	return min(max(d, 0), maxRetryAfter)
}

// redactErr strips the *url.Error around a transport error: its text
// quotes the whole URL, which may be a secret.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
