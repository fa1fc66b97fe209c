package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse"
)

// Kind is what a message is about. It is sent as the X-Gatehouse-Event
// header and the "kind" field; the values are part of the public contract.
type Kind string

const (
	KindApprovalPending   Kind = "approval.pending"   // an action waits for a human's approval
	KindApprovalEscalated Kind = "approval.escalated" // nobody approved in time; more reviewers are asked
	KindApprovalResolved  Kind = "approval.resolved"  // approved, denied or expired
	KindHalt              Kind = "halt"               // a tripwire or an operator halted the gateway
)

// title is how a kind reads as a heading.
func (k Kind) title() string {
	switch k {
	case KindApprovalPending:
		return "Approval pending"
	case KindApprovalEscalated:
		return "Approval escalated"
	case KindApprovalResolved:
		return "Approval resolved"
	case KindHalt:
		return "Gatehouse halted"
	case "":
		return "Gatehouse notification"
	}
	return string(k)
}

// Message is one notification. Its JSON is the body of a webhook delivery.
type Message struct {
	Kind      Kind              `json:"kind"`
	Time      time.Time         `json:"time"`                // when it happened; the notifier's clock if zero
	Action    *gatehouse.Action `json:"action,omitempty"`    // command, agent, session, intent, analysis, decision
	Reviewers []string          `json:"reviewers,omitempty"` // who may approve (names or groups)
	Approve   string            `json:"approve,omitempty"`   // how to approve, e.g. "gatehouse approve 01K… [--reason …]"
	Deny      string            `json:"deny,omitempty"`      // how to deny
	Text      string            `json:"text"`                // one human sentence summarising it; derived from the rest if empty
}

// Notifier delivers messages to people.
type Notifier interface {
	// Notify queues m for delivery and returns at once; delivery happens
	// in the background. It never blocks and never fails: a message that
	// cannot be queued (the queue is full, or the notifier is closed) is
	// dropped and logged. Notify copies what it needs from m before it
	// returns, so the caller may change *m.Action afterwards.
	Notify(m Message)
	// Close stops accepting messages and waits (bounded by ctx) for queued
	// deliveries to finish or give up. If ctx ends first, the delivery in
	// flight is cancelled, the messages still queued are abandoned (and
	// logged), and Close returns an error wrapping ctx's cause. Close may
	// be called more than once.
	Close(ctx context.Context) error
}

// Options tune a notifier. Zero fields take defaults.
type Options struct {
	// Client sends the requests. The default follows no redirects (a 3xx
	// counts as a rejection): a webhook that moves should be reconfigured,
	// not followed to wherever it points.
	Client *http.Client
	Logger *slog.Logger // slog.Default()
	// MaxAttempts is how many times a message is tried before it is given
	// up (default 6).
	MaxAttempts int
	// Backoff is the delay before the first retry (default 500ms). It
	// doubles with each retry up to 30s, with jitter: the actual delay is
	// uniformly between half of it and all of it.
	Backoff time.Duration
	// QueueSize bounds the messages waiting for delivery (default 1024).
	// When the queue is full a new message is dropped and logged: the
	// gateway is never blocked by a slow or dead endpoint.
	QueueSize int
	Now       func() time.Time // time.Now
}

// Defaults and bounds of the delivery policy.
const (
	DefaultMaxAttempts = 6
	DefaultBackoff     = 500 * time.Millisecond
	DefaultQueueSize   = 1024

	maxBackoff     = 30 * time.Second
	maxRetryAfter  = time.Minute // a longer Retry-After is cut to this
	attemptTimeout = 10 * time.Second
)

// Multi sends every message to each of its notifiers. Nil entries are
// skipped.
type Multi []Notifier

// Notify implements Notifier.
func (ns Multi) Notify(m Message) {
	for _, n := range ns {
		if n != nil {
			n.Notify(m)
		}
	}
}

// Close closes all of them at once, sharing ctx's deadline, and returns
// their errors joined.
func (ns Multi) Close(ctx context.Context) error {
	errs := make([]error, len(ns))
	var wg sync.WaitGroup
	for i, n := range ns {
		if n == nil {
			continue
		}
		wg.Go(func() { errs[i] = n.Close(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Discard is a Notifier that drops every message: the notifier to use when
// none is configured.
var Discard Notifier = discard{}

type discard struct{}

func (discard) Notify(Message)              {}
func (discard) Close(context.Context) error { return nil }

var (
	_ Notifier = Multi(nil)
	_ Notifier = (*Webhook)(nil)
	_ Notifier = (*Slack)(nil)
)

// summary is the sentence used when a message has no Text.
func summary(m Message) string {
	a := m.Action
	if a == nil {
		return m.Kind.title() + "."
	}
	cmd := clip(command(a), 120)
	switch m.Kind {
	case KindApprovalPending:
		s := fmt.Sprintf("Agent %q asks to run %q", a.Agent, cmd)
		if an := a.Analysis; an != nil && an.Class != "" {
			s += fmt.Sprintf(" (%s, risk %d)", an.Class, an.Risk)
		}
		return s + "; it waits for approval."
	case KindApprovalEscalated:
		return fmt.Sprintf("Approval of %q for agent %q has been escalated.", cmd, a.Agent)
	case KindApprovalResolved:
		switch a.Decision.Effect {
		case gatehouse.EffectAllow:
			return fmt.Sprintf("%q for agent %q was approved.", cmd, a.Agent)
		case gatehouse.EffectDeny:
			return fmt.Sprintf("%q for agent %q was denied.", cmd, a.Agent)
		}
		return fmt.Sprintf("The approval of %q for agent %q was resolved.", cmd, a.Agent)
	}
	return fmt.Sprintf("%s: %q for agent %q.", m.Kind.title(), cmd, a.Agent)
}

// command is the action's command as a reviewer reads it.
func command(a *gatehouse.Action) string {
	if a.Command != "" {
		return a.Command
	}
	s := ""
	for i, arg := range a.Argv {
		if i > 0 {
			s += " "
		}
		s += arg
	}
	return s
}

// clip shortens s to at most n runes, marking the cut with "…".
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, k := 0, 0
	for i = range s {
		if k == n-1 {
			break
		}
		k++
	}
	return s[:i] + "…"
}
