package notify

import (
	"context"
	"time"
)

// SetSleep replaces how n waits between attempts, so that tests can see
// the delays chosen without spending them. Call it before the first
// Notify.
func SetSleep(n Notifier, f func(ctx context.Context, d time.Duration) error) {
	switch n := n.(type) {
	case *Webhook:
		n.s.sleep = f
	case *Slack:
		n.s.sleep = f
	default:
		panic("notify.SetSleep: not a Webhook or Slack")
	}
}
