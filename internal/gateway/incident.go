package gateway

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/report"
)

// Incident builds the incident report of q's window (see internal/report):
// the actions requested in it, at most gatehouse.MaxLimit of them (the
// newest; the report says so if there were more), the halts in force
// during it and the session events in it, and the actions its halts name
// from outside it.
//
// Errors: EFORBIDDEN unless p may read the journal; EINVALID if q.Until is
// before q.Since; EUNAVAILABLE if the store cannot be read.
func (g *Gateway) Incident(ctx context.Context, p gatehouse.Principal, q report.Query) (*report.Report, error) {
	if err := requireReader(p); err != nil {
		return nil, err
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "until (%s) is before since (%s)",
			q.Until.UTC().Format(time.RFC3339Nano), q.Since.UTC().Format(time.RFC3339Nano))
	}
	now := g.now()
	f := gatehouse.ActionFilter{Since: q.Since, Until: q.Until, Agent: q.Agent, Session: q.Session, Limit: gatehouse.MaxLimit, Brief: true}
	acts, err := g.actionsInParts(ctx, f, now)
	if err != nil {
		return nil, err
	}
	in := &report.Input{Query: q, Now: now, Actions: acts, Related: map[string]*gatehouse.Action{}}
	if len(acts) == gatehouse.MaxLimit {
		// Full: is there an older one the window holds?
		older := f
		older.Until, older.Limit = acts[0].Time, 1
		more, err := g.store.Actions(ctx, older)
		if err != nil {
			return nil, err
		}
		in.Truncated = len(more) > 0
	}
	types := []gatehouse.EventType{gatehouse.EventHaltIssued, gatehouse.EventHaltLifted, gatehouse.EventSession}
	err = g.store.EventsOfType(ctx, types, func(e gatehouse.Event) error {
		// Every halt event (a halt in force in the window may have been
		// issued long before it); session events of the window only.
		if e.Type != gatehouse.EventSession || ((q.Since.IsZero() || !e.Time.Before(q.Since)) && (q.Until.IsZero() || e.Time.Before(q.Until))) {
			in.Events = append(in.Events, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(acts))
	for _, a := range acts {
		have[a.ID] = true
	}
	for _, id := range report.HaltActions(in.Events, q) {
		if have[id] {
			continue
		}
		a, err := g.store.Action(ctx, id)
		switch gatehouse.ErrorCode(err) {
		case "":
			in.Related[id] = a
		case gatehouse.ENOTFOUND:
			// Named by a halt but not in the projection: the report shows
			// the id alone; verify says why.
		default:
			return nil, err
		}
	}
	return report.Build(in), nil
}

// actionsInParts is Store.Actions(f) — the newest f.Limit matches, oldest
// first — read as several queries over consecutive slices of the window,
// run at once: a report reads up to 100,000 actions, and one query reads
// its rows on one connection, so one core. Each slice returns at most
// f.Limit; joined in order, the newest f.Limit of them are the answer (a
// full slice has every newer slice after it, so nothing between is
// missed). Without a lower bound there is nothing to slice.
func (g *Gateway) actionsInParts(ctx context.Context, f gatehouse.ActionFilter, now time.Time) ([]*gatehouse.Action, error) {
	end := now
	if !f.Until.IsZero() {
		end = f.Until
	}
	if f.Limit == 0 {
		f.Limit = gatehouse.DefaultLimit
	}
	parts := min(runtime.GOMAXPROCS(0), 4)
	if f.Since.IsZero() || !end.After(f.Since) || parts < 2 {
		return g.store.Actions(ctx, f)
	}
	step := end.Sub(f.Since) / time.Duration(parts)
	results := make([][]*gatehouse.Action, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := range parts {
		pf := f
		pf.Since = f.Since.Add(time.Duration(i) * step)
		if i < parts-1 {
			pf.Until = f.Since.Add(time.Duration(i+1) * step)
		} // the last slice keeps f.Until, open or not
		wg.Go(func() { results[i], errs[i] = g.store.Actions(ctx, pf) })
	}
	wg.Wait()
	var all []*gatehouse.Action
	for i := range parts {
		if errs[i] != nil {
			return nil, errs[i]
		}
		all = append(all, results[i]...)
	}
	if len(all) > f.Limit {
		all = all[len(all)-f.Limit:]
	}
	return all, nil
}
