package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Defaults of Options.
const (
	DefaultIdleTimeout = 30 * time.Minute
	DefaultMaxAge      = 12 * time.Hour
	DefaultPageSize    = 50
)

// CookieName is the session cookie's name.
const CookieName = "gatehouse_session"

// Options are the console's settings; zero fields take the defaults.
type Options struct {
	Logger *slog.Logger     // slog.Default()
	Now    func() time.Time // time.Now
	// IdleTimeout ends a session that has not been used for this long.
	IdleTimeout time.Duration
	// MaxAge ends every session this long after its sign-in.
	MaxAge time.Duration
	// PageSize is how many actions a page of activity lists.
	PageSize int
}

// Server is the console. Create it with New, mount Handler at /, and call
// Close when the HTTP server shuts down (it ends the live streams, which
// would otherwise keep the shutdown waiting).
type Server struct {
	gw       *gateway.Gateway
	log      *slog.Logger
	now      func() time.Time
	ss       *sessions
	pageSize int
	pages    map[string]*template.Template
	handler  http.Handler
	done     chan struct{}
	once     sync.Once
	// keepAlive is how often an idle live stream sends a comment and
	// checks that its session is still signed in.
	keepAlive time.Duration
}

// New returns the console over gw.
func New(gw *gateway.Gateway, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	s := &Server{
		gw: gw, log: opts.Logger, now: opts.Now, pageSize: opts.PageSize,
		ss:        newSessions(opts.Now, opts.IdleTimeout, opts.MaxAge),
		pages:     parsePages(),
		done:      make(chan struct{}),
		keepAlive: keepAlive,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.change(s.logout))
	mux.HandleFunc("GET /{$}", s.page(s.activity))
	mux.HandleFunc("GET /events", s.stream(s.events))
	mux.HandleFunc("GET /activity/live", s.stream(s.activityLive))
	mux.HandleFunc("GET /approvals", s.page(s.approvals))
	mux.HandleFunc("POST /approvals/{id}", s.change(s.review))
	mux.HandleFunc("GET /actions/{id}", s.page(s.action))
	mux.HandleFunc("GET /actions/{id}/live", s.stream(s.actionLive))
	mux.HandleFunc("GET /session", s.page(s.session))
	mux.HandleFunc("GET /session/live", s.stream(s.sessionLive))
	mux.HandleFunc("GET /halts", s.page(s.haltsPage))
	mux.HandleFunc("POST /halts", s.change(s.halt))
	mux.HandleFunc("POST /resume", s.change(s.resume))
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
	mux.HandleFunc("/", s.page(func(w http.ResponseWriter, r *http.Request, rq *request) {
		s.fail(w, r, rq, gatehouse.Errorf(gatehouse.ENOTFOUND, "no such page: %s", r.URL.Path))
	}))
	// Every change must come from the console's own pages: Go's
	// cross-origin protection refuses an unsafe request whose
	// Sec-Fetch-Site or Origin names another site, before any handler;
	// the CSRF token (change) is checked on top of it.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, nil, gatehouse.Errorf(gatehouse.EFORBIDDEN, "cross-origin request refused"))
	}))
	s.handler = securityHeaders(cop.Handler(mux))
	return s
}

// Handler returns the console's handler, to be mounted at /.
func (s *Server) Handler() http.Handler { return s.handler }

// Close ends the live streams. It is safe to call more than once.
func (s *Server) Close() { s.once.Do(func() { close(s.done) }) }

// securityHeaders sets what every response of the console carries: no
// script, style or connection but the console's own, no framing, no
// referrer, no caching of pages.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// request is what an authenticated handler gets: the session and the
// principal its token stands for now.
type request struct {
	sess *session
	p    gatehouse.Principal
}

type handler func(w http.ResponseWriter, r *http.Request, rq *request)

// authenticate returns the request's session with its principal, or nil.
// The session's token is authenticated again on every request, so that a
// revoked reviewer is signed out at once. Only what a person does counts
// as use of the session (use): not what a page's script fetches by itself.
func (s *Server) authenticate(r *http.Request, use bool) *request {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	sess := s.ss.get(c.Value, use)
	if sess == nil {
		return nil
	}
	p, err := s.gw.Authenticate(r.Context(), sess.token)
	if err != nil || !p.Role.CanReview() {
		if gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
			s.ss.end(c.Value)
		}
		return nil
	}
	return &request{sess: sess, p: p}
}

// page serves a GET for a signed-in reviewer; anyone else is sent to sign
// in, and back here after.
func (s *Server) page(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rq := s.authenticate(r, true)
		if rq == nil {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h(w, r, rq)
	}
}

// stream serves a GET that a page's script makes (the live feed and the
// fragments it reloads): without a session it is refused, not redirected,
// and it does not count as use of the session.
func (s *Server) stream(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rq := s.authenticate(r, false)
		if rq == nil {
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		h(w, r, rq)
	}
}

// maxForm bounds a form's body.
const maxForm = 64 << 10

// change serves a POST that changes something. It needs a session and
// the session's CSRF token (form field csrf, or header X-CSRF-Token);
// anything else is refused before the form is read further.
func (s *Server) change(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rq := s.authenticate(r, true)
		if rq == nil {
			s.fail(w, r, nil, gatehouse.Errorf(gatehouse.EUNAUTHORIZED, "not signed in (or the session expired): sign in again"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			s.fail(w, r, rq, gatehouse.Errorf(gatehouse.EINVALID, "unreadable form"))
			return
		}
		token := r.Header.Get("X-CSRF-Token")
		if token == "" {
			token = r.PostForm.Get("csrf")
		}
		if !rq.sess.checkCSRF(token) {
			s.fail(w, r, rq, gatehouse.Errorf(gatehouse.EFORBIDDEN, "missing or wrong CSRF token: reload the page and try again"))
			return
		}
		h(w, r, rq)
	}
}

// done redirects after a change to to (a path of the console's own),
// with a message for the next page.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, rq *request, to string, err error, ok string) {
	f := flash{Text: ok}
	if err != nil {
		s.logError(r, err)
		f = flash{Text: gatehouse.ErrorCode(err) + ": " + gatehouse.ErrorMessage(err), Error: true}
	}
	s.ss.setFlash(rq.sess, f)
	http.Redirect(w, r, localPath(to, "/"), http.StatusSeeOther)
}

// localPath returns p if it is a path on this server ("/…" but not
// "//host" or "/\host", which browsers take for another site), else def.
func localPath(p, def string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return def
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return def
	}
	return p
}

// page is what every page's template gets.
type pageData struct {
	Title     string
	Nav       string // which navigation item is current
	Principal gatehouse.Principal
	CSRF      string
	Halts     []*gatehouse.Halt
	Pending   int
	Flash     *flash
	// Events is the query of the page's live stream (/events?…).
	Events string
	Now    time.Time
	Body   any
}

// render executes a page's template into a buffer first, so that a
// failure shows an error page rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, rq *request, status int, name string, d *pageData) {
	d.Now = s.now()
	if rq != nil {
		d.Principal = rq.p
		d.CSRF = rq.sess.csrf
		d.Flash = s.ss.takeFlash(rq.sess)
		d.Halts, _ = s.gw.Halts(r.Context(), rq.p)
		if pend, err := s.gw.Pending(r.Context(), rq.p); err == nil {
			d.Pending = len(pend)
		}
	}
	var buf bytes.Buffer
	t := s.pages[name]
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		s.log.Error("console: rendering a page failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fragment executes one named template of a page, for a script that
// replaces part of the page with it.
func (s *Server) fragment(w http.ResponseWriter, r *http.Request, page, name string, d any) {
	var buf bytes.Buffer
	if err := s.pages[page].ExecuteTemplate(&buf, name, d); err != nil {
		s.log.Error("console: rendering a fragment failed", "fragment", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// fail shows an error page with the error's stable code and its safe
// message, with the status the API would answer.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	s.logError(r, err)
	code := gatehouse.ErrorCode(err)
	s.render(w, r, rq, httpapi.StatusOf(code), "error", &pageData{Title: "Error",
		Body: flash{Text: code + ": " + gatehouse.ErrorMessage(err), Error: true}})
}

func (s *Server) logError(r *http.Request, err error) {
	switch code := gatehouse.ErrorCode(err); {
	case code == gatehouse.EINTERNAL || code == gatehouse.EUNAVAILABLE:
		s.log.Error("console request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	case errors.Is(err, context.Canceled):
	default:
		s.log.Debug("console request refused", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
}

// cookie returns the session cookie: HttpOnly (no script reads it),
// SameSite=Strict (no other site's page sends it), Secure when the
// console is served over TLS.
func cookie(r *http.Request, value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{Name: CookieName, Value: value, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(maxAge.Seconds())}
	if value == "" {
		c.MaxAge = -1
	}
	return c
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if rq := s.authenticate(r, false); rq != nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next"), "/"), http.StatusSeeOther)
		return
	}
	s.render(w, r, nil, http.StatusOK, "login", &pageData{Title: "Sign in", Body: loginData{Next: localPath(r.URL.Query().Get("next"), "/")}})
}

type loginData struct {
	Next  string
	Error string
}

// login exchanges a reviewer's or the admin's token for a session. An
// agent's token is refused: agents never read the journal or review.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, nil, gatehouse.Errorf(gatehouse.EINVALID, "unreadable form"))
		return
	}
	next := localPath(r.PostForm.Get("next"), "/")
	token := strings.TrimSpace(r.PostForm.Get("token"))
	p, err := s.gw.Authenticate(r.Context(), token)
	if err == nil && !p.Role.CanReview() {
		err = gatehouse.Errorf(gatehouse.EFORBIDDEN, "%s %q may not use the console: sign in with a reviewer or the admin token", p.Role, p.Name)
	}
	if err != nil {
		s.logError(r, err)
		msg := gatehouse.ErrorCode(err) + ": " + gatehouse.ErrorMessage(err)
		if gatehouse.ErrorCode(err) == gatehouse.EUNAUTHORIZED {
			msg = "EUNAUTHORIZED: that token is not valid (or was revoked)"
		}
		s.render(w, r, nil, httpapi.StatusOf(gatehouse.ErrorCode(err)), "login", &pageData{Title: "Sign in",
			Body: loginData{Next: next, Error: msg}})
		return
	}
	value, _ := s.ss.create(token, p)
	http.SetCookie(w, cookie(r, value, s.ss.maxAge))
	s.log.Info("console sign-in", "name", p.Name, "role", p.Role)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, rq *request) {
	if c, err := r.Cookie(CookieName); err == nil {
		s.ss.end(c.Value)
	}
	http.SetCookie(w, cookie(r, "", 0))
	s.log.Info("console sign-out", "name", rq.p.Name)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
