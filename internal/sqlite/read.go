package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	sjson "github.com/segmentio/encoding/json"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sqlwhere"
)

const (
	actionCols = "id, time, agent, session, status, command, intent, system, risk, trace_id, doc, outputs"
	// briefCols are actionCols without the outputs (ActionFilter.Brief).
	briefCols = "id, time, agent, session, status, command, intent, system, risk, trace_id, doc, NULL"
	agentCols = "name, token_hash, created_at, revoked_at, doc"
	eventCols = "seq, time, type, subject, data, prev_hash, hash"
)

type scanner interface{ Scan(dest ...any) error }

// scanAction reads a row of actionCols. The doc is decoded and then the
// fields that have columns are overwritten from them: the columns are
// what queries filter on, so a reader must see them too, and Verify, which
// compares what readers see with a projection rebuilt from the journal,
// then catches an edit to either the doc or a column.
func scanAction(sc scanner) (*gatehouse.Action, error) {
	var c actionRow
	if err := sc.Scan(c.dest(&c.doc, &c.out)...); err != nil {
		return nil, err
	}
	return c.decode()
}

// scanActionRows is scanAction for *sql.Rows, decoding the doc in place
// instead of copying it.
func scanActionRows(rows *sql.Rows) (*gatehouse.Action, error) {
	var c actionRow
	var doc, out sql.RawBytes
	if err := rows.Scan(c.dest(&doc, &out)...); err != nil {
		return nil, err
	}
	c.doc, c.out = doc, out
	return c.decode()
}

type actionRow struct {
	id, agent, session, status, command, intent, system, trace string
	time, risk                                                 int64
	doc, out                                                   []byte // out: NULL for rows written before migration 6, and brief reads
}

// dest returns the scan destinations of actionCols, with doc and out for
// the last two.
func (c *actionRow) dest(doc, out any) []any {
	return []any{&c.id, &c.time, &c.agent, &c.session, &c.status, &c.command, &c.intent, &c.system, &c.risk, &c.trace, doc, out}
}

func (c *actionRow) decode() (*gatehouse.Action, error) { return c.decodeFlags(0) }

// decodeOwned is decode for a row whose doc is its own copy, never
// reused: the action's strings may then point into it instead of being
// copied out, which spares most of a large read's allocations.
func (c *actionRow) decodeOwned() (*gatehouse.Action, error) { return c.decodeFlags(sjson.ZeroCopy) }

// decodeBrief is decodeOwned for a Brief read: the analysis's commands are
// skipped as they are parsed, not decoded and dropped.
func (c *actionRow) decodeBrief() (*gatehouse.Action, error) {
	a := new(gatehouse.Action)
	d := briefDoc{Action: a}
	return c.finish(a, &d, sjson.ZeroCopy, func() {
		if d.Analysis != nil {
			a.Analysis = &gatehouse.Analysis{Class: d.Analysis.Class, Risk: d.Analysis.Risk, Reasons: d.Analysis.Reasons,
				Targets: d.Analysis.Targets, ParseError: d.Analysis.ParseError}
		}
		brief(a) // rows written before migration 6 have their outputs in doc
	})
}

// briefDoc decodes a document into Action, but for its analysis, whose
// commands it leaves out (its Analysis field hides the Action's).
type briefDoc struct {
	*gatehouse.Action
	Analysis *struct {
		Class      gatehouse.Class `json:"class"`
		Risk       int             `json:"risk"`
		Reasons    []string        `json:"reasons"`
		Targets    []string        `json:"targets,omitempty"`
		ParseError string          `json:"parse_error,omitempty"`
	} `json:"analysis,omitempty"`
}

func (c *actionRow) decodeFlags(flags sjson.ParseFlags) (*gatehouse.Action, error) {
	a := new(gatehouse.Action)
	return c.finish(a, a, flags, nil)
}

// finish decodes the row's doc into into (a, or what wraps it), its
// outputs into a, runs then, and sets the fields that have columns.
func (c *actionRow) finish(a *gatehouse.Action, into any, flags sjson.ParseFlags, then func()) (*gatehouse.Action, error) {
	// Decoding the documents is most of what a large read costs (an
	// incident report reads 100,000): segmentio's decoder, already linked
	// in through the MCP SDK, does it in about a third of the time of
	// encoding/json, with the same results for what encoding/json wrote.
	// Without ZeroCopy, strings and raw messages are copied, not aliased
	// to doc (which may be a driver buffer about to be reused).
	rest, err := sjson.Parse(c.doc, into, flags)
	if err == nil && len(bytes.TrimSpace(rest)) > 0 {
		err = errors.New("trailing data after the document")
	}
	if err == nil && len(c.out) > 0 {
		var o outputs
		if _, err = sjson.Parse(c.out, &o, flags); err == nil {
			a.Argv, a.Stdout, a.Stderr, a.Response, a.Input = o.Argv, o.Stdout, o.Stderr, o.Response, o.Input
		}
	}
	if err != nil {
		return nil, gatehouse.WrapError(gatehouse.EINTERNAL, "sqlite.decodeAction", err, "action "+c.id+": stored document is corrupt")
	}
	if then != nil {
		then()
	}
	a.ID = c.id
	a.Time = time.Unix(0, c.time).UTC()
	a.Agent = c.agent
	a.Session = c.session
	a.Status = gatehouse.Status(c.status)
	a.Command = c.command
	a.Intent = c.intent
	a.System = c.system
	a.TraceID = c.trace
	switch {
	case a.Analysis != nil:
		a.Analysis.Risk = int(c.risk)
	case c.risk != 0:
		// A risk without an analysis is not something Apply makes: show
		// it, so that Verify reports the row.
		a.Analysis = &gatehouse.Analysis{Risk: int(c.risk)}
	}
	return a, nil
}

// outputs are the fields of an action kept in the outputs column: what can
// be large.
type outputs struct {
	Argv     []string        `json:"argv,omitempty"`
	Stdout   string          `json:"stdout,omitempty"`
	Stderr   string          `json:"stderr,omitempty"`
	Response string          `json:"response,omitempty"`
	Input    json.RawMessage `json:"input,omitempty"`
}

// marshalAction encodes a's row: doc, the action without its outputs, and
// out, its outputs (nil if it has none).
func marshalAction(a *gatehouse.Action) (doc, out []byte, err error) {
	o := outputs{Argv: a.Argv, Stdout: a.Stdout, Stderr: a.Stderr, Response: a.Response, Input: a.Input}
	if o.Argv != nil || o.Stdout != "" || o.Stderr != "" || o.Response != "" || len(o.Input) > 0 {
		if out, err = json.Marshal(&o); err != nil {
			return nil, nil, err
		}
	}
	rest := *a
	brief(&rest)
	doc, err = json.Marshal(&rest)
	return doc, out, err
}

// brief empties what ActionFilter.Brief leaves out.
func brief(a *gatehouse.Action) {
	a.Argv, a.Stdout, a.Stderr, a.Response, a.Input = nil, "", "", "", nil
}

// scanAgent reads a row of agentCols; like scanAction, the columns win
// over the doc.
func scanAgent(sc scanner) (*gatehouse.Agent, error) {
	var (
		name, hash string
		created    int64
		revoked    sql.NullInt64
		doc        []byte
	)
	if err := sc.Scan(&name, &hash, &created, &revoked, &doc); err != nil {
		return nil, err
	}
	g := new(gatehouse.Agent)
	if err := json.Unmarshal(doc, g); err != nil {
		return nil, gatehouse.WrapError(gatehouse.EINTERNAL, "sqlite.decodeAgent", err, "agent "+name+": stored document is corrupt")
	}
	g.Name = name
	g.TokenHash = hash
	g.CreatedAt = time.Unix(0, created).UTC()
	g.RevokedAt = nil
	if revoked.Valid {
		t := time.Unix(0, revoked.Int64).UTC()
		g.RevokedAt = &t
	}
	return g, nil
}

// Action returns the action with the given id, or ENOTFOUND.
func (s *Store) Action(ctx context.Context, id string) (*gatehouse.Action, error) {
	a, err := scanAction(s.rdb.QueryRowContext(ctx, "SELECT "+actionCols+" FROM actions WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "action %s not found", id)
	}
	if err != nil {
		return nil, readErr(ctx, "sqlite.Action", err)
	}
	return a, nil
}

// Actions returns the actions that match f, as gatehouse.ActionFilter
// defines it: f.Limit of them (DefaultLimit if 0), the newest or with
// f.Oldest the oldest, listed oldest first. It returns EINVALID if
// f.Validate does.
//
// Every condition is a column, and the order (time, id) ends every index,
// so SQLite walks one index in order and stops after f.Limit rows that
// match; see migrations/ for which filters have an index of their own.
func (s *Store) Actions(ctx context.Context, f gatehouse.ActionFilter) ([]*gatehouse.Action, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit == 0 {
		limit = gatehouse.DefaultLimit
	}

	var (
		q    strings.Builder
		args []any
		and  = " WHERE "
	)
	cols := actionCols
	if f.Brief {
		cols = briefCols
	}
	q.WriteString("SELECT " + cols + " FROM actions")
	// Keyset paging (Before, After) is a row value comparison, which SQLite
	// turns into a range on the (…, time, id) index; id compares with the
	// default BINARY collation: byte order, as Cursor.Compare has it.
	for _, c := range sqlwhere.Actions(f, func(col string) string { return "instr(" + col + ", ?) > 0" }) {
		q.WriteString(and)
		q.WriteString(c.Expr)
		and = " AND "
		args = append(args, c.Args...)
	}
	// The end of the order that LIMIT keeps comes first; the newest-first
	// result is reversed below.
	if f.Oldest {
		q.WriteString(" ORDER BY time, id LIMIT ?")
	} else {
		q.WriteString(" ORDER BY time DESC, id DESC LIMIT ?")
	}
	args = append(args, limit)

	rows, err := s.rdb.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, readErr(ctx, "sqlite.Actions", err)
	}
	defer rows.Close()
	// Read the rows first and decode them after, in parallel: decoding
	// the JSON documents is most of the time a large result takes.
	var rs []actionRow
	for rows.Next() {
		var c actionRow
		if err := rows.Scan(c.dest(&c.doc, &c.out)...); err != nil {
			return nil, readErr(ctx, "sqlite.Actions", err)
		}
		rs = append(rs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, readErr(ctx, "sqlite.Actions", err)
	}
	rows.Close() // return the connection to the pool before decoding
	as, err := decodeActions(rs, f.Brief)
	if err != nil {
		return nil, err
	}
	if !f.Oldest {
		slices.Reverse(as)
	}
	return as, nil
}

// decodeActions decodes rows, spreading a large result over the CPUs.
func decodeActions(rs []actionRow, brief bool) ([]*gatehouse.Action, error) {
	as := make([]*gatehouse.Action, len(rs))
	errs := make([]error, len(rs))
	decode := func(k, n int) {
		for i := k; i < len(rs); i += n {
			if brief {
				as[i], errs[i] = rs[i].decodeBrief()
			} else {
				as[i], errs[i] = rs[i].decodeOwned()
			}
		}
	}
	n := min(runtime.GOMAXPROCS(0), len(rs)/64+1)
	if n <= 1 {
		decode(0, 1)
	} else {
		var wg sync.WaitGroup
		for k := range n {
			wg.Go(func() { decode(k, n) })
		}
		wg.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return as, nil
}

// Running returns every pending or running action, oldest first.
func (s *Store) Running(ctx context.Context) ([]*gatehouse.Action, error) {
	var as []*gatehouse.Action
	err := s.eachAction(ctx, "sqlite.Running",
		"SELECT "+actionCols+" FROM actions WHERE status IN ('pending', 'running') ORDER BY time, id",
		func(a *gatehouse.Action) error {
			as = append(as, a)
			return nil
		})
	return as, err
}

// ScanActions calls fn with every action of the projection, decoded as
// Action and Actions decode it, in the order of their action.requested
// events (the order a rebuild from the journal produces). It stops at the
// first error fn returns and returns it. The read is one snapshot: appends
// that commit meanwhile are not seen.
func (s *Store) ScanActions(ctx context.Context, fn func(*gatehouse.Action) error) error {
	// rowid order is insertion order, which is journal order, and is the
	// table's own order: no index lookups.
	return s.eachAction(ctx, "sqlite.ScanActions", "SELECT "+actionCols+" FROM actions ORDER BY rowid", fn)
}

func (s *Store) eachAction(ctx context.Context, op, query string, fn func(*gatehouse.Action) error) error {
	rows, err := s.rdb.QueryContext(ctx, query)
	if err != nil {
		return readErr(ctx, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanActionRows(rows)
		if err != nil {
			return readErr(ctx, op, err)
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return readErr(ctx, op, err)
	}
	return nil
}

// Agent returns the agent with the given name, revoked or not, or
// ENOTFOUND.
func (s *Store) Agent(ctx context.Context, name string) (*gatehouse.Agent, error) {
	g, err := scanAgent(s.rdb.QueryRowContext(ctx, "SELECT "+agentCols+" FROM agents WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "agent %q not found", name)
	}
	if err != nil {
		return nil, readErr(ctx, "sqlite.Agent", err)
	}
	return g, nil
}

// AgentByTokenHash returns the active agent whose token has the given
// SHA-256 (hex), or ENOTFOUND, also when that agent is revoked. Should two
// active agents share the hash (which only a chosen, not a generated,
// token could cause), it returns EINTERNAL rather than pick one: a token
// must name exactly one principal.
func (s *Store) AgentByTokenHash(ctx context.Context, hash string) (*gatehouse.Agent, error) {
	// The message never includes the hash: it stands for a credential.
	notFound := gatehouse.Errorf(gatehouse.ENOTFOUND, "no active agent has this token")
	if hash == "" {
		return nil, notFound
	}
	rows, err := s.rdb.QueryContext(ctx,
		"SELECT "+agentCols+" FROM agents WHERE token_hash = ? AND revoked_at IS NULL LIMIT 2", hash)
	if err != nil {
		return nil, readErr(ctx, "sqlite.AgentByTokenHash", err)
	}
	defer rows.Close()
	var found []*gatehouse.Agent
	for rows.Next() {
		g, err := scanAgent(rows)
		if err != nil {
			return nil, readErr(ctx, "sqlite.AgentByTokenHash", err)
		}
		found = append(found, g)
	}
	if err := rows.Err(); err != nil {
		return nil, readErr(ctx, "sqlite.AgentByTokenHash", err)
	}
	switch len(found) {
	case 0:
		return nil, notFound
	case 1:
		return found[0], nil
	}
	return nil, &gatehouse.Error{Code: gatehouse.EINTERNAL, Op: "sqlite.AgentByTokenHash",
		Message: "agents " + found[0].Name + " and " + found[1].Name + " share a token"}
}

// Agents returns every agent, revoked ones included, by name.
func (s *Store) Agents(ctx context.Context) ([]*gatehouse.Agent, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+agentCols+" FROM agents ORDER BY name")
	if err != nil {
		return nil, readErr(ctx, "sqlite.Agents", err)
	}
	defer rows.Close()
	var gs []*gatehouse.Agent
	for rows.Next() {
		g, err := scanAgent(rows)
		if err != nil {
			return nil, readErr(ctx, "sqlite.Agents", err)
		}
		gs = append(gs, g)
	}
	if err := rows.Err(); err != nil {
		return nil, readErr(ctx, "sqlite.Agents", err)
	}
	return gs, nil
}

// Events calls fn with each event whose Seq is greater than after, by Seq,
// exactly as stored: nothing is checked, so that Verify sees a tampered row
// as it is. It stops at the first error fn returns and returns it. The
// read is one snapshot of the journal.
func (s *Store) Events(ctx context.Context, after int64, fn func(gatehouse.Event) error) error {
	return s.scanEvents(ctx, "sqlite.Events", fn, "SELECT "+eventCols+" FROM events WHERE seq > ? ORDER BY seq", after)
}

// scanEvents runs an events query and calls fn with each row, as stored.
func (s *Store) scanEvents(ctx context.Context, op string, fn func(gatehouse.Event) error, query string, args ...any) error {
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return readErr(ctx, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			e    gatehouse.Event
			t    int64
			typ  string
			data []byte // a copy: fn may keep the event
		)
		if err := rows.Scan(&e.Seq, &t, &typ, &e.Subject, &data, &e.PrevHash, &e.Hash); err != nil {
			return readErr(ctx, op, err)
		}
		e.Time = time.Unix(0, t).UTC()
		e.Type = gatehouse.EventType(typ)
		e.Data = data
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return readErr(ctx, op, err)
	}
	return nil
}

// Head implements gatehouse.Store: the event with the highest seq.
func (s *Store) Head(ctx context.Context) (gatehouse.Event, error) {
	var head gatehouse.Event
	found := false
	err := s.scanEvents(ctx, "sqlite.Head", func(e gatehouse.Event) error {
		head, found = e, true
		return nil
	}, "SELECT "+eventCols+" FROM events ORDER BY seq DESC LIMIT 1")
	if err != nil {
		return gatehouse.Event{}, err
	}
	if !found {
		return gatehouse.Event{}, gatehouse.Errorf(gatehouse.ENOTFOUND, "the journal is empty")
	}
	return head, nil
}

// EventsOfType implements gatehouse.Store.
func (s *Store) EventsOfType(ctx context.Context, types []gatehouse.EventType, fn func(gatehouse.Event) error) error {
	if len(types) == 0 {
		return nil
	}
	args := make([]any, len(types))
	for i, t := range types {
		args[i] = string(t)
	}
	q := "SELECT " + eventCols + " FROM events WHERE type IN (?" + strings.Repeat(",?", len(types)-1) + ") ORDER BY seq"
	return s.scanEvents(ctx, "sqlite.EventsOfType", fn, q, args...)
}
