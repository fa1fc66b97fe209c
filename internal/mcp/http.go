package mcp

import (
	"context"
	"net/http"
	"strings"
	"sync"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
)

// Authenticator establishes who a bearer token stands for
// (*gateway.Gateway implements it).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (gatehouse.Principal, error)
}

// HTTPHandler serves MCP over streamable HTTP for the daemon at /mcp. Every
// request must carry an agent's token in the Authorization header; a
// session belongs to the token that opened it, and a request of another
// token cannot use it. Tools act through the daemon's own API at apiURL
// with the caller's token, so each call is the caller's action.
func HTTPHandler(auth Authenticator, apiURL string, version string) http.Handler {
	h := &httpHandler{auth: auth, owner: map[string]string{}}
	h.mcp = sdk.NewStreamableHTTPHandler(func(r *http.Request) *sdk.Server {
		return NewServer(client.New(apiURL, bearer(r)), Options{Version: version, Session: r.Header.Get("X-Gatehouse-Session")})
	}, nil)
	return h
}

type httpHandler struct {
	auth  Authenticator
	mcp   http.Handler
	mu    sync.Mutex
	owner map[string]string // MCP session id → hash of the token that opened it
}

func bearer(r *http.Request) string {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(tok)
}

// agentToken returns the request's bearer token if it is an agent's;
// otherwise it answers 401 or 403 and returns false.
func agentToken(w http.ResponseWriter, r *http.Request, auth Authenticator) (string, bool) {
	tok := bearer(r)
	p, err := auth.Authenticate(r.Context(), tok)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
		http.Error(w, `{"error":{"code":"EUNAUTHORIZED","message":"`+gatehouse.ErrorMessage(err)+`"}}`, http.StatusUnauthorized)
		return "", false
	}
	if p.Role != gatehouse.RoleAgent {
		http.Error(w, `{"error":{"code":"EFORBIDDEN","message":"MCP is for agents: use an agent's token"}}`, http.StatusForbidden)
		return "", false
	}
	return tok, true
}

func (h *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok, ok := agentToken(w, r, h.auth)
	if !ok {
		return
	}
	hash := gateway.HashToken(tok)
	sid := r.Header.Get("Mcp-Session-Id")
	if sid != "" {
		h.mu.Lock()
		ok := h.owner[sid] == hash
		h.mu.Unlock()
		if !ok {
			http.Error(w, `{"error":{"code":"ENOTFOUND","message":"no such MCP session for this token"}}`, http.StatusNotFound)
			return
		}
	}
	h.mcp.ServeHTTP(&sessionRecorder{ResponseWriter: w, onHeader: func() {
		if s := w.Header().Get("Mcp-Session-Id"); s != "" && sid == "" {
			h.mu.Lock()
			h.owner[s] = hash
			h.mu.Unlock()
		}
	}}, r)
}

// sessionRecorder notes the session id the SDK assigns when it writes the
// response's header.
type sessionRecorder struct {
	http.ResponseWriter
	onHeader func()
	done     bool
}

func (s *sessionRecorder) WriteHeader(code int) {
	if !s.done {
		s.done = true
		s.onHeader()
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *sessionRecorder) Write(b []byte) (int, error) {
	if !s.done {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

func (s *sessionRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *sessionRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
