package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
)

// Server serves the API. Create it with NewServer and mount Handler.
type Server struct {
	gw    *gateway.Gateway
	log   *slog.Logger
	now   func() time.Time
	mux   *http.ServeMux
	ready atomic.Bool
}

// NewServer returns a server over gw. It answers /healthz with 503 until
// SetReady(true).
func NewServer(gw *gateway.Gateway, log *slog.Logger) *Server {
	s := &Server{gw: gw, log: log, now: time.Now, mux: http.NewServeMux()}
	s.mux.HandleFunc("/healthz", s.healthz)
	s.mux.HandleFunc("/v1/run", fullDuplex(s.authed(s.run, http.MethodPost)))
	s.mux.HandleFunc("/v1/agents", s.authed(s.agents, http.MethodGet, http.MethodPost))
	s.mux.HandleFunc("/v1/agents/{name}", s.authed(s.agent, http.MethodDelete))
	s.mux.HandleFunc("/v1/actions", s.authed(s.actions, http.MethodGet))
	s.mux.HandleFunc("/v1/actions/{id}", s.authed(s.action, http.MethodGet))
	s.mux.HandleFunc("/v1/actions/{id}/diff", s.authed(s.diff, http.MethodGet))
	s.mux.HandleFunc("/v1/rollback", s.authed(post(s, http.StatusOK, s.gw.Rollback), http.MethodPost))
	s.mux.HandleFunc("/v1/verify", s.authed(s.verify, http.MethodGet))
	s.mux.HandleFunc("/v1/head", s.authed(s.head, http.MethodGet))
	s.mux.HandleFunc("/v1/incident", s.authed(s.incident, http.MethodGet))
	s.mux.HandleFunc("/v1/export", s.authed(s.export, http.MethodGet))
	s.mux.HandleFunc("/v1/actions/{id}/attach", fullDuplex(s.authed(s.attach, http.MethodPost)))
	s.mux.HandleFunc("/v1/actions/{id}/approve", s.authed(s.review(gatehouse.VerdictApprove), http.MethodPost))
	s.mux.HandleFunc("/v1/actions/{id}/deny", s.authed(s.review(gatehouse.VerdictDeny), http.MethodPost))
	s.mux.HandleFunc("/v1/pending", s.authed(get(s, s.gw.Pending), http.MethodGet))
	s.mux.HandleFunc("/v1/rules", s.authed(get(s, s.gw.LearnedRules), http.MethodGet))
	s.mux.HandleFunc("/v1/rules/{id}", s.authed(s.rule, http.MethodDelete))
	s.mux.HandleFunc("/v1/external", s.authed(s.external, http.MethodPost))
	s.mux.HandleFunc("/v1/external/complete", s.authed(post(s, http.StatusOK, s.gw.Complete), http.MethodPost))
	s.mux.HandleFunc("/v1/session-events", s.authed(post(s, http.StatusOK, s.gw.SessionEvent), http.MethodPost))
	s.mux.HandleFunc("/v1/standing", s.authed(s.standing, http.MethodGet))
	s.mux.HandleFunc("/v1/halts", s.authed(s.halts, http.MethodGet, http.MethodPost))
	s.mux.HandleFunc("/v1/resume", s.authed(post(s, http.StatusOK, func(ctx context.Context, p gatehouse.Principal, req client.ResumeRequest) ([]*gatehouse.Halt, error) {
		return s.gw.Resume(ctx, p, req.Scope)
	}), http.MethodPost))
	s.mux.HandleFunc("/v1/status", s.authed(get(s, s.gw.Status), http.MethodGet))
	s.mux.HandleFunc("/v1/policy", s.authed(get(s, s.gw.Policy), http.MethodGet))
	s.mux.HandleFunc("/v1/policy/reload", s.authed(s.policyReload, http.MethodPost))
	s.mux.HandleFunc("/v1/policy/test", s.authed(post(s, http.StatusOK, s.gw.TestPolicy), http.MethodPost))
	s.mux.HandleFunc("/v1/policy/replay", s.authed(post(s, http.StatusOK, s.gw.ReplayPolicy), http.MethodPost))
	s.credentialRoutes() // credentials.go
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.error(w, r, gatehouse.Errorf(gatehouse.ENOTFOUND, "no such endpoint: %s", r.URL.Path))
	})
	return s
}

// SetReady sets what /healthz answers.
func (s *Server) SetReady(ok bool) { s.ready.Store(ok) }

// Handler returns the API's handler.
func (s *Server) Handler() http.Handler { return s.mux }

type handler func(w http.ResponseWriter, r *http.Request, p gatehouse.Principal)

// fullDuplex lets h answer while a streamed request body still comes (a
// run with stdin frames, sent chunked): without it, HTTP/1.1 would read
// the rest of the body before the first write of any answer, a refusal
// included, and wait for ever on a client that keeps its stdin open. Such
// a connection is not reused: net/http may go on reading a body that a
// full-duplex handler left unread after the handler is done, which spoils
// the connection for the next request.
func fullDuplex(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength < 0 {
			enableFullDuplex(w)
		}
		h(w, r)
	}
}

func enableFullDuplex(w http.ResponseWriter) {
	_ = http.NewResponseController(w).EnableFullDuplex() // HTTP/2 is full duplex anyway
	w.Header().Set("Connection", "close")
}

// get is the handler of a GET that takes no parameters and answers with
// what fetch returns (an empty list as [], never null).
func get[T any](s *Server, fetch func(context.Context, gatehouse.Principal) (T, error)) handler {
	return func(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
		if !s.noQuery(w, r) {
			return
		}
		v, err := fetch(r.Context(), p)
		if err != nil {
			s.error(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, emptyList(v))
	}
}

// post is the handler of a request with a JSON body of type In, answered
// with status and what do returns.
func post[In, Out any](s *Server, status int, do func(context.Context, gatehouse.Principal, In) (Out, error)) handler {
	return func(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
		var in In
		if err := decodeBody(w, r, &in); err != nil {
			s.error(w, r, err)
			return
		}
		out, err := do(r.Context(), p, in)
		if err != nil {
			s.error(w, r, err)
			return
		}
		writeJSON(w, status, emptyList(out))
	}
}

// emptyList turns a nil slice into an empty one, so lists encode as [].
func emptyList(v any) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice && rv.IsNil() {
		return []any{}
	}
	return v
}

// authed checks the method and the bearer token, then calls h with the
// token's principal.
func (s *Server) authed(h handler, methods ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ok := false
		for _, m := range methods {
			ok = ok || r.Method == m
		}
		if !ok {
			w.Header().Set("Allow", strings.Join(methods, ", "))
			s.error(w, r, gatehouse.Errorf(gatehouse.EINVALID, "method %s not allowed on %s", r.Method, r.URL.Path))
			return
		}
		token, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !found {
			token = ""
		}
		p, err := s.gw.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
			s.error(w, r, err)
			return
		}
		h(w, r, p)
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		s.error(w, r, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "not ready"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) agents(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	if r.Method == http.MethodGet {
		role := gatehouse.Role(r.URL.Query().Get("role"))
		for k := range r.URL.Query() {
			if k != "role" {
				s.error(w, r, gatehouse.Errorf(gatehouse.EINVALID, "unknown query parameter %q", k))
				return
			}
		}
		list, err := s.gw.Agents(r.Context(), p)
		if err != nil {
			s.error(w, r, err)
			return
		}
		out := []*gatehouse.Agent{}
		for _, a := range list {
			if role == "" || a.Role == role {
				out = append(out, a)
			}
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	var req client.AddAgentRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.error(w, r, err)
		return
	}
	if req.Role == "" {
		req.Role = gatehouse.RoleAgent
	}
	if len(req.Workspaces) > 0 && req.Role != gatehouse.RoleAgent {
		s.error(w, r, gatehouse.Errorf(gatehouse.EINVALID, "only agents have workspaces"))
		return
	}
	add := s.gw.AddIdentity
	if len(req.Workspaces) > 0 {
		add = func(ctx context.Context, p gatehouse.Principal, name string, _ gatehouse.Role) (*gatehouse.Agent, string, error) {
			return s.gw.AddAgentWorkspaces(ctx, p, name, req.Workspaces)
		}
	}
	a, token, err := add(r.Context(), p, req.Name, req.Role)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, client.AgentToken{Name: a.Name, Role: a.Role, Token: token, CreatedAt: a.CreatedAt.Format(time.RFC3339Nano),
		Workspaces: a.Workspaces})
}

func (s *Server) agent(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	role := gatehouse.Role(r.URL.Query().Get("role"))
	if role == "" {
		role = gatehouse.RoleAgent
	}
	if err := s.gw.RevokeIdentity(r.Context(), p, r.PathValue("name"), role); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) actions(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	f, err := parseFilter(r.URL.Query(), s.now())
	if err != nil {
		s.error(w, r, err)
		return
	}
	list, err := s.gw.Actions(r.Context(), p, f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(list))
}

// parseFilter reads GET /v1/actions' query. Unknown parameters are refused:
// a typo must not silently widen a query.
func parseFilter(q url.Values, now time.Time) (gatehouse.ActionFilter, error) {
	var f gatehouse.ActionFilter
	for k, v := range q {
		if len(v) != 1 {
			return f, gatehouse.Errorf(gatehouse.EINVALID, "query parameter %s given %d times", k, len(v))
		}
		val := v[0]
		var err error
		switch k {
		case "since":
			f.Since, err = gatehouse.ParseTimeBound(val, now)
		case "until":
			f.Until, err = gatehouse.ParseTimeBound(val, now)
		case "agent":
			f.Agent = val
		case "session":
			f.Session = val
		case "status":
			f.Status = gatehouse.Status(val)
			if !f.Status.Valid() {
				err = gatehouse.Errorf(gatehouse.EINVALID, "invalid status %q: use pending, running, succeeded, failed, denied or interrupted", val)
			}
		case "grep":
			f.Grep = val
		case "system":
			f.System = val
		case "risk":
			f.MinRisk, err = strconv.Atoi(val)
			if err != nil || f.MinRisk < 0 || f.MinRisk > gatehouse.MaxRisk {
				err = gatehouse.Errorf(gatehouse.EINVALID, "invalid risk %q: use 0 to %d", val, gatehouse.MaxRisk)
			}
		case "before":
			f.Before, err = gatehouse.ParseCursor(val)
		case "after":
			f.After, err = gatehouse.ParseCursor(val)
		case "oldest":
			f.Oldest, err = strconv.ParseBool(val)
			if err != nil {
				err = gatehouse.Errorf(gatehouse.EINVALID, "invalid oldest %q: use true or false", val)
			}
		case "trace":
			f.Trace, err = gatehouse.ParseTraceID(val)
		case "limit":
			f.Limit, err = strconv.Atoi(val)
			if err != nil || f.Limit < 1 || f.Limit > gatehouse.MaxLimit {
				err = gatehouse.Errorf(gatehouse.EINVALID, "invalid limit %q: use 1 to %d", val, gatehouse.MaxLimit)
			}
		default:
			err = gatehouse.Errorf(gatehouse.EINVALID, "unknown query parameter %q", k)
		}
		if err != nil {
			return f, err
		}
	}
	return f, nil
}

func (s *Server) action(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	if !s.noQuery(w, r) {
		return
	}
	a, err := s.gw.Action(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) diff(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	if !s.noQuery(w, r) {
		return
	}
	d, err := s.gw.Diff(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) run(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	s.stream(w, r, func(ctx context.Context, req gatehouse.RunRequest, sink gateway.Sink) (*gatehouse.Action, error) {
		return s.gw.Run(ctx, p, req, sink)
	})
}

func (s *Server) attach(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	s.stream(w, r, func(ctx context.Context, req gatehouse.RunRequest, sink gateway.Sink) (*gatehouse.Action, error) {
		return s.gw.Attach(ctx, p, r.PathValue("id"), req, sink)
	})
}

// stream answers a run or attach request with NDJSON frames; with stdin,
// it reads the request's stdin frames meanwhile (see stdin.go).
func (s *Server) stream(w http.ResponseWriter, r *http.Request, do func(context.Context, gatehouse.RunRequest, gateway.Sink) (*gatehouse.Action, error)) {
	req, rest, err := decodeRun(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	fw := &frameWriter{w: w}
	sink := gateway.Sink{
		Pending: func(a *gatehouse.Action) { fw.send(client.Frame{Type: client.FramePending, Action: a}) },
		Started: func(a *gatehouse.Action) { fw.send(client.Frame{Type: client.FrameStarted, Action: a}) },
		Stdout:  streamWriter{fw, client.FrameStdout},
		Stderr:  streamWriter{fw, client.FrameStderr},
	}
	ctx := r.Context()
	if req.Stdin {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		in := readStdin(rest, cancel)
		defer in.close(w)
		sink.Stdin = in.pr
		// Frames are read while the answer is written (whatever the body's
		// length), and the connection is not reused: the body may be left
		// unread (a command that never reads its stdin), and the read
		// deadline that ends the drain is the connection's.
		enableFullDuplex(w)
		// The answer begins at once: a client holds its stdin back until
		// the command starts, and until the answer has begun it cannot
		// tell a gateway that went away from one that thinks.
		fw.begin()
	}
	a, err := do(ctx, req, sink)
	switch {
	case err != nil && !fw.begun():
		s.error(w, r, err)
	case err != nil:
		s.logError(r, err)
		fw.send(client.Frame{Type: client.FrameError, Error: &client.ErrorBody{Code: gatehouse.ErrorCode(err), Message: gatehouse.ErrorMessage(err)}})
	default:
		fw.send(client.Frame{Type: client.FrameFinished, Action: a})
	}
}

// external decides an action the agent's harness carries out itself: a
// stream of a pending frame (if it waits for review) and a finished frame
// with the action — status running means go ahead, denied means do not.
func (s *Server) external(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	var req gatehouse.ExternalRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.error(w, r, err)
		return
	}
	fw := &frameWriter{w: w}
	a, err := s.gw.Request(r.Context(), p, req, gateway.Sink{
		Pending: func(a *gatehouse.Action) { fw.send(client.Frame{Type: client.FramePending, Action: a}) },
	})
	switch {
	case err != nil && !fw.begun():
		s.error(w, r, err)
	case err != nil:
		s.logError(r, err)
		fw.send(client.Frame{Type: client.FrameError, Action: a, Error: &client.ErrorBody{Code: gatehouse.ErrorCode(err), Message: gatehouse.ErrorMessage(err)}})
	default:
		fw.send(client.Frame{Type: client.FrameFinished, Action: a})
	}
}

// standing answers an agent: does a halt cover me (in ?session=S)?
func (s *Server) standing(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	for k := range r.URL.Query() {
		if k != "session" {
			s.error(w, r, gatehouse.Errorf(gatehouse.EINVALID, "unknown query parameter %q", k))
			return
		}
	}
	st, err := s.gw.Standing(r.Context(), p, r.URL.Query().Get("session"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) review(verdict string) handler {
	return func(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
		post(s, http.StatusOK, func(ctx context.Context, p gatehouse.Principal, req gatehouse.ReviewRequest) (*gatehouse.Action, error) {
			return s.gw.Review(ctx, p, r.PathValue("id"), verdict, req)
		})(w, r, p)
	}
}

func (s *Server) rule(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	if err := s.gw.RemoveLearnedRule(r.Context(), p, r.PathValue("id")); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) policyReload(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	if !s.noQuery(w, r) {
		return
	}
	if _, err := s.gw.ReloadPolicy(r.Context(), p, p.Name); err != nil {
		s.error(w, r, err)
		return
	}
	info, err := s.gw.Policy(r.Context(), p)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// frameWriter serialises frames from the executor's output goroutines and
// flushes each, so the client sees output as it is produced. A client that
// went away makes writes fail; that is ignored here — the request's context
// is cancelled and the gateway interrupts the action.
type frameWriter struct {
	mu    sync.Mutex
	w     http.ResponseWriter
	start bool
	dead  bool // a write failed: the client is gone or too slow
	enc   *json.Encoder
}

func (f *frameWriter) send(fr client.Frame) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead {
		return
	}
	f.beginLocked()
	// A client that stops reading must not stall the command's output (and
	// with it the action's end) for ever: each frame gets a deadline, and a
	// client that misses one gets nothing more. The record is unaffected.
	rc := http.NewResponseController(f.w)
	_ = rc.SetWriteDeadline(time.Now().Add(frameWriteTimeout))
	if f.enc.Encode(fr) != nil || rc.Flush() != nil {
		f.dead = true
	}
}

// begin answers 200 and starts the stream, before any frame: what follows,
// errors included, comes as frames.
func (f *frameWriter) begin() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.beginLocked()
	rc := http.NewResponseController(f.w)
	_ = rc.SetWriteDeadline(time.Now().Add(frameWriteTimeout))
	if rc.Flush() != nil {
		f.dead = true
	}
}

func (f *frameWriter) beginLocked() {
	if !f.start {
		f.start = true
		f.w.Header().Set("Content-Type", "application/x-ndjson")
		f.w.Header().Set("X-Content-Type-Options", "nosniff")
		f.w.WriteHeader(http.StatusOK)
		f.enc = json.NewEncoder(f.w)
	}
}

// frameWriteTimeout bounds how long one frame may take to reach a client.
const frameWriteTimeout = 10 * time.Second

func (f *frameWriter) begun() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.start
}

type streamWriter struct {
	f    *frameWriter
	kind string
}

func (s streamWriter) Write(p []byte) (int, error) {
	s.f.send(client.Frame{Type: s.kind, Data: append([]byte(nil), p...)})
	return len(p), nil
}

// decodeBody decodes exactly one JSON object with no unknown fields from a
// body of at most maxBody bytes.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	if len(r.URL.RawQuery) > 0 {
		return gatehouse.Errorf(gatehouse.EINVALID, "unexpected query parameters")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON object")
	}
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("trailing data after the JSON object")
		}
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return gatehouse.Errorf(gatehouse.ETOOLARGE, "request body is over %d bytes", maxBody)
	case errors.Is(err, io.EOF):
		return gatehouse.Errorf(gatehouse.EINVALID, "empty request body: expected a JSON object")
	}
	return gatehouse.Errorf(gatehouse.EINVALID, "malformed request: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func (s *Server) noQuery(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.RawQuery != "" {
		s.error(w, r, gatehouse.Errorf(gatehouse.EINVALID, "unexpected query parameters"))
		return false
	}
	return true
}

func (s *Server) error(w http.ResponseWriter, r *http.Request, err error) {
	s.logError(r, err)
	code := gatehouse.ErrorCode(err)
	writeJSON(w, StatusOf(code), client.ErrorResponse{Error: client.ErrorBody{Code: code, Message: gatehouse.ErrorMessage(err)}})
}

func (s *Server) logError(r *http.Request, err error) {
	switch code := gatehouse.ErrorCode(err); {
	case code == gatehouse.EINTERNAL || code == gatehouse.EUNAVAILABLE:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	case errors.Is(err, context.Canceled):
	default:
		s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) halts(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	if r.Method == http.MethodGet {
		if !s.noQuery(w, r) {
			return
		}
		list, err := s.gw.Halts(r.Context(), p)
		if err != nil {
			s.error(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, list)
		return
	}
	var req gatehouse.HaltRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.error(w, r, err)
		return
	}
	h, err := s.gw.Halt(r.Context(), p, req)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, h)
}
