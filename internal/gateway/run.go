package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/executor"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
)

// Sink connects a run to its client: Pending is told if the action waits
// for review, Started once its start is durably journaled and it is about
// to start, then Stdout and Stderr get its output as it is produced. A
// write to Stdout or Stderr must not block for ever — the executor waits
// for its output readers before the action's end is journaled — so a sink
// fed by a network client bounds each write (httpapi gives each frame a
// deadline). Stdin, if not nil, is the command's standard input when the
// request asks for it (RunRequest.Stdin); it is read only while the
// command runs, and not waited for (see executor.Spec.Stdin).
type Sink struct {
	Pending        func(*gatehouse.Action)
	Started        func(*gatehouse.Action)
	Stdout, Stderr io.Writer
	Stdin          io.Reader
}

// Limits on request fields; a request over them is refused with EINVALID.
const (
	maxArgs      = 4096
	maxArgBytes  = 256 << 10
	maxClaimSize = 4 << 10
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Set options /bin/sh takes before -c: single letters, and -o/+o with a
// name. -c, -i, -s (and bash's long options) change what the shell is,
// not how it runs the command, and are refused.
var (
	shellFlags   = regexp.MustCompile(`^[-+][abCefhmnuvx]*o?$`)
	shellOptName = regexp.MustCompile(`^[a-z]{1,32}$`)
)

func validShellOptions(opts []string) error {
	if len(opts) > 32 {
		return gatehouse.Errorf(gatehouse.EINVALID, "more than 32 shell options")
	}
	for i := 0; i < len(opts); i++ {
		o := opts[i]
		if len(o) < 2 || !shellFlags.MatchString(o) {
			return gatehouse.Errorf(gatehouse.EINVALID, "invalid shell option %q: use set options such as -e, -u, -x, -o pipefail", o)
		}
		if strings.HasSuffix(o, "o") { // -o NAME, -euo NAME
			if i+1 >= len(opts) || !shellOptName.MatchString(opts[i+1]) {
				return gatehouse.Errorf(gatehouse.EINVALID, "shell option %s needs an option name", o)
			}
			i++
		}
	}
	return nil
}

func (g *Gateway) validate(req *gatehouse.RunRequest) error {
	inv := func(format string, args ...any) error { return gatehouse.Errorf(gatehouse.EINVALID, format, args...) }
	if req.Shell {
		if len(req.Argv) > 0 {
			return inv("a shell request carries command, not argv")
		}
		if err := validShellOptions(req.ShellOptions); err != nil {
			return err
		}
		if len(req.Args) > maxArgs {
			return inv("more than %d arguments", maxArgs)
		}
		n := len(req.Command)
		for _, a := range req.Args {
			n += len(a)
		}
		if n > maxArgBytes {
			return inv("command and arguments are over %d bytes", maxArgBytes)
		}
		if strings.TrimSpace(req.Command) == "" {
			return inv("empty command")
		}
		if len(req.Command) > maxArgBytes {
			return inv("command is over %d bytes", maxArgBytes)
		}
	} else {
		if req.Command != "" {
			return inv("command is only for shell requests; send argv")
		}
		if len(req.ShellOptions) > 0 || len(req.Args) > 0 {
			return inv("shell_options and args are only for shell requests")
		}
		if len(req.Argv) == 0 || req.Argv[0] == "" {
			return inv("empty command")
		}
		if len(req.Argv) > maxArgs {
			return inv("more than %d arguments", maxArgs)
		}
		n := 0
		for _, a := range req.Argv {
			n += len(a)
		}
		if n > maxArgBytes {
			return inv("arguments are over %d bytes", maxArgBytes)
		}
	}
	for _, s := range append(slices.Concat(req.Argv, req.Args), req.Command, req.Cwd) {
		if strings.IndexByte(s, 0) >= 0 {
			return inv("NUL byte in command, arguments or cwd")
		}
	}
	for name, v := range map[string]string{"session": req.Session, "model": req.Model, "intent": req.Intent, "system": req.System} {
		if len(v) > maxClaimSize {
			return inv("%s is over %d bytes", name, maxClaimSize)
		}
		if !utf8.ValidString(v) {
			return inv("%s is not valid UTF-8", name)
		}
	}
	for name, v := range req.Env {
		if !envName.MatchString(name) {
			return inv("invalid environment variable name %q", name)
		}
		if !g.allow[name] {
			return inv("environment variable %s may not be set by a client (allowed: %s)", name, strings.Join(g.cfg.EnvAllow, ", "))
		}
		if strings.IndexByte(v, 0) >= 0 {
			return inv("NUL byte in environment variable %s", name)
		}
	}
	if req.TimeoutMS < 0 {
		return inv("negative timeout")
	}
	if g.cfg.MaxTimeout > 0 && time.Duration(req.TimeoutMS)*time.Millisecond > g.cfg.MaxTimeout {
		return inv("timeout is over the gateway's maximum of %s", g.cfg.MaxTimeout)
	}
	if req.Cwd == "" {
		return inv("cwd is required")
	}
	if !filepath.IsAbs(req.Cwd) {
		return inv("cwd %q is not an absolute path", req.Cwd)
	}
	fi, err := os.Stat(req.Cwd)
	if err != nil || !fi.IsDir() {
		return inv("cwd %s is not a directory the gateway can use", req.Cwd)
	}
	return nil
}

// Run performs one action for an agent: validate, decide, journal
// write-ahead, wait for review if the decision says so, execute, journal
// the end. It returns the finished action.
//
// Errors: EFORBIDDEN unless p is an agent; EINVALID for a bad request
// (nothing is journaled); EUNAVAILABLE if the journal cannot be written
// before the start (nothing runs), while shutting down, or when the wait
// for a review is cut off (the action stays pending: Attach resumes it).
// An action that was refused, denied, not found or failed is not an error:
// it is returned with its status. If the end cannot be journaled, the
// action is returned with EUNAVAILABLE; the next start of the daemon
// closes it as interrupted.
func (g *Gateway) Run(ctx context.Context, p gatehouse.Principal, req gatehouse.RunRequest, sink Sink) (*gatehouse.Action, error) {
	if p.Role != gatehouse.RoleAgent {
		return nil, gatehouse.Errorf(gatehouse.EFORBIDDEN, "only agents run actions: use a token from `gatehouse agent add`")
	}
	if err := g.validate(&req); err != nil {
		return nil, err
	}
	runCtx, cancel, done, err := g.track(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	journalCtx := context.WithoutCancel(ctx)

	ad, refused, err := g.admit(ctx, runCtx, journalCtx, p.Name, req.Session, func(now time.Time) *gatehouse.Action {
		return g.newAction(now, p, &req)
	})
	if err != nil || refused != nil {
		return refused, err
	}
	a, requested, decided, passed := ad.a, ad.requested, ad.decided, ad.passed
	defer passed() // if not called sooner, once journaled
	switch a.Decision.Effect {
	case gatehouse.EffectAllow, gatehouse.EffectReview:
	default: // deny, or anything unknown: fail closed
		fin := gatehouse.ActionFinished{Status: gatehouse.StatusDenied, Error: fmt.Sprintf("refused by rule %q: %s", a.Decision.Rule, a.Decision.Reason)}
		return g.finishWithout(journalCtx, a.ID, fin, requested, decided)
	}

	prep, fin := g.prepare(runCtx, a, &req, sink)
	if fin != nil {
		return g.finishWithout(journalCtx, a.ID, *fin, requested, decided)
	}
	if a.Decision.Effect == gatehouse.EffectAllow {
		if err := g.speedBump(runCtx, a); err != nil {
			return nil, err
		}
		return g.start(runCtx, cancel, journalCtx, a, prep, sink, passed, requested, decided)
	}

	// Review: the request and the decision are journaled; the action is
	// pending until enough reviewers approve, one denies, or time runs out.
	// Its waiter exists before the journal has it, so that no review or
	// halt can find the action without one.
	g.rv.mu.Lock()
	w := g.watch(a)
	w.attached = true
	g.rv.mu.Unlock()
	linked, err := g.store.Append(journalCtx, requested, decided)
	if err != nil {
		g.rv.mu.Lock()
		g.unwatch(a.ID)
		g.rv.mu.Unlock()
		g.log.Error("journal write failed; action not run", "action", a.ID, "err", err)
		return nil, unavailable(err)
	}
	passed()
	if a, err = project(&gatehouse.Action{}, linked); err != nil {
		return nil, err
	}
	g.log.Info("action waits for review", "action", a.ID, "agent", a.Agent, "rule", a.Decision.Rule)
	g.notifyReview(notify.KindApprovalPending, a)
	return g.await(runCtx, cancel, journalCtx, w, a, prep, sink)
}

// Attach resumes waiting for a pending action whose wait was cut off — the
// daemon restarted, or the connection broke — and runs it once approved.
// req must be the original request (its environment values are not
// journaled, so the agent sends them again); p must be the action's agent.
// An action that has already ended is returned as it is.
func (g *Gateway) Attach(ctx context.Context, p gatehouse.Principal, id string, req gatehouse.RunRequest, sink Sink) (*gatehouse.Action, error) {
	if p.Role != gatehouse.RoleAgent {
		return nil, gatehouse.Errorf(gatehouse.EFORBIDDEN, "only agents attach to their actions")
	}
	if err := g.validate(&req); err != nil {
		return nil, err
	}
	runCtx, cancel, done, err := g.track(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	journalCtx := context.WithoutCancel(ctx)

	a, err := g.store.Action(ctx, id)
	if err != nil || a.Agent != p.Name {
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "action %q not found", id)
	}
	if a.Status.Final() {
		return a, nil
	}
	want := g.newAction(a.Time, p, &req)
	if want.Command != a.Command || !slices.Equal(want.Argv, a.Argv) || want.Shell != a.Shell || want.Cwd != a.Cwd || !slices.Equal(want.EnvNames, a.EnvNames) || want.Stdin != a.Stdin {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "the request does not match action %s: attach with the same command, arguments, cwd, environment and stdin", id)
	}
	g.rv.mu.Lock()
	w := g.rv.waiters[id]
	if w == nil && g.rep != nil && a.Status == gatehouse.StatusPending && a.Decision.Effect == gatehouse.EffectReview {
		// It waits on another replica, which the agent no longer reaches
		// (or which is gone): wait here.
		w = g.watch(a)
	}
	switch {
	case a.Status != gatehouse.StatusPending || w == nil:
		g.rv.mu.Unlock()
		return nil, gatehouse.Errorf(gatehouse.ECONFLICT, "action %s is %s: nothing to attach to", id, a.Status)
	case w.attached:
		g.rv.mu.Unlock()
		return nil, gatehouse.Errorf(gatehouse.ECONFLICT, "action %s already has a client waiting for it", id)
	}
	w.attached = true
	g.rv.mu.Unlock()

	prep, fin := g.prepare(runCtx, a, &req, sink)
	if fin != nil {
		g.rv.mu.Lock()
		g.closePending(journalCtx, w, a, *fin)
		g.rv.mu.Unlock()
		return g.store.Action(journalCtx, id)
	}
	return g.await(runCtx, cancel, journalCtx, w, a, prep, sink)
}

// await waits for the review of a to end, then starts it if approved.
func (g *Gateway) await(runCtx context.Context, cancel context.CancelCauseFunc, journalCtx context.Context, w *waiter, a *gatehouse.Action, prep executor.Prepared, sink Sink) (*gatehouse.Action, error) {
	if sink.Pending != nil {
		sink.Pending(a)
	}
	cur, startable, err := g.waitReview(runCtx, journalCtx, w, a, ": attach to it to keep waiting")
	if err != nil || !startable {
		return cur, err
	}
	a, err = g.start(runCtx, cancel, journalCtx, cur, prep, sink, nil)
	if err != nil && a == nil {
		// It did not start (the journal failed): it is still approved and
		// pending, so give it a waiter and a deadline again.
		g.rv.mu.Lock()
		g.watch(cur)
		g.rv.mu.Unlock()
	}
	return a, err
}

// waitReview waits on w until the review of a ends, or runCtx is done
// (then EUNAVAILABLE, its message ending with stillPending, and a as it
// was: it stays pending). It returns the action as journaled when the
// review ended, and whether it was approved and is still pending: the
// caller's to start. An approved action is no longer watched: nothing
// expires it from then on.
func (g *Gateway) waitReview(runCtx, journalCtx context.Context, w *waiter, a *gatehouse.Action, stillPending string) (*gatehouse.Action, bool, error) {
	select {
	case <-w.done:
	case <-runCtx.Done():
		g.rv.mu.Lock()
		w.attached = false
		g.rv.mu.Unlock()
		return a, false, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "stopped waiting (%v); action %s stays pending%s", context.Cause(runCtx), a.ID, stillPending)
	}
	g.rv.mu.Lock()
	approved := w.approved
	if approved {
		g.unwatch(a.ID)
	}
	g.rv.mu.Unlock()
	cur, err := g.store.Action(journalCtx, a.ID)
	if err != nil {
		return nil, false, err
	}
	return cur, approved && cur.Status == gatehouse.StatusPending, nil
}

// prepare resolves a's program and gives it its credentials. If it cannot
// be run, it returns the end to journal instead (127 not found, 126 not
// executable, or a credential it was granted cannot be given).
func (g *Gateway) prepare(ctx context.Context, a *gatehouse.Action, req *gatehouse.RunRequest, sink Sink) (executor.Prepared, *gatehouse.ActionFinished) {
	creds, filter, fin := g.inject(ctx, a) // credentials.go
	if fin != nil {
		return executor.Prepared{}, fin
	}
	spec := executor.Spec{
		Argv: a.Argv, Dir: a.Cwd, Env: g.environ(a, req, creds),
		Timeout: time.Duration(a.TimeoutMS) * time.Millisecond,
		Stdout:  sink.Stdout, Stderr: sink.Stderr, Filter: filter,
	}
	if a.Stdin && sink.Stdin != nil {
		spec.Stdin = sink.Stdin
	}
	prep, err := g.exec.Prepare(spec)
	if err != nil {
		code := 126
		if errors.Is(err, executor.ErrNotFound) {
			code = 127
		}
		return prep, &gatehouse.ActionFinished{Status: gatehouse.StatusFailed, Error: err.Error(), ExitCode: &code}
	}
	return prep, nil
}

// start journals a's start — with before, the events not yet journaled,
// in the same durable batch — then runs it and journals its end. A halt in
// force over a refuses it instead. passed, if not nil, is called once the
// batch is journaled.
func (g *Gateway) start(runCtx context.Context, cancel context.CancelCauseFunc, journalCtx context.Context, a *gatehouse.Action, prep executor.Prepared, sink Sink, passed func(), before ...gatehouse.Event) (*gatehouse.Action, error) {
	if passed == nil {
		passed = func() {}
	}
	base := a
	if len(before) > 0 {
		base = &gatehouse.Action{}
	}
	// The workspaces' state before it starts, taken outside the halts'
	// lock (a walk takes milliseconds) and again after a pause.
	rec, unrecorded := g.recordBefore(runCtx, a)
	// Under the halts' read lock: a halt issued from here on finds this
	// action among the running and kills it; one issued before refuses it;
	// a pause holds it. With replicas, one issued elsewhere that this
	// replica has not applied yet fences the start (appendStart): catch
	// up and decide again.
	var linked []gatehouse.Event
	for {
		g.hs.mu.RLock()
		for unrecorded == nil {
			h := g.blockingLocked(a.Agent, a.Session, g.now())
			if h == nil || h.Mode == gatehouse.ModeHalt {
				break
			}
			g.hs.mu.RUnlock()
			abortRecording(rec)
			_, held, err := g.gate(runCtx, a.Agent, a.Session)
			if held != nil {
				held()
			}
			if err != nil {
				passed()
				return nil, err
			}
			rec, unrecorded = g.recordBefore(runCtx, a)
			g.hs.mu.RLock()
		}
		h := g.blockingLocked(a.Agent, a.Session, g.now())
		if h != nil && h.Mode == gatehouse.ModeHalt || unrecorded != nil {
			g.hs.mu.RUnlock()
			abortRecording(rec)
			fin := unrecorded
			if fin == nil {
				fin = &gatehouse.ActionFinished{Status: gatehouse.StatusDenied, Error: h.Refusal()}
			}
			end, err := gatehouse.NewEvent(g.now(), gatehouse.EventActionFinished, a.ID, *fin)
			if err != nil {
				return nil, err
			}
			linked, err := g.store.Append(journalCtx, append(before, end)...)
			passed()
			if err != nil {
				return nil, unavailable(err)
			}
			return project(base, linked)
		}
		started, err := gatehouse.NewEvent(g.now(), gatehouse.EventActionStarted, a.ID, gatehouse.ActionStarted{Replica: g.replica})
		if err != nil {
			g.hs.mu.RUnlock()
			abortRecording(rec)
			return nil, err
		}
		// Write-ahead: nothing starts unless the journal has it durably.
		linked, err = g.appendStart(journalCtx, append(before, started)...)
		if errors.Is(err, gatehouse.ErrFenced) {
			g.hs.mu.RUnlock()
			if err := g.catchUpFor(runCtx); err != nil {
				abortRecording(rec)
				passed()
				return nil, unavailable(err)
			}
			continue // the recording stands; a halt now in force aborts it above
		}
		if err != nil {
			g.hs.mu.RUnlock()
			abortRecording(rec)
			passed()
			g.log.Error("journal write-ahead failed; action not run", "action", a.ID, "err", err)
			if errors.Is(err, gatehouse.ErrOutcomeUnknown) {
				// The start may be in the journal: make sure it ends.
				g.keepEnd(a.ID, "interrupted: it never ran (the journal's answer to its start was lost)")
			}
			return nil, unavailable(err)
		}
		break
	}
	g.mu.Lock()
	g.runs[a.ID] = runEntry{agent: a.Agent, session: a.Session, cancel: cancel}
	g.mu.Unlock()
	g.hs.mu.RUnlock()
	passed()
	unregister := sync.OnceFunc(func() {
		g.mu.Lock()
		delete(g.runs, a.ID)
		g.mu.Unlock()
	})
	defer unregister()
	a, err := project(base, linked)
	if err != nil {
		return nil, err
	}
	if sink.Started != nil {
		sink.Started(a)
	}
	res := g.exec.Run(runCtx, prep)
	fin := finished(res, context.Cause(runCtx))
	unregister() // it has ended: a halt from here on must not name it as killed
	fin.Effects = endRecording(journalCtx, rec)
	return g.finish(journalCtx, a, fin)
}

// admitted is a new action that passed the gate and was decided, with its
// first two events ready to journal.
type admitted struct {
	a                  *gatehouse.Action
	requested, decided gatehouse.Event
	// passed releases the next request a lifted pause held; call it once
	// this one is journaled. It is idempotent.
	passed func()
}

// admit takes a new action, built by build at the time it is let in,
// through what every action meets before it is journaled: the gate (a
// halt refuses it, a pause holds it), the decider, the tripwires (which
// see it before it runs), and the gate again (for a halt or pause the
// tripwires just put in force). An action a halt refuses is journaled as
// refused and returned as refused; otherwise admit returns it admitted.
func (g *Gateway) admit(ctx, runCtx, journalCtx context.Context, agent, session string, build func(time.Time) *gatehouse.Action) (*admitted, *gatehouse.Action, error) {
	h, first, err := g.gate(runCtx, agent, session)
	if err != nil {
		return nil, nil, err
	}
	now := g.now()
	a := build(now)
	if h != nil {
		refused, err := g.refuseHalted(journalCtx, a, h, first)
		return nil, refused, err
	}
	v, err := g.decider.Decide(runCtx, a)
	if err != nil {
		first()
		return nil, nil, err
	}
	a.Decision, a.Analysis = v.Decision, v.Analysis
	a.Undo, a.Irreversible = v.Undo, a.Analysis.Irreversible()
	g.observe(ctx, a)
	h, second, err := g.gate(runCtx, a.Agent, a.Session)
	if err != nil {
		first()
		return nil, nil, err
	}
	passed := sync.OnceFunc(func() { first(); second() })
	if h != nil {
		refused, err := g.refuseHalted(journalCtx, a, h, passed)
		return nil, refused, err
	}
	requested, err := gatehouse.NewEvent(now, gatehouse.EventActionRequested, a.ID, requestOf(a))
	if err != nil {
		passed()
		return nil, nil, err
	}
	decided, err := gatehouse.NewEvent(g.now(), gatehouse.EventActionDecided, a.ID, gatehouse.ActionDecided{Decision: a.Decision, Analysis: a.Analysis, Undo: a.Undo, Irreversible: a.Irreversible})
	if err != nil {
		passed()
		return nil, nil, err
	}
	return &admitted{a: a, requested: requested, decided: decided, passed: passed}, nil, nil
}

// project returns a with the linked events applied: the action exactly as
// the store now holds it, without reading it back.
func project(a *gatehouse.Action, linked []gatehouse.Event) (*gatehouse.Action, error) {
	for _, e := range linked {
		if err := a.Apply(e); err != nil {
			return nil, err
		}
	}
	return a, nil
}

var errClientGone = errors.New("the client disconnected")

// track registers a request with the shutdown machinery. The context it
// returns ends when the client goes away (ctx), the daemon stops or a halt
// kills it (cancel, with the halt as the cause); done must be called when
// the request is over.
func (g *Gateway) track(ctx context.Context) (context.Context, context.CancelCauseFunc, func(), error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return nil, nil, nil, errShuttingDown
	}
	g.inflight.Add(1)
	runCtx, cancel := context.WithCancelCause(context.Background())
	stop := context.AfterFunc(ctx, func() {
		// A client's own cause (its stdin stream broke) says more than
		// that it went.
		cause := context.Cause(ctx)
		if cause == nil || errors.Is(cause, context.Canceled) || errors.Is(cause, context.DeadlineExceeded) {
			cause = errClientGone
		}
		cancel(cause)
	})
	g.seq++
	key := g.seq
	g.running[key] = cancel
	return runCtx, cancel, func() {
		stop()
		g.mu.Lock()
		delete(g.running, key)
		g.mu.Unlock()
		cancel(nil)
		g.inflight.Done()
	}, nil
}

func (g *Gateway) newAction(now time.Time, p gatehouse.Principal, req *gatehouse.RunRequest) *gatehouse.Action {
	a := &gatehouse.Action{
		ID:   newActionID(now),
		Time: gatehouse.Timestamp(now), Agent: p.Name, Session: req.Session, Model: req.Model,
		Kind: gatehouse.KindShell, Shell: req.Shell, Cwd: filepath.Clean(req.Cwd),
		System: req.System, Intent: req.Intent, TimeoutMS: req.TimeoutMS, TraceID: newTraceID(),
		Stdin: req.Stdin, Status: gatehouse.StatusPending, Replica: g.replica,
	}
	if a.TimeoutMS == 0 && g.cfg.DefaultTimeout > 0 {
		a.TimeoutMS = g.cfg.DefaultTimeout.Milliseconds()
	}
	if req.Shell {
		a.Argv = slices.Concat([]string{"/bin/sh"}, req.ShellOptions, []string{"-c", req.Command}, req.Args)
		a.Command = req.Command
	} else {
		a.Argv = slices.Clone(req.Argv)
		a.Command = QuoteArgv(req.Argv)
	}
	for name := range req.Env {
		a.EnvNames = append(a.EnvNames, name)
	}
	slices.Sort(a.EnvNames)
	g.grant(a) // credentials.go
	return a
}

func requestOf(a *gatehouse.Action) gatehouse.ActionRequested {
	return gatehouse.ActionRequested{
		Agent: a.Agent, Session: a.Session, Model: a.Model, Kind: a.Kind, Argv: a.Argv,
		Command: a.Command, Shell: a.Shell, Cwd: a.Cwd, System: a.System, Intent: a.Intent,
		EnvNames: a.EnvNames, TimeoutMS: a.TimeoutMS, TraceID: a.TraceID, Stdin: a.Stdin, Credentials: a.Credentials,
		External: a.External, Tool: a.Tool, Input: a.Input, Client: a.Client,
		Replica: a.Replica,
	}
}

// environ builds a command's complete environment: the base environment,
// the client's allowed variables, the action's credentials, then the
// gateway's own; neither of the last two can a client override.
func (g *Gateway) environ(a *gatehouse.Action, req *gatehouse.RunRequest, creds map[string]string) []string {
	env := map[string]string{"PATH": "/usr/local/bin:/usr/bin:/bin"}
	for k, v := range g.cfg.BaseEnv {
		env[k] = v
	}
	for k, v := range req.Env {
		env[k] = v
	}
	for k, v := range creds {
		env[k] = v
	}
	env["GATEHOUSE_ACTION_ID"] = a.ID
	env["GATEHOUSE_AGENT"] = a.Agent
	env["GATEHOUSE_SESSION"] = a.Session
	env["TRACEPARENT"] = a.Traceparent()
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

func finished(res executor.Result, cause error) gatehouse.ActionFinished {
	d := float64(res.Duration.Microseconds()) / 1000
	fin := gatehouse.ActionFinished{
		Status: gatehouse.StatusSucceeded, Signal: res.Signal, DurationMS: &d,
		Stdout: string(res.Stdout.Head), Stderr: string(res.Stderr.Head),
		StdoutBytes: res.Stdout.Bytes, StderrBytes: res.Stderr.Bytes,
		StdoutSHA256: res.Stdout.SHA256, StderrSHA256: res.Stderr.SHA256,
		StdinBytes: res.StdinBytes,
	}
	if res.Signal == "" && res.ExitCode >= 0 {
		// A negative code means no exit status exists (it never started).
		code := res.ExitCode
		fin.ExitCode = &code
	}
	switch {
	case res.Interrupted:
		fin.Status = gatehouse.StatusInterrupted
		fin.Error = "interrupted"
		if cause != nil {
			fin.Error = "interrupted: " + cause.Error()
		}
	case res.TimedOut:
		fin.Status = gatehouse.StatusFailed
		fin.Error = errString(res.Err)
	case res.Err != nil:
		fin.Status = gatehouse.StatusFailed
		fin.Error = res.Err.Error()
	case res.Signal != "" || res.ExitCode != 0:
		fin.Status = gatehouse.StatusFailed
	}
	return fin
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// finishWithout journals an action that never starts: its request,
// decision and end in one durable batch.
func (g *Gateway) finishWithout(ctx context.Context, id string, fin gatehouse.ActionFinished, evs ...gatehouse.Event) (*gatehouse.Action, error) {
	end, err := gatehouse.NewEvent(g.now(), gatehouse.EventActionFinished, id, fin)
	if err != nil {
		return nil, err
	}
	linked, err := g.store.Append(ctx, append(evs, end)...)
	if err != nil {
		return nil, unavailable(err)
	}
	a, err := project(&gatehouse.Action{}, linked)
	if err == nil {
		g.observe(ctx, a)
	}
	return a, err
}

// finish journals the end of a started action a.
func (g *Gateway) finish(ctx context.Context, a *gatehouse.Action, fin gatehouse.ActionFinished) (*gatehouse.Action, error) {
	end, err := gatehouse.NewEvent(g.now(), gatehouse.EventActionFinished, a.ID, fin)
	if err != nil {
		return nil, err
	}
	linked, err := g.store.Append(ctx, end)
	if err != nil {
		g.log.Error("journal: recording an action's end failed", "action", a.ID, "err", err)
		if gatehouse.ErrorCode(err) == gatehouse.EUNAVAILABLE {
			g.keep(end) // journaled when the store is back (replicas)
		}
		return a, unavailable(err)
	}
	if a, err = project(a, linked); err == nil {
		g.observe(ctx, a)
	}
	return a, err
}

func unavailable(err error) error {
	switch gatehouse.ErrorCode(err) {
	case gatehouse.EUNAVAILABLE:
		return err
	}
	return gatehouse.WrapError(gatehouse.EUNAVAILABLE, "gateway.journal", err, "the journal cannot be written; nothing was run")
}

// Recover closes every action that a previous daemon left unfinished — it
// was killed, or lost power, while they ran — as interrupted, by appending
// new events (old ones are never edited), then journals daemon.started.
// It returns how many actions it closed.
func (g *Gateway) Recover(ctx context.Context, started gatehouse.DaemonStarted) (int, error) {
	if g.rep != nil {
		// Follow from here: what is appended while the state below is
		// rebuilt is applied again, which is harmless.
		head, err := g.rep.sh.LastSeq(ctx)
		if err != nil {
			return 0, err
		}
		g.rep.applied.Store(head)
	}
	open, err := g.store.Running(ctx)
	if err != nil {
		return 0, err
	}
	var waiting []*gatehouse.Action
	for _, a := range open {
		if !g.own(a) {
			// Another replica's: live, it goes on; dead, it is taken over
			// once its claim has been free for the grace period.
			continue
		}
		if a.Status == gatehouse.StatusPending && a.Decision.Effect == gatehouse.EffectReview {
			waiting = append(waiting, a) // still waiting for its reviewers: keep it
			continue
		}
		fin := gatehouse.ActionFinished{Status: gatehouse.StatusInterrupted, Error: "interrupted: the daemon stopped while it ran"}
		if _, err := g.finish(ctx, a, fin); err != nil {
			return 0, err
		}
		started.Interrupted++
		g.log.Warn("closed an action left unfinished by the previous daemon", "action", a.ID, "agent", a.Agent)
	}
	if err := g.loadLearned(ctx); err != nil {
		return 0, err
	}
	if err := g.loadHalts(ctx); err != nil {
		return 0, err
	}
	if err := g.seedSystems(ctx); err != nil {
		return 0, err
	}
	if err := g.loadWorkspaces(ctx); err != nil {
		return 0, err
	}
	if err := g.closeRollbacks(ctx); err != nil {
		return 0, err
	}
	g.recoverPending(waiting)
	started.Replica = g.replica
	ev, err := gatehouse.NewEvent(g.now(), gatehouse.EventDaemonStarted, "", started)
	if err != nil {
		return 0, err
	}
	if _, err := g.store.Append(ctx, ev); err != nil {
		return 0, err
	}
	if g.rep != nil {
		g.startReplica()
	}
	return started.Interrupted, nil
}

// loadLearned rebuilds the learned rules in force from the journal.
func (g *Gateway) loadLearned(ctx context.Context) error {
	if g.learned == nil {
		return nil
	}
	now := g.now()
	types := []gatehouse.EventType{gatehouse.EventRuleLearned, gatehouse.EventRuleRemoved}
	return g.store.EventsOfType(ctx, types, func(e gatehouse.Event) error {
		switch e.Type {
		case gatehouse.EventRuleLearned:
			r, ok := learnedRule(e)
			if !ok {
				return gatehouse.Errorf(gatehouse.EINTERNAL, "event %d: malformed rule.learned", e.Seq)
			}
			if !r.ExpiresAt.After(now) {
				return nil
			}
			return g.learned.Add(r)
		case gatehouse.EventRuleRemoved:
			_ = g.learned.Remove(e.Subject) // it may have expired meanwhile
		}
		return nil
	})
}

func newTraceID() string { return randomHex(16) }

// newActionID returns a ULID for an action requested at now: sortable by
// time, monotonic within the process.
func newActionID(now time.Time) string {
	return ulid.MustNew(ulid.Timestamp(now), ulid.DefaultEntropy()).String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		panic("gateway: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

var plainArg = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// QuoteArgv renders argv as one POSIX shell string that a shell would split
// back into the same words: the exact command, readable.
func QuoteArgv(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if plainArg.MatchString(a) {
			b.WriteString(a)
			continue
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}
