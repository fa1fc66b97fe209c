package policy

import (
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// DecideLinear decides like Decide but tries every rule in order, without
// the index: the reference the index is tested against.
func (p *Policy) DecideLinear(a *gatehouse.Action, an *gatehouse.Analysis, now time.Time) Result {
	saved := p.idx
	all := make([]int32, len(p.rules))
	for i := range all {
		all[i] = int32(i)
	}
	q := *p
	q.idx = index{residual: all}
	res := q.Decide(a, an, nil, now)
	p.idx = saved
	return res
}

// GlobMatch matches s against the command glob pat both ways: with the
// literal-pieces matcher (fast is false if pat has no such form) and with
// the regular expression it translates to.
func GlobMatch(pat, s string) (fast, viaRegexp bool, hasFast bool, err error) {
	g, err := compileGlob(pat)
	if err != nil {
		return false, false, false, err
	}
	re, err := globRegexp(pat)
	if err != nil {
		return false, false, false, err
	}
	return g.match(s), re.MatchString(s), g.re == nil, nil
}
