package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// keepAlive is how often an idle stream sends a comment, so that proxies
// and the browser see it is alive.
const keepAlive = 15 * time.Second

// liveAction is the data of an "action" event: enough for a page to
// update what it shows of the action, and the row of the activity table
// rendered by the same template as the page's rows.
type liveAction struct {
	ID      string `json:"id"`
	Session string `json:"session"`
	Agent   string `json:"agent"`
	Status  string `json:"status"`
	// Match says whether the action passes the stream's filter: only
	// those are added to an activity table; the others update a row that
	// a page shows already, if any.
	Match bool `json:"match"`
	// Waiting is set while it waits for a reviewer.
	Waiting bool   `json:"waiting"`
	Row     string `json:"row"`
}

// events is the live stream (server-sent events) every page listens to:
//
//	event: action   data: liveAction, for each action whose events were journaled
//	event: halts    data: {"banner": HTML} when a halt or pause begins or ends
//	event: pending  data: {"count": N} when the number of pending approvals may have changed
//	event: resync   the stream fell behind the journal: reload
//
// Its query takes the activity filter (agent, session, system, status,
// risk, since, until, q); actions are marked with whether they match it.
func (s *Server) events(w http.ResponseWriter, r *http.Request, rq *request) {
	_, f, err := parseFilter(r.URL.Query(), s.now())
	if err != nil {
		http.Error(w, gatehouse.ErrorMessage(err), http.StatusBadRequest)
		return
	}
	f.Before, f.After = gatehouse.Cursor{}, gatehouse.Cursor{}
	ch, err := s.gw.Subscribe(r.Context(), rq.p)
	if err != nil {
		http.Error(w, gatehouse.ErrorMessage(err), http.StatusForbidden)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event string, data any) bool {
		b, err := json.Marshal(data)
		if err != nil {
			return false
		}
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// retry: how soon the browser reconnects if the stream breaks.
	if _, err := fmt.Fprint(w, "retry: 1000\n\n"); err != nil || rc.Flush() != nil {
		return
	}
	// The state as of now, subscribed already: what changed between the
	// page's rendering and this stream's start is not lost. (The page
	// also reloads its live parts when the stream opens.)
	if !s.sendState(r, rq, true, true, send) {
		return
	}
	tick := time.NewTicker(s.keepAlive)
	defer tick.Stop()
	for {
		var batch []gatehouse.Event
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-tick.C:
			if !s.stillSignedIn(r, rq) {
				send("signedout", struct{}{})
				return
			}
			_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
			continue
		case e, ok := <-ch:
			if !ok {
				if r.Context().Err() == nil {
					send("resync", struct{}{}) // dropped: it fell behind
				}
				return
			}
			batch = append(batch, e)
		}
		// Take whatever else is waiting, so that a burst is one round of
		// reads: each action once, the counts once.
	more:
		for {
			select {
			case e, ok := <-ch:
				if !ok {
					break more
				}
				batch = append(batch, e)
			default:
				break more
			}
		}
		if !s.sendBatch(r, rq, f, batch, send) {
			return
		}
	}
}

// stillSignedIn reports whether a stream's session is still live and its
// token still valid (not revoked).
func (s *Server) stillSignedIn(r *http.Request, rq *request) bool {
	if !s.ss.alive(rq.sess) {
		return false
	}
	p, err := s.gw.Authenticate(r.Context(), rq.sess.token)
	return (err == nil && p.Role.CanReview()) || gatehouse.ErrorCode(err) == gatehouse.EUNAVAILABLE
}

func (s *Server) sendBatch(r *http.Request, rq *request, f gatehouse.ActionFilter, batch []gatehouse.Event, send func(string, any) bool) bool {
	var ids []string
	seen := map[string]bool{}
	halts, reviews := false, false
	for _, e := range batch {
		switch {
		case e.Type.IsAction():
			if !seen[e.Subject] {
				seen[e.Subject] = true
				ids = append(ids, e.Subject)
			}
			// What changes the list of pending approvals.
			switch e.Type {
			case gatehouse.EventActionDecided, gatehouse.EventActionReviewed, gatehouse.EventActionFinished,
				gatehouse.EventActionStarted, gatehouse.EventActionEscalated:
				reviews = true
			}
		case e.Type == gatehouse.EventHaltIssued || e.Type == gatehouse.EventHaltLifted:
			halts = true
		}
	}
	if !s.sendState(r, rq, halts, false, send) {
		return false
	}
	for _, id := range ids {
		a, err := s.gw.Action(r.Context(), rq.p, id)
		if err != nil {
			continue // not readable now; the next event of it will tell
		}
		var buf bytes.Buffer
		if err := s.pages["activity"].ExecuteTemplate(&buf, "row", a); err != nil {
			s.log.Error("console: rendering a row failed", "err", err)
			continue
		}
		la := liveAction{ID: a.ID, Session: a.Session, Agent: a.Agent, Status: string(a.Status), Match: f.Match(a),
			Waiting: a.Status == gatehouse.StatusPending && a.Decision.Effect == gatehouse.EffectReview, Row: buf.String()}
		if !send("action", la) {
			return false
		}
	}
	return s.sendState(r, rq, false, reviews, send)
}

// sendState sends the banner of the halts in force and the number of
// pending approvals, as asked.
func (s *Server) sendState(r *http.Request, rq *request, halts, pending bool, send func(string, any) bool) bool {
	if halts {
		hs, err := s.gw.Halts(r.Context(), rq.p)
		if err == nil {
			var buf bytes.Buffer
			if err := s.pages["activity"].ExecuteTemplate(&buf, "banner", &pageData{Halts: hs, CSRF: rq.sess.csrf}); err == nil {
				if !send("halts", map[string]string{"banner": buf.String()}) {
					return false
				}
			}
		}
	}
	if pending {
		if pend, err := s.gw.Pending(r.Context(), rq.p); err == nil {
			if !send("pending", map[string]int{"count": len(pend)}) {
				return false
			}
		}
	}
	return true
}
