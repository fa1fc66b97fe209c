package mcp

// Forwarding between one agent session and its upstream session. The
// agent's side is an sdk.Server whose receiving middleware hands every
// request to the upstream (tools/call through Proxy.callTool first); the
// upstream's side is an sdk.Client whose receiving middleware hands the
// upstream's requests and notifications to the agent. Both sides pass
// params, results, cursors and _meta (progress tokens) through as they
// are, and an upstream's JSON-RPC error back as the same error.

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// link is one agent session and the upstream session that serves it.
type link struct {
	p      *Proxy
	server *sdk.Server

	mu       sync.Mutex
	ss       *sdk.ServerSession // the agent's session, once it initializes
	up       *sdk.ClientSession // the upstream's, once connected
	inflight []*flight          // the agent's requests being served, oldest first
	ready    chan struct{}      // closed when the agent has sent notifications/initialized
	isReady  bool
	early    []func() // the upstream's notifications from before that, in order
}

// flight is one request of the agent's being served: its context relates
// what the upstream sends meanwhile to it (on streamable HTTP, the answer
// to a request carries what relates to it).
type flight struct {
	ctx   context.Context
	token any // its progress token, if any
}

// sessionVersions are the protocol versions the proxy speaks: those with
// an initialize handshake and sessions. The 2026-07-28 protocol carries the
// client's capabilities on each request and the server's requests inside
// results, which a per-session upstream cannot mirror.
func sessionVersions() []string {
	return slices.DeleteFunc(sdk.SupportedProtocolVersions(), func(v string) bool { return v >= "2026-07-28" })
}

func newLink(p *Proxy) *link {
	l := &link{p: p, ready: make(chan struct{})}
	l.server = sdk.NewServer(&sdk.Implementation{Name: "gatehouse-proxy:" + p.Name, Version: p.Opts.Version},
		&sdk.ServerOptions{Logger: p.logger(), SupportedProtocolVersions: sessionVersions()})
	l.server.AddSendingMiddleware(rawSending)
	l.server.AddReceivingMiddleware(l.fromAgent)
	return l
}

func (l *link) upstream() *sdk.ClientSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up
}

// connect opens the upstream session for the agent's initialize, with the
// agent's protocol version, identity and capabilities, so the upstream
// offers what it would offer the agent itself.
func (l *link) connect(ctx context.Context, ss *sdk.ServerSession, params *sdk.InitializeParams) (*sdk.ClientSession, error) {
	caps := &sdk.ClientCapabilities{}
	if params.Capabilities != nil {
		caps = params.Capabilities
	}
	impl := &sdk.Implementation{Name: "gatehouse-proxy"}
	if params.ClientInfo != nil {
		impl = params.ClientInfo
	}
	version := params.ProtocolVersion
	if !slices.Contains(sessionVersions(), version) {
		version = sessionVersions()[0]
	}
	c := sdk.NewClient(impl, &sdk.ClientOptions{Capabilities: caps, Logger: l.p.logger()})
	c.AddSendingMiddleware(rawSending)
	c.AddReceivingMiddleware(l.fromUpstream)
	l.mu.Lock()
	l.ss = ss
	l.mu.Unlock()
	// The upstream session lives in a context of its own: what it handles
	// must not carry the values of the agent's initialize request (the
	// SDK would take what the upstream sends for part of that request's
	// answer, long gone). The request's end ends only the handshake.
	uctx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(ctx, cancel)
	up, err := c.Connect(uctx, l.p.Upstream(), &sdk.ClientSessionOptions{ProtocolVersion: version})
	stop()
	if err != nil {
		cancel()
		l.p.logger().Error("mcp proxy: cannot reach the upstream", "upstream", l.p.Name, "err", err)
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: fmt.Sprintf("gatehouse: cannot reach the upstream %q: %v", l.p.Name, err)}
	}
	l.mu.Lock()
	l.up = up
	l.mu.Unlock()
	// Each side's end ends the other.
	go func() { _ = ss.Wait(); _ = up.Close(); cancel() }()
	go func() { _ = up.Wait(); _ = ss.Close() }()
	return up, nil
}

// fromAgent forwards the agent's requests and notifications upstream.
func (l *link) fromAgent(next sdk.MethodHandler) sdk.MethodHandler {
	return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
		switch method {
		case "initialize":
			return l.initialize(ctx, next, req)
		case "notifications/initialized":
			res, err := next(ctx, method, req)
			l.setReady()
			return res, err
		case "ping", "notifications/cancelled":
			return next(ctx, method, req)
		}
		up := l.upstream()
		if up == nil {
			if strings.HasPrefix(method, "notifications/") {
				return nil, nil
			}
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "gatehouse: no upstream session: initialize first"}
		}
		if strings.HasPrefix(method, "notifications/") {
			return nil, l.notifyUpstream(ctx, up, method, req.GetParams())
		}
		done := l.begin(ctx, req.GetParams())
		defer done()
		res, err := l.call(ctx, up, method, req.GetParams())
		if err != nil {
			return nil, upstreamError(err)
		}
		return res, nil
	}
}

// initialize connects the upstream, then answers the agent with what the
// upstream answered: its capabilities, instructions, identity and
// protocol version.
func (l *link) initialize(ctx context.Context, next sdk.MethodHandler, req sdk.Request) (sdk.Result, error) {
	params, _ := req.GetParams().(*sdk.InitializeParams)
	ss, _ := req.GetSession().(*sdk.ServerSession)
	if params == nil || ss == nil || l.upstream() != nil {
		return next(ctx, "initialize", req) // the SDK's own answer to a bad or repeated initialize
	}
	up, err := l.connect(ctx, ss, params)
	if err != nil {
		return nil, err
	}
	res, err := next(ctx, "initialize", req)
	if err != nil {
		return nil, err
	}
	if r, ok := res.(*sdk.InitializeResult); ok {
		u := up.InitializeResult()
		r.ProtocolVersion, r.Capabilities, r.Instructions, r.ServerInfo = u.ProtocolVersion, u.Capabilities, u.Instructions, u.ServerInfo
		if r.Capabilities == nil {
			r.Capabilities = &sdk.ServerCapabilities{}
		}
	}
	return res, nil
}

// call forwards one of the agent's requests.
func (l *link) call(ctx context.Context, up *sdk.ClientSession, method string, params sdk.Params) (sdk.Result, error) {
	switch p := params.(type) {
	case *sdk.CallToolParamsRaw:
		return l.p.callTool(ctx, up, p)
	case *sdk.ListToolsParams:
		return up.ListTools(ctx, withHopMeta(p))
	case *sdk.ListResourcesParams:
		return up.ListResources(ctx, withHopMeta(p))
	case *sdk.ListResourceTemplatesParams:
		return up.ListResourceTemplates(ctx, withHopMeta(p))
	case *sdk.ReadResourceParams:
		return up.ReadResource(ctx, withHopMeta(p))
	case *sdk.ListPromptsParams:
		return up.ListPrompts(ctx, withHopMeta(p))
	case *sdk.GetPromptParams:
		return up.GetPrompt(ctx, withHopMeta(p))
	case *sdk.CompleteParams:
		return up.Complete(ctx, withHopMeta(p))
	case *sdk.SubscribeParams:
		return empty(up.Subscribe(ctx, withHopMeta(p)))
	case *sdk.UnsubscribeParams:
		return empty(up.Unsubscribe(ctx, withHopMeta(p)))
	case *sdk.SetLoggingLevelParams:
		return empty(up.SetLoggingLevel(ctx, withHopMeta(p)))
	}
	return nil, &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: fmt.Sprintf("gatehouse: %q is not proxied", method)}
}

// emptyResult is the result of a request that has none: {}.
type emptyResult struct{ sdk.ResultBase }

func empty(err error) (sdk.Result, error) {
	if err != nil {
		return nil, err
	}
	return &emptyResult{}, nil
}

// setReady lets what the upstream sends reach the agent, first what came
// before the agent was ready for it.
func (l *link) setReady() {
	l.mu.Lock()
	if l.isReady {
		l.mu.Unlock()
		return
	}
	l.isReady = true
	early := l.early
	l.early = nil
	close(l.ready)
	l.mu.Unlock()
	for _, f := range early {
		f()
	}
}

// whenReady runs f once the agent is ready: now, or later for a
// notification (whose handler must not hold up the upstream's messages).
func (l *link) whenReady(f func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isReady {
		return true
	}
	l.early = append(l.early, f)
	return false
}

// notifyUpstream passes one of the agent's notifications on.
func (l *link) notifyUpstream(ctx context.Context, up *sdk.ClientSession, method string, params sdk.Params) error {
	if p, ok := params.(*sdk.ProgressNotificationParams); ok {
		return up.NotifyProgress(ctx, p)
	}
	return sendRaw(ctx, method, &sdk.ClientRequest[sdk.Params]{Session: up, Params: params},
		func(ctx context.Context) error { return up.NotifyProgress(ctx, &sdk.ProgressNotificationParams{}) })
}

// begin records one of the agent's requests as being served until done.
func (l *link) begin(ctx context.Context, params sdk.Params) (done func()) {
	f := &flight{ctx: ctx}
	if params != nil && !reflect.ValueOf(params).IsNil() {
		f.token = params.GetMeta()["progressToken"]
	}
	l.mu.Lock()
	l.inflight = append(l.inflight, f)
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		l.inflight = slices.DeleteFunc(l.inflight, func(g *flight) bool { return g == f })
		l.mu.Unlock()
	}
}

// related returns the context of the agent's request that something the
// upstream sends belongs to: the one with its progress token, else the
// newest being served; nil if none.
func (l *link) related(token any) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.inflight) - 1; i >= 0; i-- {
		if token != nil && l.inflight[i].token == token {
			return l.inflight[i].ctx
		}
	}
	if token == nil && len(l.inflight) > 0 {
		return l.inflight[len(l.inflight)-1].ctx
	}
	return nil
}

// fromUpstream forwards the upstream's requests and notifications to the
// agent, once the agent is ready for them (the upstream may ask for roots
// as soon as its own session is initialized).
func (l *link) fromUpstream(next sdk.MethodHandler) sdk.MethodHandler {
	return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
		l.mu.Lock()
		ss := l.ss
		l.mu.Unlock()
		if ss == nil || method == "ping" || method == "notifications/cancelled" {
			return next(ctx, method, req)
		}
		params := req.GetParams()
		if strings.HasPrefix(method, "notifications/") {
			send := func(ctx context.Context) {
				// One with no request to travel with is lost if the agent
				// has no stream of its own open, as from any server.
				if err := l.notifyAgent(ctx, ss, method, params); err != nil {
					l.p.logger().Debug("mcp proxy: a notification did not reach the agent", "method", method, "err", err)
				}
			}
			bg := context.WithoutCancel(ctx)
			if l.whenReady(func() { send(bg) }) {
				send(ctx)
			}
			return nil, nil
		}
		select {
		case <-l.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		var res sdk.Result
		err := l.toAgent(ctx, nil, func(ctx context.Context) error {
			var err error
			switch p := params.(type) {
			case *sdk.CreateMessageWithToolsParams:
				res, err = ss.CreateMessageWithTools(ctx, p)
			case *sdk.ElicitParams:
				res, err = ss.Elicit(ctx, p)
			case *sdk.ListRootsParams:
				res, err = ss.ListRoots(ctx, p)
			default:
				err = &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: fmt.Sprintf("gatehouse: %q is not proxied", method)}
			}
			return err
		})
		if err != nil {
			return nil, upstreamError(err)
		}
		return res, nil
	}
}

// notifyAgent passes one of the upstream's notifications on.
func (l *link) notifyAgent(ctx context.Context, ss *sdk.ServerSession, method string, params sdk.Params) error {
	if p, ok := params.(*sdk.ProgressNotificationParams); ok {
		return l.toAgent(ctx, p.ProgressToken, func(ctx context.Context) error { return ss.NotifyProgress(ctx, p) })
	}
	return l.toAgent(ctx, nil, func(ctx context.Context) error {
		return sendRaw(ctx, method, &sdk.ServerRequest[sdk.Params]{Session: ss, Params: params},
			func(ctx context.Context) error { return ss.NotifyProgress(ctx, &sdk.ProgressNotificationParams{}) })
	})
}

// toAgent sends something of the upstream's to the agent: in relation to
// the agent's request it belongs to, so that on streamable HTTP it travels
// with that request's answer, else (or if that answer has gone) on the
// session's own stream. The upstream's context keeps governing
// cancellation.
func (l *link) toAgent(ctx context.Context, token any, send func(context.Context) error) error {
	if rel := l.related(token); rel != nil {
		err := send(relatedContext{Context: ctx, values: rel})
		var werr *jsonrpc.Error
		if err == nil || errors.As(err, &werr) || ctx.Err() != nil {
			return err
		}
	}
	return send(ctx)
}

// relatedContext has the deadline and cancellation of one context and the
// values of another.
type relatedContext struct {
	context.Context
	values context.Context
}

func (c relatedContext) Value(key any) any { return c.values.Value(key) }

// hopMeta is the part of a request's _meta that is passed on: all but the
// keys of the protocol itself, which describe the hop they arrived on.
func hopMeta(m sdk.Meta) sdk.Meta {
	if m == nil {
		return nil
	}
	out := sdk.Meta{}
	for k, v := range m {
		if !strings.HasPrefix(k, "io.modelcontextprotocol/") {
			out[k] = v
		}
	}
	return out
}

// withHopMeta returns a copy of params with only the _meta that is passed
// on.
func withHopMeta[P interface {
	*T
	sdk.Params
}, T any](p P) P {
	if p == nil {
		return nil
	}
	c := P(new(T))
	*c = *p
	c.SetMeta(hopMeta(p.GetMeta()))
	return c
}

// upstreamError is what the agent gets for an upstream's error: its
// JSON-RPC error as it came, anything else as an internal error.
func upstreamError(err error) error {
	var werr *jsonrpc.Error
	if errors.As(err, &werr) {
		return werr
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "gatehouse: upstream: " + err.Error()}
}

// The SDK sends notifications of a fixed set of kinds through typed
// methods. To pass one of any kind on as it came, sendRaw makes a progress
// notification whose sending middleware (rawSending) sends the given one
// instead.
type rawKey struct{}

type rawNote struct {
	method string
	req    sdk.Request
}

func sendRaw(ctx context.Context, method string, req sdk.Request, viaProgress func(context.Context) error) error {
	return viaProgress(context.WithValue(ctx, rawKey{}, &rawNote{method: method, req: req}))
}

func rawSending(next sdk.MethodHandler) sdk.MethodHandler {
	return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
		if n, ok := ctx.Value(rawKey{}).(*rawNote); ok && n != nil && method == "notifications/progress" {
			return next(context.WithValue(ctx, rawKey{}, (*rawNote)(nil)), n.method, n.req)
		}
		return next(ctx, method, req)
	}
}
