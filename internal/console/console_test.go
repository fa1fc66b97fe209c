package console_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/console"
	"github.com/gatehouse-dev/gatehouse/internal/executor"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/shell"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

// testPolicy sends `touch …` to review and allows the rest.
const testPolicy = `version: 1
default: allow
approval_timeout: 1h
rules:
  - id: ask-first
    effect: review
    reason: touching files needs a human
    command: {prefix: "touch"}
`

// clock is a settable time for session expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t        testing.TB
	gw       *gateway.Gateway
	store    *sqlite.Store
	web      *console.Server
	srv      *httptest.Server
	admin    gatehouse.Principal
	agent    gatehouse.Principal
	reviewer string // a reviewer's token
	agentTok string
	dir      string
	clock    *clock
}

type envOpts struct {
	feed     *gateway.Feed
	pageSize int
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	z := gateway.Analyzers{Shell: shell.Analyze, Argv: shell.AnalyzeArgv}
	pol, err := policy.Parse([]byte(testPolicy), policy.Options{Analyze: z.Shell})
	if err != nil {
		t.Fatal(err)
	}
	learned := policy.NewLearned()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gw := gateway.New(store, executor.New(executor.Config{KillGrace: 200 * time.Millisecond}),
		gateway.Config{BaseEnv: map[string]string{"PATH": os.Getenv("PATH")}},
		gateway.Options{AdminToken: "gadm_test", Logger: log, Learned: learned, Feed: o.feed,
			Decider: gateway.NewPolicyDecider(pol, learned, z, nil)})
	ctx := context.Background()
	admin, _ := gw.Authenticate(ctx, "gadm_test")
	_, atok, err := gw.AddAgent(ctx, admin, "ci")
	if err != nil {
		t.Fatal(err)
	}
	agent, _ := gw.Authenticate(ctx, atok)
	_, rtok, err := gw.AddIdentity(ctx, admin, "alice", gatehouse.RoleReviewer)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	web := console.New(gw, console.Options{Logger: log, Now: clk.now, IdleTimeout: time.Hour, MaxAge: 3 * time.Hour, PageSize: o.pageSize})
	srv := httptest.NewServer(web.Handler())
	t.Cleanup(func() { web.Close(); srv.Close() })
	return &env{t: t, gw: gw, store: store, web: web, srv: srv, admin: admin, agent: agent,
		reviewer: rtok, agentTok: atok, dir: dir, clock: clk}
}

// client returns a browser-like client: a cookie jar, no redirects
// followed (the tests look at them).
func (e *env) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (e *env) do(c *http.Client, method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// signIn signs c in with token and returns the session's CSRF token.
func (e *env) signIn(c *http.Client, token string) string {
	e.t.Helper()
	resp, body := e.do(c, "POST", "/login", url.Values{"token": {token}, "next": {"/"}})
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign-in: %d\n%s", resp.StatusCode, body)
	}
	return e.csrf(c)
}

var csrfRE = regexp.MustCompile(`data-csrf="([^"]+)"`)

func (e *env) csrf(c *http.Client) string {
	e.t.Helper()
	resp, body := e.do(c, "GET", "/", nil)
	m := csrfRE.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		e.t.Fatalf("GET / signed in: %d, no CSRF token\n%s", resp.StatusCode, body)
	}
	return m[1]
}

// waiting starts `touch FILE` as the agent, which the policy sends to
// review, and returns the pending action and a channel with the agent's
// result once the review is over.
func (e *env) waiting(session string) (*gatehouse.Action, chan *gatehouse.Action) {
	e.t.Helper()
	pending := make(chan *gatehouse.Action, 1)
	done := make(chan *gatehouse.Action, 1)
	file := filepath.Join(e.dir, "touched-"+session)
	go func() {
		a, err := e.gw.Run(context.Background(), e.agent, gatehouse.RunRequest{Argv: []string{"touch", file}, Cwd: e.dir, Session: session},
			gateway.Sink{Pending: func(a *gatehouse.Action) { pending <- a }})
		if err != nil {
			e.t.Errorf("run: %v", err)
		}
		done <- a
	}()
	select {
	case a := <-pending:
		return a, done
	case a := <-done:
		e.t.Fatalf("the action did not wait for review: %+v", a)
	case <-time.After(30 * time.Second):
		e.t.Fatal("no pending action")
	}
	return nil, nil
}

func (e *env) status(id string) gatehouse.Status {
	e.t.Helper()
	a, err := e.store.Action(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return a.Status
}

func TestSignIn(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, tc := range []struct {
		name   string
		token  string
		status int
		in     bool
	}{
		{"admin", "gadm_test", http.StatusSeeOther, true},
		{"reviewer", e.reviewer, http.StatusSeeOther, true},
		{"agent", e.agentTok, http.StatusForbidden, false},
		{"unknown token", "gat_nope", http.StatusUnauthorized, false},
		{"no token", "", http.StatusUnauthorized, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client()
			resp, body := e.do(c, "POST", "/login", url.Values{"token": {tc.token}, "next": {"/approvals"}})
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tc.status, body)
			}
			var sess *http.Cookie
			for _, ck := range resp.Cookies() {
				if ck.Name == console.CookieName {
					sess = ck
				}
			}
			if !tc.in {
				if sess != nil {
					t.Errorf("refused sign-in set a cookie")
				}
				if r, _ := e.do(c, "GET", "/", nil); r.StatusCode != http.StatusSeeOther {
					t.Errorf("after a refused sign-in GET / = %d", r.StatusCode)
				}
				return
			}
			if loc := resp.Header.Get("Location"); loc != "/approvals" {
				t.Errorf("redirect to %q, want the next page", loc)
			}
			if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Secure || sess.Path != "/" {
				t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP", sess)
			}
			if strings.Contains(sess.Value, tc.token) {
				t.Errorf("the cookie carries the token")
			}
			if r, body := e.do(c, "GET", "/", nil); r.StatusCode != 200 || !strings.Contains(body, "Activity") {
				t.Errorf("signed in, GET / = %d", r.StatusCode)
			}
		})
	}
	// next never leads off the site.
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example"} {
		resp, _ := e.do(e.client(), "POST", "/login", url.Values{"token": {"gadm_test"}, "next": {next}})
		if loc := resp.Header.Get("Location"); loc != "/" {
			t.Errorf("next=%q redirected to %q", next, loc)
		}
	}
}

// Without a session nothing is shown and nothing changes; with one, no
// change is made without the session's CSRF token, nor from another
// origin.
func TestRefusals(t *testing.T) {
	e := newEnv(t, envOpts{})
	a, done := e.waiting("s1")
	anon := e.client()
	for _, tc := range []struct{ method, path string }{
		{"POST", "/approvals/" + a.ID},
		{"POST", "/halts"},
		{"POST", "/resume"},
		{"POST", "/logout"},
	} {
		form := url.Values{"verdict": {"approve"}, "scope": {"all"}, "reason": {"x"}, "mode": {"halt"}}
		if resp, body := e.do(anon, tc.method, tc.path, form); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without a session: %d\n%s", tc.method, tc.path, resp.StatusCode, body)
		}
	}
	for _, path := range []string{"/events", "/activity/live", "/actions/" + a.ID + "/live", "/session/live?id=s1"} {
		if resp, _ := e.do(anon, "GET", path, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without a session: %d", path, resp.StatusCode)
		}
	}
	for _, path := range []string{"/", "/approvals", "/actions/" + a.ID, "/session?id=s1", "/halts", "/nope"} {
		resp, body := e.do(anon, "GET", path, nil)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") || strings.Contains(body, "touched-s1") {
			t.Errorf("GET %s without a session: %d to %q", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// A stolen-looking cookie is no session.
	forged := e.client()
	u, _ := url.Parse(e.srv.URL)
	forged.Jar.SetCookies(u, []*http.Cookie{{Name: console.CookieName, Value: "made-up"}})
	if resp, _ := e.do(forged, "POST", "/approvals/"+a.ID, url.Values{"verdict": {"approve"}, "csrf": {"x"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged cookie: %d", resp.StatusCode)
	}

	c := e.client()
	csrf := e.signIn(c, e.reviewer)
	approve := url.Values{"verdict": {"approve"}}
	for _, tc := range []struct {
		name string
		form url.Values
		hdr  []string
		want int
	}{
		{"no CSRF token", approve, nil, http.StatusForbidden},
		{"wrong CSRF token", url.Values{"verdict": {"approve"}, "csrf": {csrf + "x"}}, nil, http.StatusForbidden},
		{"token in the query only", approve, nil, http.StatusForbidden},
		{"cross-site fetch", url.Values{"verdict": {"approve"}, "csrf": {csrf}}, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"other origin", url.Values{"verdict": {"approve"}, "csrf": {csrf}}, []string{"Origin", "http://evil.example"}, http.StatusForbidden},
	} {
		path := "/approvals/" + a.ID
		if tc.name == "token in the query only" {
			path += "?csrf=" + csrf
		}
		if resp, body := e.do(c, "POST", path, tc.form, tc.hdr...); resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d\n%s", tc.name, resp.StatusCode, tc.want, body)
		}
		if st := e.status(a.ID); st != gatehouse.StatusPending {
			t.Fatalf("%s changed the action: %s", tc.name, st)
		}
	}
	if hs, _ := e.gw.Halts(context.Background(), e.admin); len(hs) != 0 {
		t.Fatalf("a refused request put a halt in force: %v", hs)
	}
	// The same request with the token, from the console's own origin,
	// goes through: the agent runs its command.
	resp, body := e.do(c, "POST", "/approvals/"+a.ID, url.Values{"verdict": {"approve"}, "csrf": {csrf}},
		"Origin", e.srv.URL, "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/approvals" {
		t.Fatalf("approval with the token: %d\n%s", resp.StatusCode, body)
	}
	select {
	case fin := <-done:
		if fin == nil || fin.Status != gatehouse.StatusSucceeded {
			t.Fatalf("the agent's action after approval: %+v", fin)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the approved agent did not finish")
	}
	if _, err := os.Stat(filepath.Join(e.dir, "touched-s1")); err != nil {
		t.Errorf("the approved command did not run: %v", err)
	}
	_, page := e.do(c, "GET", "/approvals", nil)
	if !strings.Contains(page, "Approved "+a.ID) {
		t.Errorf("no confirmation after the approval:\n%s", page)
	}
}

func TestCSRFHeader(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.client()
	csrf := e.signIn(c, "gadm_test")
	resp, body := e.do(c, "POST", "/halts", url.Values{"mode": {"pause"}, "scope": {"agent"}, "name": {"ci"}, "reason": {"look"}},
		"X-CSRF-Token", csrf)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("pause with the CSRF header: %d\n%s", resp.StatusCode, body)
	}
	hs, _ := e.gw.Halts(context.Background(), e.admin)
	if len(hs) != 1 || hs[0].Mode != gatehouse.ModePause || hs[0].Scope.Agent != "ci" || hs[0].By != "admin" {
		t.Fatalf("halts: %+v", hs)
	}
	// The banner shows it on every page, with a resume button.
	for _, p := range []string{"/", "/approvals", "/halts", "/session?id=x"} {
		_, body := e.do(c, "GET", p, nil)
		if !strings.Contains(body, `class="banner pause"`) || !strings.Contains(body, "agent ci") || !strings.Contains(body, "Resume agent ci") {
			t.Errorf("GET %s: no banner for the pause", p)
		}
	}
	resp, _ = e.do(c, "POST", "/resume", url.Values{"scope": {"agent"}, "name": {"ci"}, "csrf": {csrf}})
	if hs, _ := e.gw.Halts(context.Background(), e.admin); resp.StatusCode != http.StatusSeeOther || len(hs) != 0 {
		t.Fatalf("resume: %d, halts %v", resp.StatusCode, hs)
	}
	if _, body := e.do(c, "GET", "/", nil); strings.Contains(body, `class="banner`) {
		t.Errorf("banner still shown after resume")
	}
}

func TestSessionsEnd(t *testing.T) {
	e := newEnv(t, envOpts{})
	signedIn := func(c *http.Client) bool {
		resp, _ := e.do(c, "GET", "/", nil)
		return resp.StatusCode == 200
	}
	// Idle: an hour without use.
	c := e.client()
	e.signIn(c, e.reviewer)
	e.clock.add(59 * time.Minute)
	if !signedIn(c) {
		t.Fatal("signed out before the idle timeout")
	}
	e.clock.add(59 * time.Minute) // used a minute ago... 59 since
	if !signedIn(c) {
		t.Fatal("use did not extend the session")
	}
	e.clock.add(time.Hour)
	if signedIn(c) {
		t.Fatal("still signed in after an hour idle")
	}
	// What a page's script fetches by itself is not use.
	c = e.client()
	e.signIn(c, e.reviewer)
	e.clock.add(59 * time.Minute)
	if resp, _ := e.do(c, "GET", "/activity/live", nil); resp.StatusCode != 200 {
		t.Fatalf("live fragment: %d", resp.StatusCode)
	}
	e.clock.add(2 * time.Minute)
	if signedIn(c) {
		t.Fatal("a live fragment's fetch kept the session from going idle")
	}
	// Age: three hours however busy.
	c = e.client()
	e.signIn(c, e.reviewer)
	for range 5 {
		e.clock.add(30 * time.Minute)
		if !signedIn(c) {
			t.Fatal("signed out while in use before the maximum age")
		}
	}
	e.clock.add(30 * time.Minute)
	if signedIn(c) {
		t.Fatal("still signed in after the maximum age")
	}
	// Revoking the reviewer ends its sessions at once.
	c = e.client()
	e.signIn(c, e.reviewer)
	if err := e.gw.RevokeIdentity(context.Background(), e.admin, "alice", gatehouse.RoleReviewer); err != nil {
		t.Fatal(err)
	}
	if signedIn(c) {
		t.Fatal("a revoked reviewer is still signed in")
	}
	// Signing out ends the session: its cookie no longer works, even
	// replayed.
	c = e.client()
	csrf := e.signIn(c, "gadm_test")
	u, _ := url.Parse(e.srv.URL)
	old := c.Jar.Cookies(u)
	resp, _ := e.do(c, "POST", "/logout", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("sign out: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	replay := e.client()
	replay.Jar.SetCookies(u, old)
	if signedIn(replay) || signedIn(c) {
		t.Fatal("the session survived signing out")
	}
}

// The activity page pages through many actions by cursor: every action
// once, newest first, and back again.
func TestActivityPaging(t *testing.T) {
	e := newEnv(t, envOpts{pageSize: 7})
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var want []string
	for i := range 40 {
		id := fmt.Sprintf("01JPAGE%05d", i)
		at := t0.Add(time.Duration(i/2) * time.Second) // pairs share a time
		sys := "dev"
		if i%3 == 0 {
			sys = "prod"
		}
		req, _ := gatehouse.NewEvent(at, gatehouse.EventActionRequested, id, gatehouse.ActionRequested{
			Agent: "ci", Session: "s", Kind: gatehouse.KindShell, Argv: []string{"true"}, Command: fmt.Sprintf("step %d", i), Cwd: "/", System: sys})
		dec, _ := gatehouse.NewEvent(at, gatehouse.EventActionDecided, id, gatehouse.ActionDecided{
			Decision: gatehouse.DefaultDecision, Analysis: &gatehouse.Analysis{Class: gatehouse.ClassRead, Risk: i}})
		if _, err := e.store.Append(ctx, req, dec); err != nil {
			t.Fatal(err)
		}
		want = append([]string{id}, want...)
	}
	c := e.client()
	e.signIn(c, e.reviewer)
	rowRE := regexp.MustCompile(`<tr data-id="([^"]+)"`)
	older := regexp.MustCompile(`<a href="([^"]+)" rel="next">`)
	newer := regexp.MustCompile(`<a href="([^"]+)" rel="prev">`)
	// walk follows link from start and returns each page's rows (newest
	// first within a page).
	walk := func(start string, link *regexp.Regexp) (pages [][]string) {
		next := start
		for next != "" && len(pages) < 20 {
			resp, body := e.do(c, "GET", strings.ReplaceAll(next, "&amp;", "&"), nil)
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d\n%s", next, resp.StatusCode, body)
			}
			var ids []string
			for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
				ids = append(ids, m[1])
			}
			pages = append(pages, ids)
			next = ""
			if m := link.FindStringSubmatch(body); m != nil {
				next = "/" + m[1]
			}
		}
		return pages
	}
	back := walk("/", older)
	if got := slices.Concat(back...); !slices.Equal(got, want) || len(back) != 6 {
		t.Fatalf("paging back: %d pages\n got %v\nwant %v", len(back), got, want)
	}
	// From the oldest page (two actions) forwards again: the pages come
	// oldest first.
	oldest := "/?before=" + url.QueryEscape(gatehouse.Cursor{Time: t0.Add(time.Second), ID: want[len(want)-3]}.String())
	first := walk(oldest, regexp.MustCompile(`^$`))
	if len(first) != 1 || !slices.Equal(first[0], want[len(want)-2:]) {
		t.Fatalf("the oldest page: %v, want %v", first, want[len(want)-2:])
	}
	_, body := e.do(c, "GET", oldest, nil)
	m := newer.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no link to newer actions")
	}
	fwd := walk("/"+strings.ReplaceAll(m[1], "&amp;", "&"), newer)
	slices.Reverse(fwd)
	if got := slices.Concat(fwd...); !slices.Equal(got, want[:len(want)-2]) {
		t.Fatalf("paging forward:\n got %v\nwant %v", got, want[:len(want)-2])
	}
	// Filters reach the store: system and risk.
	_, body = e.do(c, "GET", "/?system=prod&risk=30", nil)
	ids := rowRE.FindAllStringSubmatch(body, -1)
	if len(ids) != 4 { // prod: i a multiple of 3; risk i ≥ 30: 30, 33, 36, 39
		t.Errorf("system=prod risk≥30: %d rows, want 4", len(ids))
	}
	for _, bad := range []string{"/?risk=200", "/?since=yesterday", "/?before=nonsense", "/?status=done"} {
		if resp, body := e.do(c, "GET", bad, nil); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "EINVALID") {
			t.Errorf("GET %s: %d", bad, resp.StatusCode)
		}
	}
}

// sse reads server-sent events from a signed-in client.
type sse struct {
	resp *http.Response
	r    *bufio.Reader
}

func (e *env) stream(c *http.Client, query string) *sse {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/events?"+query, nil)
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		e.t.Fatalf("GET /events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return &sse{resp: resp, r: bufio.NewReader(resp.Body)}
}

// next returns the next event's name and data; "" at the end of the stream.
func (s *sse) next() (string, string) {
	var name, data string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return "", ""
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && name != "":
			return name, data
		case strings.HasPrefix(line, "event: "):
			name = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		}
	}
}

// until reads events until one named name whose data contains sub.
func (s *sse) until(t *testing.T, name, sub string) string {
	t.Helper()
	for {
		n, d := s.next()
		if n == "" {
			t.Fatalf("stream ended before %s %q", name, sub)
		}
		if n == name && strings.Contains(d, sub) {
			return d
		}
	}
}

func TestLiveEvents(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.client()
	csrf := e.signIn(c, e.reviewer)
	all := e.stream(c, "")
	other := e.stream(c, "agent=someone-else")
	a, err := e.gw.Run(context.Background(), e.agent, gatehouse.RunRequest{Argv: []string{"echo", "hi"}, Cwd: e.dir, Session: "live"}, gateway.Sink{})
	if err != nil {
		t.Fatal(err)
	}
	d := all.until(t, "action", `"status":"succeeded"`)
	for _, want := range []string{`"id":"` + a.ID + `"`, `"match":true`, `"session":"live"`, `data-id=\"` + a.ID + `\"`} {
		if !strings.Contains(d, want) {
			t.Errorf("action event lacks %s: %s", want, d)
		}
	}
	if d := other.until(t, "action", `"status":"succeeded"`); !strings.Contains(d, `"match":false`) {
		t.Errorf("filtered stream marks the action as matching: %s", d)
	}
	// A pending approval is announced, and the count of pending.
	p, done := e.waiting("live")
	if d := all.until(t, "action", p.ID); !strings.Contains(d, `"waiting":true`) {
		t.Errorf("pending action not marked waiting: %s", d)
	}
	all.until(t, "pending", `"count":1`)
	// A halt shows in the banner of every open page.
	if resp, _ := e.do(c, "POST", "/halts", url.Values{"mode": {"halt"}, "scope": {"session"}, "name": {"live"}, "reason": {"stop it"}, "csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("halt: %d", resp.StatusCode)
	}
	all.until(t, "halts", "stop it")
	if fin := <-done; fin == nil || fin.Status != gatehouse.StatusInterrupted {
		t.Errorf("the halt did not cancel the pending action: %+v", fin)
	}
	all.until(t, "pending", `"count":0`)
	// Closing the console (the daemon's shutdown) ends the streams.
	e.web.Close()
	for {
		if n, _ := all.next(); n == "" {
			break
		}
	}
}

// A stream that falls behind the journal is told to reload.
func TestLiveResync(t *testing.T) {
	e := newEnv(t, envOpts{feed: gateway.NewFeed(1)})
	c := e.client()
	e.signIn(c, e.reviewer)
	s := e.stream(c, "")
	// The run's first Append has three events: more than the buffer.
	if _, err := e.gw.Run(context.Background(), e.agent, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: e.dir}, gateway.Sink{}); err != nil {
		t.Fatal(err)
	}
	s.until(t, "resync", "")
	if n, _ := s.next(); n != "" {
		t.Errorf("stream went on after resync: %s", n)
	}
}

func TestPages(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.client()
	csrf := e.signIn(c, "gadm_test")
	ok, err := e.gw.Run(context.Background(), e.agent, gatehouse.RunRequest{Shell: true, Command: "echo out; echo err >&2; exit 3",
		Cwd: e.dir, Session: "pg", Intent: "show the output", System: "box"}, gateway.Sink{})
	if err != nil {
		t.Fatal(err)
	}
	p, done := e.waiting("pg")
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/", []string{ok.ID, p.ID, "echo out", "failed", "pending", `<label for="f-risk">`}},
		{"/approvals", []string{p.ID, "touching files needs a human", "ask-first", "last actions before it", ok.ID, `value="approve"`, `name="remember" value="glob"`, `name="ttl"`}},
		{"/actions/" + ok.ID, []string{"Decision trail", "requested", "decided", "started", "finished", "out\n", "err\n", ok.TraceID, "exit", "3", "box", "show the output", "seq "}},
		{"/actions/" + p.ID, []string{"Review", `value="deny"`, "ask-first"}},
		{"/session?id=pg", []string{"<svg", `class="run s-failed"`, `class="wait"`, "Halt session", ok.ID}},
		{"/halts", []string{"Put in force", `name="no_kill"`, `name="for"`}},
	} {
		resp, body := e.do(c, "GET", tc.path, nil)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d\n%s", tc.path, resp.StatusCode, body)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s lacks %q", tc.path, w)
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: CSP %q", tc.path, csp)
		}
	}
	// A session id is the client's claim: any text, quoted where it goes.
	if _, body := e.do(c, "GET", "/session?id="+url.QueryEscape(`a&b <c>`), nil); !strings.Contains(body, `value="/session?id=a%26b&#43;%3Cc%3E"`) || strings.Contains(body, "<c>") {
		t.Errorf("session id not quoted in the page")
	}
	if resp, _ := e.do(c, "GET", "/actions/nope", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown action: %d", resp.StatusCode)
	}
	if resp, body := e.do(c, "GET", "/static/console.js", nil); resp.StatusCode != 200 || !strings.Contains(body, "EventSource") {
		t.Errorf("static script: %d", resp.StatusCode)
	}
	// Deny from the action's page, with a reason; back to that page.
	resp, _ := e.do(c, "POST", "/approvals/"+p.ID, url.Values{"verdict": {"deny"}, "csrf": {csrf}, "back": {"/actions/" + p.ID}})
	if resp.StatusCode != http.StatusSeeOther || e.status(p.ID) != gatehouse.StatusPending {
		t.Fatalf("deny without a reason: %d, %s", resp.StatusCode, e.status(p.ID))
	}
	if _, body := e.do(c, "GET", "/actions/"+p.ID, nil); !strings.Contains(body, "EINVALID: a denial needs a reason") {
		t.Errorf("the refused denial is not explained")
	}
	resp, _ = e.do(c, "POST", "/approvals/"+p.ID, url.Values{"verdict": {"deny"}, "reason": {"not today"}, "csrf": {csrf}, "back": {"/actions/" + p.ID}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/actions/"+p.ID {
		t.Fatalf("deny: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if fin := <-done; fin == nil || fin.Status != gatehouse.StatusDenied {
		t.Fatalf("the agent after the denial: %+v", fin)
	}
	if _, body := e.do(c, "GET", "/actions/"+p.ID, nil); !strings.Contains(body, "not today") || !strings.Contains(body, "reviewed") {
		t.Errorf("the denial is not in the trail")
	}
}

// Approve and remember, as `gatehouse approve --remember prefix` does: the
// next matching command runs without a review.
func TestApproveRemember(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.client()
	csrf := e.signIn(c, e.reviewer)
	p, done := e.waiting("rem")
	form := url.Values{"verdict": {"approve"}, "remember": {"prefix"}, "pattern": {"touch"}, "ttl": {"2h"}, "scope": {"agent"}, "csrf": {csrf}}
	if resp, body := e.do(c, "POST", "/approvals/"+p.ID, form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve and remember: %d\n%s", resp.StatusCode, body)
	}
	if fin := <-done; fin == nil || fin.Status != gatehouse.StatusSucceeded {
		t.Fatalf("after approval: %+v", fin)
	}
	rules, err := e.gw.LearnedRules(context.Background(), e.admin)
	if err != nil || len(rules) != 1 || rules[0].Match != "prefix" || rules[0].Pattern != "touch" || rules[0].Agent != "ci" || rules[0].CreatedBy != "alice" {
		t.Fatalf("learned rules: %+v, %v", rules, err)
	}
	a, err := e.gw.Run(context.Background(), e.agent, gatehouse.RunRequest{Argv: []string{"touch", filepath.Join(e.dir, "again")}, Cwd: e.dir}, gateway.Sink{})
	if err != nil || a.Status != gatehouse.StatusSucceeded || !strings.HasPrefix(a.Decision.Rule, "learned:") {
		t.Fatalf("the remembered command: %+v, %v", a, err)
	}
}

// Remember choices that do not cover what was approved, or that are not
// choices, are refused with their code and change nothing.
func TestApproveRememberRefused(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.client()
	csrf := e.signIn(c, e.reviewer)
	p, done := e.waiting("bad")
	for _, form := range []url.Values{
		{"remember": {"prefix"}, "pattern": {"rm"}, "ttl": {"1h"}},
		{"remember": {"exact"}, "ttl": {"forever"}},
		{"remember": {"exact"}, "ttl": {"1000h"}},
		{"remember": {"regex"}, "ttl": {"1h"}},
		{"remember": {"exact"}, "ttl": {"1h"}, "scope": {"galaxy"}},
	} {
		form.Set("verdict", "approve")
		form.Set("csrf", csrf)
		if resp, _ := e.do(c, "POST", "/approvals/"+p.ID, form); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%v: %d", form, resp.StatusCode)
		}
		if _, body := e.do(c, "GET", "/approvals", nil); !strings.Contains(body, "EINVALID") {
			t.Errorf("%v: no error shown", form)
		}
		if st := e.status(p.ID); st != gatehouse.StatusPending {
			t.Fatalf("%v changed the action: %s", form, st)
		}
	}
	if rules, _ := e.gw.LearnedRules(context.Background(), e.admin); len(rules) != 0 {
		t.Fatalf("refused approvals learned %v", rules)
	}
	e.do(c, "POST", "/approvals/"+p.ID, url.Values{"verdict": {"deny"}, "reason": {"done"}, "csrf": {csrf}})
	<-done
}
