package policy

import (
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// Learned rule match kinds.
const (
	LearnExact  = "exact"
	LearnPrefix = "prefix"
	LearnGlob   = "glob"
)

// live reports whether r is in force at now.
func live(r *gatehouse.LearnedRule, now time.Time) bool {
	return r.ExpiresAt.IsZero() || now.Before(r.ExpiresAt)
}

// before orders rules by creation, then id: when several match, the
// oldest decides, so a decision does not depend on map order.
func before(r, o *gatehouse.LearnedRule) bool {
	if !r.CreatedAt.Equal(o.CreatedAt) {
		return r.CreatedAt.Before(o.CreatedAt)
	}
	return r.ID < o.ID
}

// Learned holds learned rules. It is safe for concurrent use.
//
// Exact rules are kept in a map keyed by agent and command, so that
// looking one up costs the same however many there are. Prefix and glob
// rules are kept by the first word of their pattern (the program), which
// every command they match shares.
//
// A prefix or glob rule never reaches further than the reviewer chose:
//
//   - a prefix matches only on a word boundary: "git push origin" matches
//     "git push origin" and "git push origin main", not
//     "git push origin-evil";
//   - a glob's first word must be literal, so it cannot stand for any
//     program;
//   - neither matches a command containing a shell control operator or
//     redirection — any of ; & | ` $( > < or a newline or carriage return
//     — since what follows one is another command the reviewer never saw
//     (";rm -rf ~", "$(curl …)", "> ~/.bashrc"). Only an exact rule,
//     for exactly that command, allows such a command.
type Learned struct {
	mu     sync.RWMutex
	byID   map[string]*learnedEntry
	exact  map[exactKey][]*learnedEntry
	byWord map[string][]*learnedEntry // prefix and glob rules
}

type exactKey struct{ agent, command string }

type learnedEntry struct {
	r gatehouse.LearnedRule
	g *glob // for globs
}

// NewLearned returns an empty set of learned rules.
func NewLearned() *Learned {
	return &Learned{
		byID:   map[string]*learnedEntry{},
		exact:  map[exactKey][]*learnedEntry{},
		byWord: map[string][]*learnedEntry{},
	}
}

var learnedID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// Add adds a rule. It returns EINVALID if the rule is malformed (an
// unknown match kind, an empty, unfinished or over-reaching pattern, a bad
// agent name, no creator, a missing creation time or an expiry not after
// it) and ECONFLICT if a rule with the same id exists.
func (l *Learned) Add(r gatehouse.LearnedRule) error {
	e := &learnedEntry{r: r}
	if err := validateLearned(e); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, dup := l.byID[r.ID]; dup {
		return gatehouse.Errorf(gatehouse.ECONFLICT, "a learned rule %q already exists", r.ID)
	}
	l.byID[r.ID] = e
	if r.Match == LearnExact {
		k := exactKey{r.Agent, r.Pattern}
		l.exact[k] = append(l.exact[k], e)
	} else {
		w := e.word()
		l.byWord[w] = append(l.byWord[w], e)
	}
	return nil
}

// word is the key a prefix or glob rule is filed under: the first word
// of its pattern, which is the first word of every command it matches.
func (e *learnedEntry) word() string {
	w := firstWord(e.r.Pattern)
	if e.r.Match == LearnGlob {
		w, _ = globLiteral(w)
	}
	return w
}

func validateLearned(e *learnedEntry) error {
	r := &e.r
	invalid := func(format string, args ...any) error {
		return gatehouse.Errorf(gatehouse.EINVALID, "learned rule %q: "+format, append([]any{r.ID}, args...)...)
	}
	if !learnedID.MatchString(r.ID) {
		return gatehouse.Errorf(gatehouse.EINVALID, "invalid learned rule id %q: use 1-128 letters, digits, '.', '_', ':' or '-'", r.ID)
	}
	if r.Agent != "" {
		if err := gatehouse.ValidateAgentName(r.Agent); err != nil {
			return invalid("%s", gatehouse.ErrorMessage(err))
		}
	}
	if strings.TrimSpace(r.CreatedBy) == "" {
		return invalid("created_by is required: a learned rule must say who approved it")
	}
	if r.CreatedAt.IsZero() {
		return invalid("created_at is required")
	}
	if !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(r.CreatedAt) {
		return invalid("expires_at (%s) must be after created_at (%s)", r.ExpiresAt.Format(time.RFC3339), r.CreatedAt.Format(time.RFC3339))
	}
	if strings.TrimSpace(r.Pattern) == "" {
		return invalid("the pattern must not be empty")
	}
	switch r.Match {
	case LearnExact:
		return nil
	case LearnPrefix, LearnGlob:
	default:
		return invalid("match must be exact, prefix or glob, not %q", r.Match)
	}
	if isSpace(r.Pattern[0]) {
		return invalid("a %s pattern must start with the program, not with white space", r.Match)
	}
	if hasControl(r.Pattern) {
		return invalid("a %s pattern cannot contain shell control operators or redirections (; & | ` $( > < newline): learned %s rules never match such commands; learn the exact command instead", r.Match, r.Match)
	}
	if r.Match == LearnGlob {
		if _, whole := globLiteral(firstWord(r.Pattern)); !whole {
			return invalid("a glob must start with a literal program name, not %q", firstWord(r.Pattern))
		}
		g, err := compileGlob(r.Pattern)
		if err != nil {
			return invalid("the glob %q %v", r.Pattern, err)
		}
		e.g = g
	}
	return nil
}

// Remove removes the rule with the given id, or returns ENOTFOUND.
func (l *Learned) Remove(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.byID[id]
	if !ok {
		return gatehouse.Errorf(gatehouse.ENOTFOUND, "no learned rule %q", id)
	}
	l.remove(e)
	return nil
}

func (l *Learned) remove(e *learnedEntry) {
	delete(l.byID, e.r.ID)
	if e.r.Match == LearnExact {
		k := exactKey{e.r.Agent, e.r.Pattern}
		if rest := without(l.exact[k], e); len(rest) > 0 {
			l.exact[k] = rest
		} else {
			delete(l.exact, k)
		}
		return
	}
	w := e.word()
	if rest := without(l.byWord[w], e); len(rest) > 0 {
		l.byWord[w] = rest
	} else {
		delete(l.byWord, w)
	}
}

func without(list []*learnedEntry, e *learnedEntry) []*learnedEntry {
	out := list[:0:0]
	for _, x := range list {
		if x != e {
			out = append(out, x)
		}
	}
	return out
}

// Prune removes the rules expired at now and returns how many it removed.
// Expired rules never match whether or not they are pruned.
func (l *Learned) Prune(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.byID {
		if !live(&e.r, now) {
			l.remove(e)
			n++
		}
	}
	return n
}

// List returns the rules not expired at now, oldest first.
func (l *Learned) List(now time.Time) []gatehouse.LearnedRule {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]gatehouse.LearnedRule, 0, len(l.byID))
	for _, e := range l.byID {
		if live(&e.r, now) {
			out = append(out, e.r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return before(&out[i], &out[j]) })
	return out
}

// Match returns the learned rule that allows a, if any is live at now. An
// exact rule wins over prefix and glob rules; among several of one kind
// the oldest wins.
func (l *Learned) Match(a *gatehouse.Action, now time.Time) (*gatehouse.LearnedRule, bool) {
	if l == nil || a == nil || a.Command == "" {
		return nil, false
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	var best *learnedEntry
	consider := func(list []*learnedEntry, test bool) {
		for _, e := range list {
			if !live(&e.r, now) || (e.r.Agent != "" && e.r.Agent != a.Agent) {
				continue
			}
			if test && !e.matches(a.Command) {
				continue
			}
			if best == nil || before(&e.r, &best.r) {
				best = e
			}
		}
	}
	consider(l.exact[exactKey{a.Agent, a.Command}], false)
	consider(l.exact[exactKey{"", a.Command}], false)
	if best == nil && !hasControl(a.Command) {
		consider(l.byWord[firstWord(a.Command)], true)
	}
	if best == nil {
		return nil, false
	}
	r := best.r
	return &r, true
}

func (e *learnedEntry) matches(cmd string) bool {
	if e.r.Match == LearnGlob {
		return e.g.match(cmd)
	}
	p := e.r.Pattern
	return strings.HasPrefix(cmd, p) &&
		(len(cmd) == len(p) || isSpace(cmd[len(p)]) || isSpace(p[len(p)-1]))
}

// hasControl reports whether a command holds a shell control operator or
// redirection, after which comes more than the command itself. It errs on
// the side of yes: a quoted ';' counts too.
func hasControl(cmd string) bool {
	return strings.ContainsAny(cmd, ";&|`<>\n\r") || strings.Contains(cmd, "$(")
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' }

// firstWord is the text before the first space or tab.
func firstWord(s string) string {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i]
	}
	return s
}
