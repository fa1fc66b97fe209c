package mcp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
)

// Upstream is an MCP server the daemon fronts: a program it starts and
// speaks to over stdio (Command, Env, Cwd) or a streamable HTTP endpoint
// (URL, Headers). The daemon fills it in from the configuration file's
// upstreams section, which validates it.
type Upstream struct {
	Name    string
	Command []string
	Env     map[string]string
	Cwd     string
	URL     string
	Headers map[string]string
}

// HubOptions configure a Hub.
type HubOptions struct {
	// APIURL is the daemon's own API: every tools/call is requested there
	// with the calling agent's token, so it is that agent's action.
	APIURL  string
	Version string
	// BaseEnv is the environment a program upstream starts with (the
	// daemon's --env-pass variables); its Env is set over it.
	BaseEnv map[string]string
	Logger  *slog.Logger
	// Restarts of an upstream that stopped wait MinBackoff, doubling up
	// to MaxBackoff; an upstream that ran for MaxBackoff starts over at
	// MinBackoff. Defaults 1s and 1m.
	MinBackoff, MaxBackoff time.Duration
	// StopGrace is how long a program upstream has to exit once its stdin
	// is closed, and again after SIGTERM, before SIGKILL. Default 5s.
	StopGrace time.Duration
	// SessionIdle closes an agent's session after this long without a
	// request. Default 24h.
	SessionIdle time.Duration
	// ConnectTimeout bounds starting an upstream and initializing a
	// session with it (a program run through npx may first download
	// itself). Default 2m.
	ConnectTimeout time.Duration
}

// Hub serves the configured upstreams at /mcp/NAME over streamable HTTP,
// one Proxy per agent session: tools, resources and prompts as the
// upstream has them, each tools/call an mcp_tool action of system NAME,
// requested with the agent's token and never forwarded unless allowed.
//
// Each upstream has one connection, shared by every agent session, which
// a supervisor keeps up: a program is started when the daemon starts,
// with its stderr in the daemon's log, and restarted with backoff when it
// exits; an HTTP upstream is reconnected. When the connection is lost,
// the sessions over it end (their requests get 404, and MCP clients then
// start a new session) since what the upstream held for them is gone.
// A session belongs to the token that opened it, as at /mcp.
type Hub struct {
	auth Authenticator
	opts HubOptions
	log  *slog.Logger
	ups  map[string]*supervisor

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewHub returns a hub for ups (names unique); nothing runs until Start.
func NewHub(ups []Upstream, auth Authenticator, opts HubOptions) *Hub {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(time.Minute, opts.MinBackoff)
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = 5 * time.Second
	}
	if opts.SessionIdle <= 0 {
		opts.SessionIdle = 24 * time.Hour
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 2 * time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{auth: auth, opts: opts, log: log, ups: map[string]*supervisor{}}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	for _, u := range ups {
		s := &supervisor{hub: h, spec: u, log: log.With("upstream", u.Name), owner: map[string]owner{}, down: "not started yet"}
		s.http = sdk.NewStreamableHTTPHandler(s.server, &sdk.StreamableHTTPOptions{SessionTimeout: opts.SessionIdle})
		h.ups[u.Name] = s
	}
	return h
}

// Names returns the upstreams' names, sorted.
func (h *Hub) Names() []string {
	names := make([]string, 0, len(h.ups))
	for n := range h.ups {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Start starts each upstream's supervisor.
func (h *Hub) Start() {
	for _, s := range h.ups {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			s.run(h.ctx)
		}()
	}
}

// Close ends every agent session and stops every upstream: a program gets
// its stdin closed, then SIGTERM, then SIGKILL (see StopGrace), and what
// is left of its process group is killed. It returns once all have
// stopped or ctx is done.
func (h *Hub) Close(ctx context.Context) error {
	h.cancel()
	for _, s := range h.ups {
		s.mu.Lock()
		g := s.cur
		s.mu.Unlock()
		if g != nil {
			go func() { _ = g.cs.Close() }() // ends the supervisor's Wait; all stop at once
		}
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mcp upstreams: %w", ctx.Err())
	}
}

// ServeHTTP serves /mcp/NAME.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, _ := strings.CutPrefix(r.URL.Path, "/mcp/")
	s := h.ups[name]
	if s == nil {
		jsonError(w, http.StatusNotFound, gatehouse.ENOTFOUND, fmt.Sprintf("no MCP upstream %q is configured", name))
		return
	}
	tok, ok := agentToken(w, r, h.auth)
	if !ok {
		return
	}
	s.serve(w, r, gateway.HashToken(tok))
}

// supervisor keeps one upstream connected and serves its sessions.
type supervisor struct {
	hub  *Hub
	spec Upstream
	log  *slog.Logger
	http http.Handler // the SDK's streamable HTTP handler, over server

	mu    sync.Mutex
	cur   *generation      // nil while not connected
	down  string           // why not, for the agents who ask meanwhile
	gen   uint64           // of the latest connection
	owner map[string]owner // agent session id → who opened it, over which connection
	kept  int              // owners left by the last prune
}

// generation is one connection to the upstream and the proxies built over
// it, one per agent session.
type generation struct {
	n       uint64
	cs      *sdk.ClientSession
	servers []*sdk.Server
	pruneAt int // prune servers without sessions when there are this many
}

type owner struct {
	token string // its hash
	gen   uint64
}

type slotKey struct{}

// slot carries the server built for a new session through the two calls
// the SDK's handler makes for one request (it asks for a server again for
// every request; only one without a session id starts a session).
type slot struct {
	token string
	srv   *sdk.Server
}

// placeholder answers the SDK's question about protocol versions for
// requests of existing sessions; it never serves a session.
var placeholder = sdk.NewServer(&sdk.Implementation{Name: "gatehouse"}, nil)

func (s *supervisor) serve(w http.ResponseWriter, r *http.Request, tokenHash string) {
	sid := r.Header.Get("Mcp-Session-Id")
	s.mu.Lock()
	gen, up := s.gen, s.cur != nil
	o, known := s.owner[sid]
	down := s.down
	s.mu.Unlock()
	if sid != "" {
		// A session of another token is no session of this one; one over
		// a connection that is gone has ended.
		if !known || o.token != tokenHash || o.gen != gen || !up {
			jsonError(w, http.StatusNotFound, gatehouse.ENOTFOUND, "no such MCP session for this token (it ended, or the upstream restarted): start a new one")
			return
		}
		s.http.ServeHTTP(w, r)
		return
	}
	if !up {
		jsonError(w, http.StatusServiceUnavailable, gatehouse.EUNAVAILABLE, fmt.Sprintf("MCP upstream %q is not connected: %s", s.spec.Name, down))
		return
	}
	if r.Method != http.MethodPost {
		s.http.ServeHTTP(w, r) // refused by the SDK: only a POST starts a session
		return
	}
	sl := &slot{token: bearer(r)}
	r = r.WithContext(context.WithValue(r.Context(), slotKey{}, sl))
	s.http.ServeHTTP(&sessionRecorder{ResponseWriter: w, onHeader: func() {
		if id := w.Header().Get("Mcp-Session-Id"); id != "" {
			s.mu.Lock()
			s.owner[id] = owner{token: tokenHash, gen: gen}
			s.pruneOwners()
			s.mu.Unlock()
		}
	}}, r)
}

// server is the SDK handler's getServer: a new Proxy over the current
// connection for a new session, acting with the session's token.
func (s *supervisor) server(r *http.Request) *sdk.Server {
	sl, _ := r.Context().Value(slotKey{}).(*slot)
	if sl == nil {
		return placeholder
	}
	if sl.srv != nil {
		return sl.srv
	}
	s.mu.Lock()
	g := s.cur
	s.mu.Unlock()
	if g == nil {
		return nil // the SDK answers 400; the agent tries again
	}
	p := &Proxy{Name: s.spec.Name, Client: client.New(s.hub.opts.APIURL, sl.token),
		Opts: Options{Version: s.hub.opts.Version, Session: r.Header.Get("X-Gatehouse-Session"), Cwd: s.spec.Cwd}}
	srv, err := p.sharedServer(r.Context(), g.cs)
	if err != nil {
		s.log.Warn("cannot serve a session of the MCP upstream", "err", err)
		return nil
	}
	s.mu.Lock()
	if s.cur == g {
		g.servers = append(g.servers, srv)
		if len(g.servers) >= g.pruneAt {
			g.servers = prune(g.servers)
			g.pruneAt = max(64, 2*len(g.servers))
		}
	}
	s.mu.Unlock()
	sl.srv = srv
	return srv
}

// prune drops the servers whose sessions have all ended. (A server built
// for a session that is connecting right now may go too: then it is only
// not closed at a restart, and its session, refused from then on by its
// generation, is closed by the idle timeout.)
func prune(servers []*sdk.Server) []*sdk.Server {
	out := servers[:0]
	for _, srv := range servers {
		for range srv.Sessions() {
			out = append(out, srv)
			break
		}
	}
	clear(servers[len(out):])
	return out
}

// pruneOwners drops the records of sessions that ended, when they have
// doubled since the last time. s.mu is held.
func (s *supervisor) pruneOwners() {
	if len(s.owner) < 128 || len(s.owner) < 2*s.ownersKept() {
		return
	}
	live := map[string]bool{}
	if s.cur != nil {
		for _, srv := range s.cur.servers {
			for ss := range srv.Sessions() {
				live[ss.ID()] = true
			}
		}
	}
	for id := range s.owner {
		if !live[id] {
			delete(s.owner, id)
		}
	}
	s.kept = len(s.owner)
}

func (s *supervisor) ownersKept() int { return max(s.kept, 64) }

// run connects the upstream, waits for the connection to end, and
// connects again after a backoff, until ctx is done.
func (s *supervisor) run(ctx context.Context) {
	opts := s.hub.opts
	delay := opts.MinBackoff
	for {
		start := time.Now()
		s.setDown("connecting")
		cctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
		cs, stop, err := s.connect(cctx)
		cancel()
		if err == nil {
			s.up(cs)
			err = cs.Wait()
			s.lost(err)
			_ = cs.Close()
			stop()
		}
		if ctx.Err() != nil {
			s.setDown("the daemon is stopping")
			s.log.Info("MCP upstream stopped")
			return
		}
		if err == nil {
			err = errors.New("the connection ended")
		}
		if time.Since(start) >= opts.MaxBackoff {
			delay = opts.MinBackoff
		}
		why := s.redact(oneLine(err.Error()))
		s.setDown(fmt.Sprintf("%s; trying again in %v", why, delay))
		s.log.Warn("MCP upstream lost; restarting it", "err", why, "in", delay)
		select {
		case <-ctx.Done():
			s.setDown("the daemon is stopping")
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, opts.MaxBackoff)
	}
}

func (s *supervisor) setDown(why string) {
	s.mu.Lock()
	s.down = why
	s.mu.Unlock()
}

// up puts a new connection in force: a new generation.
func (s *supervisor) up(cs *sdk.ClientSession) {
	s.mu.Lock()
	s.gen++
	s.cur = &generation{n: s.gen, cs: cs, pruneAt: 64}
	s.down = ""
	s.mu.Unlock()
	attrs := []any{"generation", s.gen}
	if info := cs.InitializeResult(); info != nil && info.ServerInfo != nil {
		attrs = append(attrs, "server", info.ServerInfo.Name, "server_version", info.ServerInfo.Version)
	}
	s.log.Info("MCP upstream connected", attrs...)
}

// lost ends the sessions over the connection that ended.
func (s *supervisor) lost(err error) {
	s.mu.Lock()
	g := s.cur
	s.cur = nil
	s.down = "the connection was lost"
	for id, o := range s.owner {
		if g != nil && o.gen == g.n {
			delete(s.owner, id)
		}
	}
	s.mu.Unlock()
	if g == nil {
		return
	}
	for _, srv := range g.servers {
		for ss := range srv.Sessions() {
			_ = ss.Close()
		}
	}
}

// connect starts or reaches the upstream and initializes a client session
// with it. stop cleans up what is left once the session is closed.
func (s *supervisor) connect(ctx context.Context) (*sdk.ClientSession, func(), error) {
	client := sdk.NewClient(&sdk.Implementation{Name: "gatehouse", Version: s.hub.opts.Version}, nil)
	if len(s.spec.Command) == 0 {
		// The client is given the URL without its query, which the
		// transport puts back on each request: errors quote the URL they
		// failed on, and they end up in the log and in the journal.
		endpoint, query := s.spec.URL, ""
		if u, err := url.Parse(s.spec.URL); err == nil {
			query, u.RawQuery = u.RawQuery, ""
			endpoint = u.String()
		}
		hc := &http.Client{Transport: withHeaders{s.spec.Headers, query, http.DefaultTransport}}
		s.log.Info("connecting to the MCP upstream", "url", endpoint)
		cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc}, nil)
		return cs, func() {}, err
	}
	cmd := exec.Command(s.spec.Command[0], s.spec.Command[1:]...)
	cmd.Env = environ(s.hub.opts.BaseEnv, s.spec.Env)
	cmd.Dir = s.spec.Cwd
	// Its own process group, so that a signal meant for the daemon's
	// terminal does not reach it (the daemon stops it in order) and what
	// it leaves can be killed as a group; and SIGKILL if the daemon dies.
	// (Pdeathsig follows the thread that started it; the daemon locks no
	// goroutine to a thread, so its threads live as long as it does.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Its stderr is a pipe of our own, not exec's, so that reading it is
	// not cut short when the transport waits for the process: it ends when
	// the last process holding it does.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	cmd.Stderr = pw
	tr := &sdk.CommandTransport{Command: cmd, TerminateDuration: s.hub.opts.StopGrace}
	s.log.Info("starting the MCP upstream", "program", s.spec.Command[0]) // not its arguments: they may hold a token
	cs, err := client.Connect(ctx, tr, nil)
	pw.Close()
	logged := make(chan struct{})
	go func() { defer close(logged); defer pr.Close(); s.logStderr(pr) }()
	// stop kills what the program left in its group, once the transport
	// has closed it (the transport waits for the program itself).
	stop := func() {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		<-logged
	}
	if err != nil {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			if cmd.ProcessState == nil {
				_ = cmd.Wait() // the transport did not: the session never got so far
			}
		}
		<-logged
		return nil, nil, err
	}
	return cs, stop, nil
}

// logStderr copies a program upstream's stderr to the log, a line each.
func (s *supervisor) logStderr(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for sc.Scan() {
		s.log.Info("MCP upstream stderr", "line", sc.Text())
	}
	// A line over 64 KiB stops the scan: drain the rest unlogged, so that
	// the upstream never blocks on a full pipe.
	_, _ = io.Copy(io.Discard, r)
}

func environ(base, set map[string]string) []string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for k, v := range set {
		m[k] = v
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// withHeaders adds an HTTP upstream's configured headers, and the query
// of its URL, to each request.
type withHeaders struct {
	h     map[string]string
	query string
	next  http.RoundTripper
}

func (w withHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	if len(w.h) > 0 || w.query != "" {
		r = r.Clone(r.Context())
		for k, v := range w.h {
			r.Header.Set(k, v)
		}
		if w.query != "" {
			r.URL.RawQuery = w.query
		}
	}
	return w.next.RoundTrip(r)
}

// redact takes an HTTP upstream's URL out of an error message (the HTTP
// client quotes it), in favour of its redacted form.
func (s *supervisor) redact(msg string) string {
	if s.spec.URL == "" {
		return msg
	}
	safe := redactURL(s.spec.URL)
	msg = strings.ReplaceAll(msg, s.spec.URL, safe)
	if u, err := url.Parse(s.spec.URL); err == nil {
		msg = strings.ReplaceAll(msg, u.String(), safe)
	}
	return msg
}

// redactURL leaves out what may hold a secret: the query.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// jsonError answers with Gatehouse's error body.
func jsonError(w http.ResponseWriter, status int, code, msg string) {
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	b, _ := json.Marshal(struct {
		Error body `json:"error"`
	}{body{code, msg}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
