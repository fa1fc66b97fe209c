package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse-dev/gatehouse"
)

// Relay passes an agent's MCP session — over stdio, for agents that speak
// nothing else — to the daemon's streamable HTTP endpoint of one upstream
// (/mcp/NAME), message by message and unchanged: every request, response
// and notification of either side, with the agent's token. The daemon
// does the deciding and the journaling; the upstream, its credentials and
// its process stay with the daemon.
//
// When the daemon's session ends (the upstream or the daemon restarted),
// Relay starts a new one by replaying the agent's initialize, and answers
// the calls that were in flight with an error; the agent's own session
// goes on. Messages the daemon would send outside of a request (over the
// standalone event stream) are not relayed: Gatehouse's proxy sends none.
type Relay struct {
	Endpoint string // http://DAEMON/mcp/NAME
	Token    string // the agent's
	Session  string // recorded on the actions (X-Gatehouse-Session)
	// Reconnect bounds how long Relay tries to start a new session once
	// the daemon's has ended; default 30s.
	Reconnect time.Duration
}

// Run relays between the agent's transport and the daemon until either
// side ends.
func (r *Relay) Run(ctx context.Context, agent sdk.Transport) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	down, err := agent.Connect(ctx)
	if err != nil {
		return err
	}
	defer down.Close()
	rl := &relay{r: r, down: down, pending: map[jsonrpc.ID]bool{}, failed: make(chan error, 1)}
	if err := rl.connect(ctx); err != nil {
		return err
	}
	defer func() {
		rl.mu.Lock()
		up := rl.up
		rl.mu.Unlock()
		up.Close()
	}()
	go func() {
		rl.fail(rl.fromAgent(ctx))
	}()
	select {
	case err := <-rl.failed:
		if errors.Is(err, io.EOF) {
			return nil // the agent closed its end
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

type relay struct {
	r      *Relay
	down   sdk.Connection
	failed chan error
	writeM sync.Mutex // one writer to the agent at a time

	mu          sync.Mutex
	up          sdk.Connection
	gen         int
	initing     *jsonrpc.Request    // the agent's initialize, being sent
	initReq     *jsonrpc.Request    // the agent's initialize, once sent: replayed on a new session
	initialized bool                // the agent sent notifications/initialized
	pending     map[jsonrpc.ID]bool // the agent's requests not answered yet
	version     atomic.Value        // the protocol version the session negotiated
}

func (rl *relay) fail(err error) {
	select {
	case rl.failed <- err:
	default:
	}
}

// fromAgent passes the agent's messages to the daemon. Each call but the
// initialize is sent on its own goroutine: sending a call returns only
// once its answer begins, which for a call waiting for a reviewer is
// minutes, and the agent's other messages (other calls, a cancellation)
// must not wait behind it. Everything else is sent in order.
func (rl *relay) fromAgent(ctx context.Context) error {
	for {
		msg, err := rl.down.Read(ctx)
		if err != nil {
			return err // the agent went away: the end
		}
		req, isReq := msg.(*jsonrpc.Request)
		rl.mu.Lock()
		switch {
		case isReq && req.Method == "initialize":
			rl.initing = req
		case isReq && req.Method == "notifications/initialized":
			rl.initialized = true
		}
		rl.mu.Unlock()
		if isReq && req.IsCall() && req.Method != "initialize" {
			go func() {
				if err := rl.send(ctx, msg); err != nil {
					rl.fail(err)
				}
			}()
			continue
		}
		if err := rl.send(ctx, msg); err != nil {
			return err
		}
	}
}

// send passes one message to the daemon; if the daemon's session is gone,
// it starts a new one and sends the message there. An error is returned
// only when no new session can be had; a call that cannot be sent is
// answered with an error.
func (rl *relay) send(ctx context.Context, msg jsonrpc.Message) error {
	req, isReq := msg.(*jsonrpc.Request)
	call := isReq && req.IsCall()
	rl.mu.Lock()
	if call {
		rl.pending[req.ID] = true
	}
	up, gen := rl.up, rl.gen
	rl.mu.Unlock()
	err := up.Write(ctx, msg)
	if err != nil && ctx.Err() == nil {
		// The message did not reach the old session, so it is not among
		// the calls the reconnection answers as lost.
		rl.mu.Lock()
		if call {
			delete(rl.pending, req.ID)
		}
		rl.mu.Unlock()
		if err := rl.reconnect(ctx, gen); err != nil {
			return err
		}
		rl.mu.Lock()
		if call {
			rl.pending[req.ID] = true
		}
		up = rl.up
		rl.mu.Unlock()
		err = up.Write(ctx, msg)
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		if call {
			rl.answer(ctx, req.ID, "gatehouse: cannot reach the daemon: "+err.Error())
		}
	case isReq && req.Method == "initialize":
		rl.mu.Lock()
		rl.initReq = req
		rl.mu.Unlock()
	}
	return nil
}

// fromDaemon passes one daemon session's messages to the agent, until it
// ends; then it starts a new one.
func (rl *relay) fromDaemon(ctx context.Context, up sdk.Connection, gen int) {
	for {
		msg, err := up.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if err := rl.reconnect(ctx, gen); err != nil {
				rl.fail(err)
			}
			return
		}
		if resp, ok := msg.(*jsonrpc.Response); ok {
			rl.mu.Lock()
			delete(rl.pending, resp.ID)
			isInit := rl.initing != nil && rl.initing.ID == resp.ID
			rl.mu.Unlock()
			if isInit {
				rl.noteVersion(resp)
			}
		}
		if err := rl.toAgent(ctx, msg); err != nil {
			rl.fail(err)
			return
		}
	}
}

func (rl *relay) toAgent(ctx context.Context, msg jsonrpc.Message) error {
	rl.writeM.Lock()
	defer rl.writeM.Unlock()
	return rl.down.Write(ctx, msg)
}

// answer answers one of the agent's requests with an error.
func (rl *relay) answer(ctx context.Context, id jsonrpc.ID, msg string) {
	rl.mu.Lock()
	delete(rl.pending, id)
	rl.mu.Unlock()
	_ = rl.toAgent(ctx, &jsonrpc.Response{ID: id, Error: &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: msg}})
}

func (rl *relay) noteVersion(resp *jsonrpc.Response) {
	var res struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if resp.Error == nil && json.Unmarshal(resp.Result, &res) == nil && res.ProtocolVersion != "" {
		rl.version.Store(res.ProtocolVersion)
	}
}

// dial opens a connection to the daemon's endpoint.
func (rl *relay) dial(ctx context.Context) (sdk.Connection, error) {
	hc := &http.Client{Transport: relayHeaders{rl, http.DefaultTransport}}
	return (&sdk.StreamableClientTransport{Endpoint: rl.r.Endpoint, HTTPClient: hc, MaxRetries: -1}).Connect(ctx)
}

// connect opens the first connection.
func (rl *relay) connect(ctx context.Context) error {
	up, err := rl.dial(ctx)
	if err != nil {
		return err
	}
	rl.mu.Lock()
	rl.up = up
	rl.mu.Unlock()
	go rl.fromDaemon(ctx, up, 0)
	return nil
}

// reconnect replaces the connection of generation gen (unless that was
// done already) with a new daemon session, initialized as the agent
// initialized its own. The calls in flight are answered with an error:
// their answers were lost with the old session.
func (rl *relay) reconnect(ctx context.Context, gen int) error {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if gen != rl.gen {
		return nil
	}
	rl.up.Close()
	for id := range rl.pending {
		delete(rl.pending, id)
		_ = rl.toAgent(ctx, &jsonrpc.Response{ID: id, Error: &jsonrpc.Error{Code: jsonrpc.CodeInternalError,
			Message: "gatehouse: the daemon's MCP session ended (the upstream or the daemon restarted); a new one is started: try again"}})
	}
	limit := rl.r.Reconnect
	if limit <= 0 {
		limit = 30 * time.Second
	}
	deadline := time.Now().Add(limit)
	delay := 100 * time.Millisecond
	for {
		up, err := rl.newSession(ctx)
		if err == nil {
			rl.up, rl.gen = up, rl.gen+1
			go rl.fromDaemon(ctx, up, rl.gen)
			return nil
		}
		if ctx.Err() != nil || time.Now().Add(delay).After(deadline) {
			return fmt.Errorf("the daemon's MCP session ended and no new one could be started: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// newSession dials the daemon and, if the agent has initialized, replays
// its initialize (under an id of the relay's) and initialized. rl.mu is
// held.
func (rl *relay) newSession(ctx context.Context) (sdk.Connection, error) {
	up, err := rl.dial(ctx)
	if err != nil {
		return nil, err
	}
	if rl.initReq == nil {
		return up, nil
	}
	id, _ := jsonrpc.MakeID(fmt.Sprintf("gatehouse-relay-%d", rl.gen+1))
	init := &jsonrpc.Request{ID: id, Method: rl.initReq.Method, Params: rl.initReq.Params}
	if err := up.Write(ctx, init); err != nil {
		up.Close()
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		msg, err := up.Read(rctx)
		if err != nil {
			up.Close()
			return nil, err
		}
		if resp, ok := msg.(*jsonrpc.Response); ok && resp.ID == id {
			if resp.Error != nil {
				up.Close()
				return nil, resp.Error
			}
			rl.noteVersion(resp)
			break
		}
	}
	if rl.initialized {
		if err := up.Write(ctx, &jsonrpc.Request{Method: "notifications/initialized", Params: json.RawMessage(`{}`)}); err != nil {
			up.Close()
			return nil, err
		}
	}
	return up, nil
}

// relayHeaders adds the agent's token, its session and the negotiated
// protocol version (which the SDK's client connection would add only for
// a session of its own) to each request to the daemon.
type relayHeaders struct {
	rl   *relay
	next http.RoundTripper
}

func (h relayHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+h.rl.r.Token)
	if h.rl.r.Session != "" {
		r.Header.Set("X-Gatehouse-Session", h.rl.r.Session)
	}
	if v, _ := h.rl.version.Load().(string); v != "" && r.Header.Get("Mcp-Protocol-Version") == "" {
		r.Header.Set("Mcp-Protocol-Version", v)
	}
	return h.next.RoundTrip(r)
}

// Check asks the daemon whether it serves the endpoint to this token: an
// unknown upstream is ENOTFOUND, a bad token EUNAUTHORIZED or EFORBIDDEN,
// a daemon that does not answer EUNAVAILABLE. An upstream that is not
// connected yet is no error: it may be by the time the agent asks.
func (r *Relay) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.Endpoint, nil)
	if err != nil {
		return gatehouse.Errorf(gatehouse.EINVALID, "%v", err)
	}
	req.Header.Set("Authorization", "Bearer "+r.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return gatehouse.Errorf(gatehouse.EUNAVAILABLE, "cannot reach the daemon: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden:
		code := body.Error.Code
		if code == "" {
			code = map[int]string{404: gatehouse.ENOTFOUND, 401: gatehouse.EUNAUTHORIZED, 403: gatehouse.EFORBIDDEN}[resp.StatusCode]
		}
		msg := body.Error.Message
		if msg == "" {
			msg = resp.Status
		}
		return gatehouse.Errorf(code, "%s", msg)
	}
	return nil
}
