package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
)

const maxExternalInput = 64 << 10

// external tracks the running external actions by the harness's call id,
// so that the harness can report an outcome by it.
type external struct {
	mu    sync.Mutex
	byUse map[string]string    // tool_use_id → action id
	recs  map[string]Recording // action id → its workspace recording, until Complete
}

// Request decides an external action, waits for review if its decision
// says so, and journals it as started when it is allowed: the caller may
// then carry it out. A refused or denied action is returned with status
// denied. Errors as Run's.
func (g *Gateway) Request(ctx context.Context, p gatehouse.Principal, req gatehouse.ExternalRequest, sink Sink) (*gatehouse.Action, error) {
	if p.Role != gatehouse.RoleAgent {
		return nil, gatehouse.Errorf(gatehouse.EFORBIDDEN, "only agents request actions: use a token from `gatehouse agent add`")
	}
	if err := validateExternal(&req); err != nil {
		return nil, err
	}
	runCtx, _, done, err := g.track(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	journalCtx := context.WithoutCancel(ctx)
	ad, refused, err := g.admit(ctx, runCtx, journalCtx, p.Name, req.Session, func(now time.Time) *gatehouse.Action {
		a := &gatehouse.Action{
			ID: newActionID(now), Time: gatehouse.Timestamp(now), Agent: p.Name, Session: req.Session, Model: req.Model,
			Kind: req.Kind, Command: req.Command, Shell: req.Kind == gatehouse.KindShell, Cwd: req.Cwd, System: req.System,
			Intent: req.Intent, TraceID: newTraceID(), Status: gatehouse.StatusPending,
			External: true, Tool: req.Tool, Input: req.Input, Client: req.Client,
		}
		if a.Shell {
			a.Argv = []string{"/bin/sh", "-c", req.Command}
		}
		return a
	})
	if err != nil || refused != nil {
		return refused, err
	}
	a, requested, decided, passed := ad.a, ad.requested, ad.decided, ad.passed
	defer passed()
	switch a.Decision.Effect {
	case gatehouse.EffectAllow:
		return g.startExternal(journalCtx, a, passed, requested, decided)
	case gatehouse.EffectReview:
	default:
		fin := gatehouse.ActionFinished{Status: gatehouse.StatusDenied, Error: fmt.Sprintf("refused by rule %q: %s", a.Decision.Rule, a.Decision.Reason)}
		return g.finishWithout(journalCtx, a.ID, fin, requested, decided)
	}
	g.rv.mu.Lock()
	w := g.watch(a)
	w.attached = true
	g.rv.mu.Unlock()
	linked, err := g.store.Append(journalCtx, requested, decided)
	if err != nil {
		g.rv.mu.Lock()
		g.unwatch(a.ID)
		g.rv.mu.Unlock()
		return nil, unavailable(err)
	}
	passed()
	if a, err = project(&gatehouse.Action{}, linked); err != nil {
		return nil, err
	}
	g.notifyReview(notify.KindApprovalPending, a)
	if sink.Pending != nil {
		sink.Pending(a)
	}
	cur, startable, err := g.waitReview(runCtx, journalCtx, w, a, "")
	if err != nil || !startable {
		return cur, err
	}
	return g.startExternal(journalCtx, cur, func() {})
}

// startExternal journals an external action as started — the caller
// carries it out — unless a halt covers it.
func (g *Gateway) startExternal(ctx context.Context, a *gatehouse.Action, passed func(), before ...gatehouse.Event) (*gatehouse.Action, error) {
	base := a
	if len(before) > 0 {
		base = &gatehouse.Action{}
	}
	rec, unrecorded := g.recordBefore(ctx, a) // the state before the harness carries it out
	defer passed()
	var linked []gatehouse.Event
	for {
		g.hs.mu.RLock()
		var last gatehouse.Event
		var err error
		ends := true // last finishes the action: no fence needed
		if h := g.blockingLocked(a.Agent, a.Session, g.now()); h != nil && h.Mode == gatehouse.ModeHalt {
			last, err = gatehouse.NewEvent(g.now(), gatehouse.EventActionFinished, a.ID, gatehouse.ActionFinished{Status: gatehouse.StatusDenied, Error: h.Refusal()})
		} else if unrecorded != nil {
			last, err = gatehouse.NewEvent(g.now(), gatehouse.EventActionFinished, a.ID, *unrecorded)
		} else {
			ends = false
			last, err = gatehouse.NewEvent(g.now(), gatehouse.EventActionStarted, a.ID, gatehouse.ActionStarted{Replica: g.replica})
		}
		if err != nil {
			g.hs.mu.RUnlock()
			abortRecording(rec)
			return nil, err
		}
		if ends {
			linked, err = g.store.Append(ctx, append(before, last)...)
		} else {
			linked, err = g.appendStart(ctx, append(before, last)...)
		}
		g.hs.mu.RUnlock()
		if errors.Is(err, gatehouse.ErrFenced) {
			if err := g.catchUpFor(ctx); err != nil {
				abortRecording(rec)
				return nil, unavailable(err)
			}
			continue // a halt this replica had not applied: decide again
		}
		if err != nil {
			abortRecording(rec)
			if !ends && errors.Is(err, gatehouse.ErrOutcomeUnknown) {
				g.keepEnd(a.ID, "interrupted: the journal's answer to its start was lost")
			}
			return nil, unavailable(err)
		}
		break
	}
	out, err := project(base, linked)
	if err != nil || out.Status != gatehouse.StatusRunning {
		abortRecording(rec)
	} else {
		g.keepRecording(out.ID, rec)
	}
	if err == nil && out.Status == gatehouse.StatusRunning {
		if id := out.Client["tool_use_id"]; id != "" {
			g.ext.mu.Lock()
			g.ext.byUse[out.Agent+"\x00"+id] = out.ID
			g.ext.mu.Unlock()
		}
	}
	return out, err
}

// Complete journals the outcome of an external action that p's harness
// carried out. ENOTFOUND for an unknown action (or another agent's);
// ECONFLICT if it is not running.
func (g *Gateway) Complete(ctx context.Context, p gatehouse.Principal, out gatehouse.ExternalOutcome) (*gatehouse.Action, error) {
	if p.Role != gatehouse.RoleAgent {
		return nil, gatehouse.Errorf(gatehouse.EFORBIDDEN, "only agents report outcomes")
	}
	id := out.ID
	if id == "" && out.ToolUseID != "" {
		g.ext.mu.Lock()
		id = g.ext.byUse[p.Name+"\x00"+out.ToolUseID]
		delete(g.ext.byUse, p.Name+"\x00"+out.ToolUseID)
		g.ext.mu.Unlock()
	}
	if id == "" && out.ToolUseID != "" && g.rep != nil {
		// Started through another replica: find it in the journal.
		open, err := g.store.Running(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range open {
			if a.Agent == p.Name && a.External && a.Status == gatehouse.StatusRunning && a.Client["tool_use_id"] == out.ToolUseID {
				id = a.ID
			}
		}
	}
	if id == "" {
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "no running action for tool_use_id %q", out.ToolUseID)
	}
	a, err := g.store.Action(ctx, id)
	if err != nil || a.Agent != p.Name || !a.External {
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "action %q not found", id)
	}
	if a.Status != gatehouse.StatusRunning {
		return nil, gatehouse.Errorf(gatehouse.ECONFLICT, "action %s is %s, not running", id, a.Status)
	}
	fin := gatehouse.ActionFinished{Status: gatehouse.StatusSucceeded, Error: clipText(out.Error, maxClaimSize), DurationMS: out.DurationMS,
		Response: clipText(out.Response, 64<<10)}
	switch {
	case out.Interrupted:
		fin.Status = gatehouse.StatusInterrupted
	case out.Failed:
		fin.Status = gatehouse.StatusFailed
	}
	if fin.DurationMS == nil && a.StartedAt != nil {
		d := float64(g.now().Sub(*a.StartedAt).Microseconds()) / 1000
		fin.DurationMS = &d
	}
	fin.Effects = endRecording(context.WithoutCancel(ctx), g.takeRecording(a.ID))
	return g.finish(context.WithoutCancel(ctx), a, fin)
}

func validateExternal(req *gatehouse.ExternalRequest) error {
	inv := func(f string, a ...any) error { return gatehouse.Errorf(gatehouse.EINVALID, f, a...) }
	switch {
	case !req.Kind.Valid():
		return inv("kind %q: use shell, file_write, file_read, http or mcp_tool", req.Kind)
	case strings.TrimSpace(req.Command) == "":
		return inv("empty command")
	case len(req.Command) > maxArgBytes:
		return inv("command is over %d bytes", maxArgBytes)
	case len(req.Input) > maxExternalInput:
		return inv("input is over %d bytes", maxExternalInput)
	case len(req.Input) > 0 && !json.Valid(req.Input):
		return inv("input is not valid JSON")
	case req.Cwd != "" && !filepath.IsAbs(req.Cwd):
		return inv("cwd %q is not an absolute path", req.Cwd)
	case strings.IndexByte(req.Command, 0) >= 0:
		return inv("NUL byte in command")
	}
	for name, v := range map[string]string{"session": req.Session, "model": req.Model, "intent": req.Intent, "system": req.System, "tool": req.Tool} {
		if len(v) > maxClaimSize {
			return inv("%s is over %d bytes", name, maxClaimSize)
		}
	}
	if len(req.Client) > 16 {
		return inv("too many client fields")
	}
	return nil
}

// SessionEvent journals what p's harness says about a session and tells
// it whether a halt covers it, so the harness can end the session.
func (g *Gateway) SessionEvent(ctx context.Context, p gatehouse.Principal, req gatehouse.SessionEventRequest) (*gatehouse.Standing, error) {
	if p.Role != gatehouse.RoleAgent {
		return nil, gatehouse.Errorf(gatehouse.EFORBIDDEN, "only agents report session events")
	}
	switch {
	case strings.TrimSpace(req.Event) == "" || len(req.Event) > 64:
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "invalid event name")
	case len(req.Session) > maxClaimSize:
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "session is over %d bytes", maxClaimSize)
	case len(req.Prompt) > maxArgBytes:
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "prompt is over %d bytes", maxArgBytes)
	case len(req.Client) > 16:
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "too many client fields")
	}
	if err := validateReach(req.Reach); err != nil { // credentials.go
		return nil, err
	}
	ev, err := gatehouse.NewEvent(g.now(), gatehouse.EventSession, req.Session, gatehouse.SessionEvent{
		Agent: p.Name, Event: req.Event, Prompt: req.Prompt, Cwd: req.Cwd, Client: req.Client, Reach: req.Reach})
	if err != nil {
		return nil, err
	}
	if _, err := g.store.Append(context.WithoutCancel(ctx), ev); err != nil {
		return nil, unavailable(err)
	}
	return g.Standing(ctx, p, req.Session)
}

// gatehouse.Standing tells agent p whether a halt covers it (in session) now.
func (g *Gateway) Standing(ctx context.Context, p gatehouse.Principal, session string) (*gatehouse.Standing, error) {
	g.hs.mu.RLock()
	defer g.hs.mu.RUnlock()
	h := g.blockingLocked(p.Name, session, g.now())
	if h == nil || h.Mode != gatehouse.ModeHalt {
		return &gatehouse.Standing{}, nil
	}
	c := *h
	return &gatehouse.Standing{Halted: true, Halt: &c, Reason: c.Refusal()}, nil
}
