// Package sqlwhere turns a gatehouse.ActionFilter into the conditions of a
// query on the actions table, for the stores that keep actions in SQL
// (internal/sqlite, internal/postgres): the one place that says which
// column each field of the filter tests. Both stores keep the same
// columns (agent, session, system, status, risk, trace_id, command,
// intent, time as Unix nanoseconds, id in byte order) and indexes ending
// in (time, id), so keyset paging is a row comparison on them.
//
// A new field of ActionFilter is a new condition here, and a case in
// internal/storetest's filter checks, which both stores run.
package sqlwhere

import (
	"math"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// Cond is one condition: Expr with a ? for each of Args.
type Cond struct {
	Expr string
	Args []any
}

// Actions returns the conditions of f but Limit, Oldest and Brief (which
// choose among the matches or shape the result), to be joined with AND.
// contains returns the store's literal, case-sensitive test that column
// contains the ? argument (LIKE would treat % and _ as wildcards, and in
// SQLite fold case).
func Actions(f gatehouse.ActionFilter, contains func(column string) string) []Cond {
	var cs []Cond
	cond := func(expr string, args ...any) { cs = append(cs, Cond{expr, args}) }
	if f.Agent != "" {
		cond("agent = ?", f.Agent)
	}
	if f.Session != "" {
		cond("session = ?", f.Session)
	}
	if f.System != "" {
		cond("system = ?", f.System)
	}
	if f.Status != "" {
		cond("status = ?", string(f.Status))
	}
	if f.MinRisk > 0 {
		cond("risk >= ?", f.MinRisk)
	}
	if f.Trace != "" {
		cond("trace_id = ?", f.Trace)
	}
	if !f.Since.IsZero() {
		cond("time >= ?", Nanos(f.Since))
	}
	if !f.Until.IsZero() {
		cond("time < ?", Nanos(f.Until))
	}
	if f.Grep != "" {
		cond("("+contains("command")+" OR "+contains("intent")+")", f.Grep, f.Grep)
	}
	if !f.Before.IsZero() {
		cond("(time, id) < (?, ?)", Nanos(f.Before.Time), f.Before.ID)
	}
	if !f.After.IsZero() {
		cond("(time, id) > (?, ?)", Nanos(f.After.Time), f.After.ID)
	}
	return cs
}

// Nanos converts a filter bound to Unix nanoseconds, clamping times that
// int64 nanoseconds cannot hold (which UnixNano leaves undefined).
func Nanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)
