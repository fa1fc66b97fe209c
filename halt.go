package gatehouse

import (
	"fmt"
	"time"
)

// HaltMode is what a halt does to new actions in its scope.
type HaltMode string

const (
	// ModeHalt refuses new actions, kills running ones (unless told not
	// to) and cancels pending approvals.
	ModeHalt HaltMode = "halt"
	// ModePause holds new actions until it is lifted, then releases them
	// in order; running actions go on.
	ModePause HaltMode = "pause"
)

// Scope is what a halt covers: every agent, one agent, or one session.
// Exactly one of its fields is set.
type Scope struct {
	All     bool   `json:"all,omitempty"`
	Agent   string `json:"agent,omitempty"`
	Session string `json:"session,omitempty"`
}

// Validate returns EINVALID unless exactly one of the fields is set.
func (s Scope) Validate() error {
	n := 0
	if s.All {
		n++
	}
	if s.Agent != "" {
		n++
	}
	if s.Session != "" {
		n++
	}
	if n != 1 {
		return Errorf(EINVALID, "name exactly one scope: all, an agent or a session")
	}
	return nil
}

// Covers reports whether an action of agent in session is in the scope.
func (s Scope) Covers(agent, session string) bool {
	switch {
	case s.All:
		return true
	case s.Agent != "":
		return s.Agent == agent
	case s.Session != "":
		return s.Session == session
	}
	return false
}

func (s Scope) String() string {
	switch {
	case s.All:
		return "all agents"
	case s.Agent != "":
		return "agent " + s.Agent
	case s.Session != "":
		return "session " + s.Session
	}
	return "nothing"
}

// Halt is a halt or a pause, as projected from halt.* events.
type Halt struct {
	ID        string     `json:"id"`
	Mode      HaltMode   `json:"mode"`
	Scope     Scope      `json:"scope"`
	Reason    string     `json:"reason"`
	By        string     `json:"by"` // a principal, or "tripwire:NAME"
	Kill      bool       `json:"kill"`
	IssuedAt  time.Time  `json:"issued_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Tripwire and Evidence are set when a tripwire issued it: which one,
	// and the actions that crossed its threshold.
	Tripwire string   `json:"tripwire,omitempty"`
	Evidence []string `json:"evidence,omitempty"`
	// Killed lists the running actions it interrupted; Cancelled the
	// pending approvals it cancelled.
	Killed    []string   `json:"killed,omitempty"`
	Cancelled []string   `json:"cancelled,omitempty"`
	Replica   string     `json:"replica,omitempty"` // the replica that issued it (HaltIssued.Replica)
	LiftedAt  *time.Time `json:"lifted_at,omitempty"`
	LiftedBy  string     `json:"lifted_by,omitempty"` // a principal, or "expiry"
	Seq       []int64    `json:"seq"`
}

// InForce reports whether h applies at now: not lifted, not expired.
func (h *Halt) InForce(now time.Time) bool {
	return h.LiftedAt == nil && (h.ExpiresAt == nil || now.Before(*h.ExpiresAt))
}

// Refusal is the one-line error an agent gets for an action h refuses.
func (h *Halt) Refusal() string {
	return fmt.Sprintf("refused: %s halted by %s (%s): %s", h.Scope.String(), h.By, h.ID, h.Reason)
}

// HaltIssued is the payload of halt.issued; the subject is the halt's id.
type HaltIssued struct {
	Mode      HaltMode   `json:"mode"`
	Scope     Scope      `json:"scope"`
	Reason    string     `json:"reason"`
	By        string     `json:"by"`
	Kill      bool       `json:"kill"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Tripwire  string     `json:"tripwire,omitempty"`
	Evidence  []string   `json:"evidence,omitempty"`
	Killed    []string   `json:"killed,omitempty"`
	Cancelled []string   `json:"cancelled,omitempty"`
	// Replica is the gateway replica that issued it, when several share
	// the journal; Killed and Cancelled are that replica's. The others
	// stop what the halt covers as they read it, and journal each end.
	Replica string `json:"replica,omitempty"`
}

// HaltLifted is the payload of halt.lifted.
type HaltLifted struct {
	By string `json:"by"` // a principal, or "expiry"
}

// ApplyHalt folds a halt event into h, as Action.Apply does for actions.
func (h *Halt) Apply(e Event) error {
	next := *h
	switch e.Type {
	case EventHaltIssued:
		if h.ID != "" {
			return Errorf(EINVALID, "event %d: halt %s issued twice", e.Seq, e.Subject)
		}
		var p HaltIssued
		if err := decode(e, &p); err != nil {
			return err
		}
		next = Halt{ID: e.Subject, Mode: p.Mode, Scope: p.Scope, Reason: p.Reason, By: p.By, Kill: p.Kill,
			IssuedAt: e.Time, ExpiresAt: p.ExpiresAt, Tripwire: p.Tripwire, Evidence: p.Evidence,
			Killed: p.Killed, Cancelled: p.Cancelled, Replica: p.Replica}
	case EventHaltLifted:
		if h.ID == "" || h.LiftedAt != nil {
			return Errorf(EINVALID, "event %d: halt %s lifted while not in force", e.Seq, e.Subject)
		}
		var p HaltLifted
		if err := decode(e, &p); err != nil {
			return err
		}
		t := e.Time
		next.LiftedAt, next.LiftedBy = &t, p.By
	default:
		return Errorf(EINVALID, "event %d: %s is not a halt event", e.Seq, e.Type)
	}
	next.Seq = append(append([]int64(nil), h.Seq...), e.Seq)
	*h = next
	return nil
}
