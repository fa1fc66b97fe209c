package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
)

// filterForm is the activity page's filter as the form holds it.
type filterForm struct {
	Agent, Session, System, Status, Risk, Since, Until, Q string
}

// liveQuery is the query of /events for the filter: the same conditions,
// without the cursors, so the stream sends what would appear on the
// page.
func (f filterForm) liveQuery() string {
	v := url.Values{}
	for k, s := range map[string]string{"agent": f.Agent, "session": f.Session, "system": f.System,
		"status": f.Status, "risk": f.Risk, "since": f.Since, "until": f.Until, "q": f.Q} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}

// parseFilter reads the activity filter from a query. Time bounds are
// what `gatehouse log --since` takes: a duration before now or an RFC
// 3339 time.
func parseFilter(q url.Values, now time.Time) (filterForm, gatehouse.ActionFilter, error) {
	ff := filterForm{Agent: q.Get("agent"), Session: q.Get("session"), System: q.Get("system"),
		Status: q.Get("status"), Risk: q.Get("risk"), Since: q.Get("since"), Until: q.Get("until"), Q: q.Get("q")}
	f := gatehouse.ActionFilter{Agent: ff.Agent, Session: ff.Session, System: ff.System,
		Status: gatehouse.Status(ff.Status), Grep: ff.Q}
	var err error
	if f.Since, err = gatehouse.ParseTimeBound(ff.Since, now); err != nil {
		return ff, f, err
	}
	if f.Until, err = gatehouse.ParseTimeBound(ff.Until, now); err != nil {
		return ff, f, err
	}
	if ff.Risk != "" {
		if f.MinRisk, err = strconv.Atoi(ff.Risk); err != nil {
			return ff, f, gatehouse.Errorf(gatehouse.EINVALID, "risk %q: give a number from 0 to 100", ff.Risk)
		}
	}
	if f.Before, err = gatehouse.ParseCursor(q.Get("before")); err != nil {
		return ff, f, err
	}
	if f.After, err = gatehouse.ParseCursor(q.Get("after")); err != nil {
		return ff, f, err
	}
	return ff, f, f.Validate()
}

type activityData struct {
	Filter   filterForm
	Statuses []gatehouse.Status
	Rows     []*gatehouse.Action // newest first
	Error    string
	// Newer and Older are the queries of the neighbouring pages ("" when
	// there is none). Live is set on the newest page, where new actions
	// appear at the top as they happen.
	Newer, Older string
	Newest       string // the query of the newest page
	LiveSrc      string // where the live table reloads from
	Live         bool
	PageSize     int
}

var allStatuses = []gatehouse.Status{gatehouse.StatusPending, gatehouse.StatusRunning, gatehouse.StatusSucceeded,
	gatehouse.StatusFailed, gatehouse.StatusDenied, gatehouse.StatusInterrupted}

// activity lists actions, newest first, a page at a time: the page is one
// keyset query (Limit+1 rows, to know whether there are more), however
// many actions the journal holds.
func (s *Server) activity(w http.ResponseWriter, r *http.Request, rq *request) {
	d := activityData{Statuses: allStatuses, PageSize: s.pageSize}
	ff, f, err := parseFilter(r.URL.Query(), s.now())
	d.Filter = ff
	status := http.StatusOK
	if err != nil {
		d.Error = gatehouse.ErrorCode(err) + ": " + gatehouse.ErrorMessage(err)
		status = httpStatus(err)
		// The stream still updates the banner and counts, unfiltered.
		s.render(w, r, rq, status, "activity", &pageData{Title: "Activity", Nav: "activity", Body: d})
		return
	}
	f.Limit = s.pageSize + 1
	forward := !f.After.IsZero() && f.Before.IsZero()
	f.Oldest = forward
	list, err := s.gw.Actions(r.Context(), rq.p, f)
	if err != nil {
		s.fail(w, r, rq, err)
		return
	}
	more := len(list) > s.pageSize
	if more {
		if forward {
			list = list[:s.pageSize]
		} else {
			list = list[1:]
		}
	}
	base := url.Values{}
	if q := ff.liveQuery(); q != "" {
		base, _ = url.ParseQuery(q)
	}
	page := func(k string, c gatehouse.Cursor) string {
		v := url.Values{}
		for key, vals := range base {
			v[key] = vals
		}
		v.Set(k, c.String())
		return "?" + v.Encode()
	}
	if len(list) > 0 {
		oldest, newest := list[0], list[len(list)-1]
		if (!forward && more) || forward {
			// Going back from a page reached forwards, there is always
			// the page we came from.
			d.Older = page("before", oldest.Cursor())
		}
		if (forward && more) || (!forward && !f.Before.IsZero()) {
			d.Newer = page("after", newest.Cursor())
		}
	}
	d.Live = f.Before.IsZero() && f.After.IsZero()
	d.Newest, d.LiveSrc = "/", "/activity/live"
	if q := ff.liveQuery(); q != "" {
		d.Newest, d.LiveSrc = "/?"+q, "/activity/live?"+q
	}
	d.Rows = slices.Clone(list)
	slices.Reverse(d.Rows)
	s.render(w, r, rq, status, "activity", &pageData{Title: "Activity", Nav: "activity", Events: ff.liveQuery(), Body: d})
}

// activityLive is the newest page of the activity table, for a page
// whose live stream (re)opened: what it missed meanwhile.
func (s *Server) activityLive(w http.ResponseWriter, r *http.Request, rq *request) {
	_, f, err := parseFilter(r.URL.Query(), s.now())
	if err != nil {
		http.Error(w, gatehouse.ErrorMessage(err), httpStatus(err))
		return
	}
	f.Before, f.After, f.Limit = gatehouse.Cursor{}, gatehouse.Cursor{}, s.pageSize
	list, err := s.gw.Actions(r.Context(), rq.p, f)
	if err != nil {
		http.Error(w, gatehouse.ErrorMessage(err), httpStatus(err))
		return
	}
	slices.Reverse(list)
	s.fragment(w, r, "activity", "table", list)
}

func httpStatus(err error) int {
	switch gatehouse.ErrorCode(err) {
	case gatehouse.EINVALID:
		return http.StatusBadRequest
	case gatehouse.ENOTFOUND:
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// pendingItem is one action waiting for review, with what a reviewer
// needs to judge it.
type pendingItem struct {
	A *gatehouse.Action
	// Before are the agent's last actions before this one, newest first.
	Before   []*gatehouse.Action
	Deadline time.Time
}

// lastBefore is how many of an agent's earlier actions a pending
// approval shows.
const lastBefore = 5

func (s *Server) approvals(w http.ResponseWriter, r *http.Request, rq *request) {
	list, err := s.gw.Pending(r.Context(), rq.p)
	if err != nil {
		s.fail(w, r, rq, err)
		return
	}
	items := make([]pendingItem, 0, len(list))
	for _, a := range list {
		it, err := s.pendingItem(r, rq, a)
		if err != nil {
			s.fail(w, r, rq, err)
			return
		}
		items = append(items, it)
	}
	s.render(w, r, rq, http.StatusOK, "approvals", &pageData{Title: "Approvals", Nav: "approvals", Body: items})
}

func (s *Server) pendingItem(r *http.Request, rq *request, a *gatehouse.Action) (pendingItem, error) {
	before, err := s.gw.Actions(r.Context(), rq.p, gatehouse.ActionFilter{Agent: a.Agent, Before: a.Cursor(), Limit: lastBefore})
	if err != nil {
		return pendingItem{}, err
	}
	slices.Reverse(before)
	return pendingItem{A: a, Before: before, Deadline: deadline(a)}, nil
}

// deadline is when a pending approval runs out (as the gateway reckons
// it: the request time plus the rule's timeout, or the escalation's end).
func deadline(a *gatehouse.Action) time.Time {
	if a.EscalatedUntil != nil {
		return *a.EscalatedUntil
	}
	t := time.Duration(a.Decision.TimeoutMS) * time.Millisecond
	if t <= 0 {
		t = gateway.DefaultApprovalTimeout
	}
	return a.Time.Add(t)
}

// review records an approval or a denial from the form of an approval
// card or an action's page, with the "remember" choices of `gatehouse
// approve --remember`.
func (s *Server) review(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	back := localPath(r.PostForm.Get("back"), "/approvals")
	verdict := r.PostForm.Get("verdict")
	var rem *gatehouse.Remember
	var ttl time.Duration
	if m := r.PostForm.Get("remember"); m != "" && m != "none" {
		if verdict != gatehouse.VerdictApprove {
			s.finish(w, r, rq, back, gatehouse.Errorf(gatehouse.EINVALID, "only an approval can be remembered"), "")
			return
		}
		var err error
		ttl, err = time.ParseDuration(strings.TrimSpace(r.PostForm.Get("ttl")))
		if err != nil {
			s.finish(w, r, rq, back, gatehouse.Errorf(gatehouse.EINVALID, "remember for how long? give a duration such as 1h or 24h"), "")
			return
		}
		rem = &gatehouse.Remember{Match: m, TTL: ttl.String(), Scope: r.PostForm.Get("scope"), Pattern: r.PostForm.Get("pattern")}
	}
	a, err := s.gw.Review(r.Context(), rq.p, id, verdict, gatehouse.ReviewRequest{Reason: r.PostForm.Get("reason"), Remember: rem})
	if err != nil {
		s.finish(w, r, rq, back, err, "")
		return
	}
	msg := "Denied " + id + "."
	if verdict == gatehouse.VerdictApprove {
		msg = "Approved " + id + "."
		if a.Approved() < a.ApprovalsNeeded() {
			msg = "Approved " + id + ": " + strconv.Itoa(a.Approved()) + " of " + strconv.Itoa(a.ApprovalsNeeded()) + " approvals."
		}
		if rem != nil {
			msg += " Remembered as a " + rem.Match + " rule for " + ttl.String() + "."
		}
	}
	s.finish(w, r, rq, back, nil, msg)
}

// actionData is an action's page.
type actionData struct {
	A      *gatehouse.Action
	Events []gatehouse.Event
	Item   *pendingItem // when it waits for review
	Now    time.Time
}

func (s *Server) actionData(r *http.Request, rq *request, id string) (*actionData, error) {
	a, err := s.gw.Action(r.Context(), rq.p, id)
	if err != nil {
		return nil, err
	}
	evs, err := s.gw.ActionEvents(r.Context(), rq.p, id)
	if err != nil {
		return nil, err
	}
	d := &actionData{A: a, Events: evs, Now: s.now()}
	if a.Status == gatehouse.StatusPending && a.Decision.Effect == gatehouse.EffectReview && a.Approved() < a.ApprovalsNeeded() {
		it, err := s.pendingItem(r, rq, a)
		if err != nil {
			return nil, err
		}
		d.Item = &it
	}
	return d, nil
}

func (s *Server) action(w http.ResponseWriter, r *http.Request, rq *request) {
	d, err := s.actionData(r, rq, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, rq, err)
		return
	}
	s.render(w, r, rq, http.StatusOK, "action", &pageData{Title: "Action " + d.A.ID, Nav: "activity", Body: d})
}

// actionLive is the changing part of an action's page.
func (s *Server) actionLive(w http.ResponseWriter, r *http.Request, rq *request) {
	d, err := s.actionData(r, rq, r.PathValue("id"))
	if err != nil {
		http.Error(w, gatehouse.ErrorMessage(err), httpStatus(err))
		return
	}
	s.fragment(w, r, "action", "detail", &pageData{CSRF: rq.sess.csrf, Now: s.now(), Body: d})
}

// sessionLimit is how many of a session's actions its timeline shows
// (the newest).
const sessionLimit = 500

type sessionData struct {
	ID       string
	Timeline timeline
	Rows     []*gatehouse.Action // newest first
	Cut      bool                // older actions left out
	Halted   bool                // a halt or pause names this session
}

func (s *Server) sessionData(r *http.Request, rq *request) (*sessionData, error) {
	id := r.URL.Query().Get("id")
	if id == "" {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "which session? (?id=…)")
	}
	list, err := s.gw.Actions(r.Context(), rq.p, gatehouse.ActionFilter{Session: id, Limit: sessionLimit + 1})
	if err != nil {
		return nil, err
	}
	d := &sessionData{ID: id}
	if len(list) > sessionLimit {
		list, d.Cut = list[1:], true
	}
	d.Timeline = layout(list, s.now())
	d.Rows = slices.Clone(list)
	slices.Reverse(d.Rows)
	hs, _ := s.gw.Halts(r.Context(), rq.p)
	for _, h := range hs {
		if h.Scope.Session == id {
			d.Halted = true
		}
	}
	return d, nil
}

func (s *Server) session(w http.ResponseWriter, r *http.Request, rq *request) {
	d, err := s.sessionData(r, rq)
	if err != nil {
		s.fail(w, r, rq, err)
		return
	}
	s.render(w, r, rq, http.StatusOK, "session", &pageData{Title: "Session " + d.ID, Nav: "activity",
		Events: url.Values{"session": {d.ID}}.Encode(), Body: d})
}

func (s *Server) sessionLive(w http.ResponseWriter, r *http.Request, rq *request) {
	d, err := s.sessionData(r, rq)
	if err != nil {
		http.Error(w, gatehouse.ErrorMessage(err), httpStatus(err))
		return
	}
	s.fragment(w, r, "session", "timeline", &pageData{CSRF: rq.sess.csrf, Now: s.now(), Body: d})
}

type haltsData struct {
	Running int
	Held    int
	// Prefill of the form, from links such as "halt this agent".
	Scope, Name string
}

func (s *Server) haltsPage(w http.ResponseWriter, r *http.Request, rq *request) {
	st, err := s.gw.Status(r.Context(), rq.p)
	if err != nil {
		s.fail(w, r, rq, err)
		return
	}
	d := haltsData{Running: len(st.Running), Held: st.Held, Scope: "all"}
	q := r.URL.Query()
	if v := q.Get("agent"); v != "" {
		d.Scope, d.Name = "agent", v
	} else if v := q.Get("session"); v != "" {
		d.Scope, d.Name = "session", v
	}
	s.render(w, r, rq, http.StatusOK, "halts", &pageData{Title: "Halts", Nav: "halts", Body: d})
}

// scopeOf reads a scope from a form: scope=all|agent|session and name.
func scopeOf(form url.Values) (gatehouse.Scope, error) {
	name := strings.TrimSpace(form.Get("name"))
	switch form.Get("scope") {
	case "all":
		return gatehouse.Scope{All: true}, nil
	case "agent":
		if name != "" {
			return gatehouse.Scope{Agent: name}, nil
		}
	case "session":
		if name != "" {
			return gatehouse.Scope{Session: name}, nil
		}
	default:
		return gatehouse.Scope{}, gatehouse.Errorf(gatehouse.EINVALID, "scope: choose all agents, an agent or a session")
	}
	return gatehouse.Scope{}, gatehouse.Errorf(gatehouse.EINVALID, "name the %s", form.Get("scope"))
}

func (s *Server) halt(w http.ResponseWriter, r *http.Request, rq *request) {
	back := localPath(r.PostForm.Get("back"), "/halts")
	scope, err := scopeOf(r.PostForm)
	if err != nil {
		s.finish(w, r, rq, back, err, "")
		return
	}
	h, err := s.gw.Halt(r.Context(), rq.p, gatehouse.HaltRequest{
		Mode: gatehouse.HaltMode(r.PostForm.Get("mode")), Scope: scope, Reason: r.PostForm.Get("reason"),
		NoKill: r.PostForm.Get("no_kill") != "", For: strings.TrimSpace(r.PostForm.Get("for")),
	})
	if err != nil {
		s.finish(w, r, rq, back, err, "")
		return
	}
	msg := strings.ToUpper(string(h.Mode[:1])) + string(h.Mode[1:]) + " of " + h.Scope.String() + " in force (" + h.ID + ")."
	if len(h.Killed) > 0 {
		msg += " Killed " + strconv.Itoa(len(h.Killed)) + " running."
	}
	if len(h.Cancelled) > 0 {
		msg += " Cancelled " + strconv.Itoa(len(h.Cancelled)) + " pending."
	}
	s.finish(w, r, rq, back, nil, msg)
}

func (s *Server) resume(w http.ResponseWriter, r *http.Request, rq *request) {
	back := localPath(r.PostForm.Get("back"), "/halts")
	scope, err := scopeOf(r.PostForm)
	if err != nil {
		s.finish(w, r, rq, back, err, "")
		return
	}
	lifted, err := s.gw.Resume(r.Context(), rq.p, scope)
	if err != nil {
		s.finish(w, r, rq, back, err, "")
		return
	}
	s.finish(w, r, rq, back, nil, "Resumed "+scope.String()+": lifted "+strconv.Itoa(len(lifted))+".")
}
