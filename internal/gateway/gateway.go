package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/executor"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/tripwire"
)

// Executor runs processes. *executor.Executor implements it.
type Executor interface {
	// Prepare resolves the command without starting anything; it returns
	// executor.ErrNotFound or executor.ErrNotExecutable (wrapped) when the
	// command cannot be run.
	Prepare(spec executor.Spec) (executor.Prepared, error)
	// Run starts the prepared process and waits for it.
	Run(ctx context.Context, p executor.Prepared) executor.Result
}

// Config holds the gateway's execution settings.
type Config struct {
	// BaseEnv is the environment every command starts from: the daemon's
	// variables named by the pass list. Nothing else of the daemon's
	// environment reaches a command.
	BaseEnv map[string]string
	// EnvAllow names the variables a client may set on a run. Any other
	// name in a request is refused.
	EnvAllow []string
	// MaxTimeout caps a request's timeout (0: no cap). DefaultTimeout
	// applies when a request sets none (0: none).
	MaxTimeout, DefaultTimeout time.Duration
}

// Gateway is the service. Create it with New; it is safe for concurrent
// use.
type Gateway struct {
	store     gatehouse.Store
	exec      Executor
	decider   Decider
	cfg       Config
	adminHash string
	now       func() time.Time
	log       *slog.Logger
	allow     map[string]bool
	learned   *policy.Learned
	notifier  notify.Notifier
	pf        *PolicyFile
	rv        reviews
	creds     Credentials
	feed      *Feed
	ws        Workspaces
	rb        sync.Mutex // one rollback at a time

	mu       sync.Mutex
	closing  bool
	seq      uint64
	running  map[uint64]context.CancelCauseFunc // every request, for shutdown
	runs     map[string]runEntry                // started actions, for halts
	hs       halts
	ext      external
	tw       *tripwire.Monitor
	inflight sync.WaitGroup

	replica string    // this replica's id; "" when the journal is not shared
	rep     *replicas // nil when the journal is not shared
}

// Options are the gateway's collaborators beyond the store and executor.
// Zero fields take defaults.
type Options struct {
	Decider Decider          // AllowAll
	Now     func() time.Time // time.Now
	Logger  *slog.Logger     // slog.Default()
	// Learned holds the rules reviewers add by approving and remembering;
	// the decider must consult the same set. Nil: approvals cannot be
	// remembered.
	Learned *policy.Learned
	// Notifier is told about pending approvals (notify.Discard).
	Notifier notify.Notifier
	// Policy is where the policy comes from, for reloads, tests and
	// replays. Nil: the gateway has no policy file (tests).
	Policy *PolicyFile
	// Tripwires watches actions and fires halts and pauses; nil: none.
	Tripwires *tripwire.Monitor
	// AdminToken is the admin token; only its hash is kept.
	AdminToken string
	// Credentials are the secrets the gateway holds and grants
	// (credentials.go); zero: none.
	Credentials Credentials
	// Feed receives the events of every successful Append (NewFeed with
	// the default buffer if nil); see Subscribe.
	Feed *Feed
	// Shared is set when the store is shared with other replicas (the same
	// store, as opened for this replica): see replica.go.
	Shared Shared
	// ReplicaGrace is how long a replica's claim must have been free
	// before the others take over its actions (DefaultReplicaGrace).
	ReplicaGrace time.Duration
	// Workspaces records what actions change in the agents' workspaces;
	// nil: nothing is recorded, and nothing can be rolled back.
	Workspaces Workspaces
}

// New returns a gateway over store and exec.
func New(store gatehouse.Store, exec Executor, cfg Config, opts Options) *Gateway {
	if opts.Decider == nil {
		opts.Decider = AllowAll{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Notifier == nil {
		opts.Notifier = notify.Discard
	}
	if opts.Feed == nil {
		opts.Feed = NewFeed(DefaultFeedBuffer)
	}
	store = publishing{Store: store, feed: opts.Feed}
	allow := map[string]bool{}
	for _, n := range cfg.EnvAllow {
		allow[n] = true
	}
	g := &Gateway{
		store: store, exec: exec, decider: opts.Decider, cfg: cfg,
		adminHash: HashToken(opts.AdminToken), now: opts.Now, log: opts.Logger,
		allow: allow, running: map[uint64]context.CancelCauseFunc{},
		learned: opts.Learned, notifier: opts.Notifier, pf: opts.Policy, tw: opts.Tripwires, creds: opts.Credentials,
		feed: opts.Feed,
		rv:   reviews{waiters: map[string]*waiter{}},
		runs: map[string]runEntry{},
		ext:  external{byUse: map[string]string{}, recs: map[string]Recording{}},
		ws:   opts.Workspaces,
		hs:   halts{active: map[string]*gatehouse.Halt{}, known: map[string]bool{}, timers: map[string]*time.Timer{}},
	}
	if opts.Shared != nil {
		g.rep = newReplicas(opts.Shared, opts.ReplicaGrace)
		g.replica = opts.Shared.Replica()
	}
	return g
}

// HashToken returns the hex SHA-256 of a token: what the journal stores.
// Tokens carry 256 random bits, so a plain hash is as good as a slow one.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewToken returns a new random token with the given prefix ("gat_" for
// agents, "gadm_" for the admin): the prefix lets secret scanners and
// people tell them apart.
func NewToken(prefix string) string {
	b := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		panic("gateway: crypto/rand failed: " + err.Error()) // the OS cannot give randomness: nothing is safe
	}
	return prefix + tokenEncoding.EncodeToString(b)
}

// Authenticate returns the principal a bearer token stands for, or
// EUNAUTHORIZED. It consults the store on every call, so a revoked token
// stops working at once.
func (g *Gateway) Authenticate(ctx context.Context, token string) (gatehouse.Principal, error) {
	if token == "" {
		return gatehouse.Principal{}, gatehouse.Errorf(gatehouse.EUNAUTHORIZED, "missing token: set GATEHOUSE_TOKEN")
	}
	h := HashToken(token)
	if subtle.ConstantTimeCompare([]byte(h), []byte(g.adminHash)) == 1 {
		return gatehouse.Principal{Name: "admin", Role: gatehouse.RoleAdmin}, nil
	}
	a, err := g.store.AgentByTokenHash(ctx, h)
	if gatehouse.ErrorCode(err) == gatehouse.ENOTFOUND {
		return gatehouse.Principal{}, gatehouse.Errorf(gatehouse.EUNAUTHORIZED, "invalid or revoked token")
	}
	if err != nil {
		return gatehouse.Principal{}, err
	}
	role := a.Role
	if role == "" {
		role = gatehouse.RoleAgent
	}
	return gatehouse.Principal{Name: a.Name, Role: role}, nil
}

// requireReader allows those who may read the journal: admins and
// reviewers (who need context to review), not agents.
func requireReader(p gatehouse.Principal) error {
	if !p.Role.CanReview() {
		return gatehouse.Errorf(gatehouse.EFORBIDDEN, "%s %q may not read the journal: it needs a reviewer or the admin token", p.Role, p.Name)
	}
	return nil
}

func requireAdmin(p gatehouse.Principal) error {
	if p.Role != gatehouse.RoleAdmin {
		return gatehouse.Errorf(gatehouse.EFORBIDDEN, "%s %q may not do this: it needs the admin token", p.Role, p.Name)
	}
	return nil
}

// AddAgent registers an agent and returns it with its token, which is
// shown once and never stored. ECONFLICT if an active agent or reviewer
// has the name.
func (g *Gateway) AddAgent(ctx context.Context, p gatehouse.Principal, name string) (*gatehouse.Agent, string, error) {
	return g.AddIdentity(ctx, p, name, gatehouse.RoleAgent)
}

// AddIdentity registers an agent or a reviewer (role) and returns it with
// its token.
func (g *Gateway) AddIdentity(ctx context.Context, p gatehouse.Principal, name string, role gatehouse.Role) (*gatehouse.Agent, string, error) {
	return g.addIdentity(ctx, p, name, role, nil)
}

func (g *Gateway) addIdentity(ctx context.Context, p gatehouse.Principal, name string, role gatehouse.Role, workspaces []string) (*gatehouse.Agent, string, error) {
	if err := requireAdmin(p); err != nil {
		return nil, "", err
	}
	if err := gatehouse.ValidateAgentName(name); err != nil {
		return nil, "", err
	}
	prefix := "gat_"
	switch role {
	case gatehouse.RoleAgent:
	case gatehouse.RoleReviewer:
		prefix = "grv_"
	default:
		return nil, "", gatehouse.Errorf(gatehouse.EINVALID, "role %q: use agent or reviewer", role)
	}
	token := NewToken(prefix)
	ev, err := gatehouse.NewEvent(g.now(), gatehouse.EventAgentAdded, name,
		gatehouse.AgentAdded{Role: role, TokenHash: HashToken(token), By: p.Name, Workspaces: workspaces})
	if err != nil {
		return nil, "", err
	}
	if _, err := g.store.Append(ctx, ev); err != nil {
		return nil, "", err
	}
	a, err := g.store.Agent(ctx, name)
	if err != nil {
		return nil, "", err
	}
	g.log.Info("identity added", "name", name, "role", role, "by", p.Name)
	return a, token, nil
}

// RevokeAgent revokes an agent's token. ENOTFOUND if no active agent has
// the name.
func (g *Gateway) RevokeAgent(ctx context.Context, p gatehouse.Principal, name string) error {
	return g.RevokeIdentity(ctx, p, name, gatehouse.RoleAgent)
}

// RevokeIdentity revokes the token of the agent or reviewer (role) name.
// ENOTFOUND if no active identity of that role has the name.
func (g *Gateway) RevokeIdentity(ctx context.Context, p gatehouse.Principal, name string, role gatehouse.Role) error {
	if err := requireAdmin(p); err != nil {
		return err
	}
	if a, err := g.store.Agent(ctx, name); err != nil || a.Role != role || !a.Active() {
		return gatehouse.Errorf(gatehouse.ENOTFOUND, "%s %q not found", role, name)
	}
	ev, err := gatehouse.NewEvent(g.now(), gatehouse.EventAgentRevoked, name, gatehouse.AgentRevoked{By: p.Name})
	if err != nil {
		return err
	}
	if _, err := g.store.Append(ctx, ev); err != nil {
		return err
	}
	g.log.Info("identity revoked", "name", name, "role", role, "by", p.Name)
	return nil
}

// Agents lists the registered agents.
func (g *Gateway) Agents(ctx context.Context, p gatehouse.Principal) ([]*gatehouse.Agent, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	return g.store.Agents(ctx)
}

// Actions returns the actions matching f (see gatehouse.Store.Actions).
func (g *Gateway) Actions(ctx context.Context, p gatehouse.Principal, f gatehouse.ActionFilter) ([]*gatehouse.Action, error) {
	if err := requireReader(p); err != nil {
		return nil, err
	}
	return g.store.Actions(ctx, f)
}

// Action returns one action, or ENOTFOUND.
func (g *Gateway) Action(ctx context.Context, p gatehouse.Principal, id string) (*gatehouse.Action, error) {
	if err := requireReader(p); err != nil {
		return nil, err
	}
	return g.store.Action(ctx, id)
}

// ActionEvents returns the journal's events of one action, by Seq: what
// its projection was made from, for its decision trail. It reads the
// journal from the action's first event to its last. ENOTFOUND for an
// unknown action.
func (g *Gateway) ActionEvents(ctx context.Context, p gatehouse.Principal, id string) ([]gatehouse.Event, error) {
	a, err := g.Action(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if len(a.Seq) == 0 {
		return nil, nil
	}
	last := a.Seq[len(a.Seq)-1]
	var out []gatehouse.Event
	errDone := errors.New("done")
	err = g.store.Events(ctx, a.Seq[0]-1, func(e gatehouse.Event) error {
		if e.Seq > last {
			return errDone
		}
		if e.Subject == id && e.Type.IsAction() {
			out = append(out, e)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDone) {
		return nil, err
	}
	return out, nil
}

// snapshotter is a store that can be read as of one moment (a shared
// store, which other replicas write while it is verified).
type snapshotter interface {
	Snapshot(ctx context.Context, fn func(gatehouse.Store) error) error
}

// Verify checks the journal and its projection (see gatehouse.Verify),
// in one snapshot where the store offers one.
func (g *Gateway) Verify(ctx context.Context, p gatehouse.Principal) (*gatehouse.VerifyReport, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	return g.inSnapshot(ctx, gatehouse.Verify)
}

// inSnapshot runs verify on the store, in one snapshot where the store
// under the gateway's wrappers (publishing, an exporter's) offers one.
func (g *Gateway) inSnapshot(ctx context.Context, verify func(context.Context, gatehouse.Store) (*gatehouse.VerifyReport, error)) (*gatehouse.VerifyReport, error) {
	base := g.store
	for {
		w, ok := base.(interface{ Unwrap() gatehouse.Store })
		if !ok {
			break
		}
		base = w.Unwrap()
	}
	if s, ok := base.(snapshotter); ok {
		var rep *gatehouse.VerifyReport
		err := s.Snapshot(ctx, func(snap gatehouse.Store) error {
			var err error
			rep, err = verify(ctx, snap)
			return err
		})
		return rep, err
	}
	return verify(ctx, g.store)
}

// errShuttingDown is returned to runs that arrive while the gateway stops.
var errShuttingDown = gatehouse.Errorf(gatehouse.EUNAVAILABLE, "the gateway is shutting down")

// Shutdown refuses new actions, interrupts the running ones (their process
// groups get SIGTERM, then SIGKILL after the executor's grace) and waits
// until each has journaled its end, or ctx is done.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closing = true
	n := len(g.runs)
	for _, cancel := range g.running {
		cancel(errDaemonStopping)
	}
	g.mu.Unlock()
	done := make(chan struct{})
	go func() { g.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	g.stopReplica()
	if g.rep != nil {
		g.flushOutbox(ctx)
	}
	// Pending reviews stay pending in the journal; the next start rearms
	// their timers (or, with replicas, another replica takes them over).
	g.rv.mu.Lock()
	for id := range g.rv.waiters {
		g.unwatch(id)
	}
	g.rv.mu.Unlock()
	g.hs.mu.Lock()
	for id, t := range g.hs.timers {
		t.Stop()
		delete(g.hs.timers, id)
	}
	g.hs.mu.Unlock()
	ev, err := gatehouse.NewEvent(g.now(), gatehouse.EventDaemonStopped, "", gatehouse.DaemonStopped{Interrupted: n, Replica: g.replica})
	if err != nil {
		return err
	}
	_, err = g.store.Append(ctx, ev)
	return err
}

var errDaemonStopping = errors.New("the daemon is stopping")

func (g *Gateway) isClosing() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closing
}
