package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"io"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// session is one signed-in browser. It lives in memory only: a restart of
// the daemon signs everyone out.
type session struct {
	// token is the reviewer's or admin's token the session was opened
	// with. Every request authenticates it again, so revoking the token
	// ends its sessions at once. It never leaves the process.
	token     string
	key       string // its key in sessions.m
	principal gatehouse.Principal
	csrf      string // sent with every change, compared in constant time
	created   time.Time
	seen      time.Time
	flash     *flash // shown once, on the next page
}

// flash is a one-line result of a change, shown on the page after it.
type flash struct {
	Text  string
	Error bool
}

// sessions holds the sessions by the SHA-256 of their cookie value, so
// that neither a map lookup's timing nor a memory dump gives out a
// usable cookie.
type sessions struct {
	mu     sync.Mutex
	m      map[string]*session
	now    func() time.Time
	idle   time.Duration // a session unused this long ends
	maxAge time.Duration // no session lasts longer
}

func newSessions(now func() time.Time, idle, maxAge time.Duration) *sessions {
	return &sessions{m: map[string]*session{}, now: now, idle: idle, maxAge: maxAge}
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		panic("console: crypto/rand failed: " + err.Error()) // nothing is safe without randomness
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func key(cookie string) string {
	h := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(h[:])
}

// create opens a session for p and returns its cookie value.
func (ss *sessions) create(token string, p gatehouse.Principal) (string, *session) {
	now := ss.now()
	cookie := randomToken()
	s := &session{token: token, key: key(cookie), principal: p, csrf: randomToken(), created: now, seen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k, old := range ss.m { // sweep: sign-ins are rare, sessions few
		if ss.expired(old, now) {
			delete(ss.m, k)
		}
	}
	ss.m[s.key] = s
	return cookie, s
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.seen) >= ss.idle || now.Sub(s.created) >= ss.maxAge
}

// get returns the live session of a cookie, or nil; with use, it counts
// as used (the idle timeout starts again). An expired session is removed.
func (ss *sessions) get(cookie string, use bool) *session {
	if cookie == "" {
		return nil
	}
	k := key(cookie)
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[k]
	if s == nil {
		return nil
	}
	if ss.expired(s, now) {
		delete(ss.m, k)
		return nil
	}
	if use {
		s.seen = now
	}
	return s
}

// alive reports whether s is still signed in, without counting this as
// a use: an open page's live stream does not keep a session from going
// idle.
func (ss *sessions) alive(s *session) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m[s.key] != s {
		return false
	}
	if ss.expired(s, ss.now()) {
		delete(ss.m, s.key)
		return false
	}
	return true
}

// end removes the session of a cookie, if any.
func (ss *sessions) end(cookie string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, key(cookie))
}

// setFlash and takeFlash pass a message from a change to the next page.
func (ss *sessions) setFlash(s *session, f flash) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s.flash = &f
}

func (ss *sessions) takeFlash(s *session) *flash {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	f := s.flash
	s.flash = nil
	return f
}

// checkCSRF reports whether got is the session's CSRF token.
func (s *session) checkCSRF(got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}
