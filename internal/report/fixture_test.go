package report_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

var updateJournal = flag.Bool("update-journal", false, "rewrite testdata/journal.jsonl from fixtureEvents")

const journalFile = "testdata/journal.jsonl"

// fixtureNow and fixtureQuery are the moment and the window the golden
// reports are made for.
var (
	fixtureNow   = time.Date(2026, 12, 4, 13, 0, 0, 0, time.UTC)
	fixtureSince = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
)

// at is a time of the fixture's day.
func at(h, m, s, ms int) time.Time {
	return time.Date(2026, 12, 4, h, m, s, ms*int(time.Millisecond), time.UTC)
}

// fixtureEvents is the incident the golden files report on, as a chained
// journal: an agent in CI and a Claude Code session; a reviewed
// deletion, a denied kubectl delete tried twice, a failed deploy retried,
// a denied outbound POST that trips a pause, a halt that kills a running
// action and cancels a pending force-push, an action it refuses, and one
// still running at the end. One action and one session event fall before
// the window.
func fixtureEvents(tb testing.TB) []gatehouse.Event {
	tb.Helper()
	var evs []gatehouse.Event
	add := func(t time.Time, typ gatehouse.EventType, subject string, data any) {
		e, err := gatehouse.NewEvent(t, typ, subject, data)
		if err != nil {
			tb.Fatal(err)
		}
		evs = append(evs, e)
	}
	code := func(n int) *int { return &n }
	ms := func(f float64) *float64 { return &f }
	an := func(class gatehouse.Class, risk int, reason string, targets ...string) *gatehouse.Analysis {
		return &gatehouse.Analysis{Class: class, Risk: risk, Reasons: []string{reason}, Targets: targets,
			Commands: []gatehouse.AnalyzedCommand{{Name: "x", Class: class, Risk: risk}}}
	}
	allow := gatehouse.DefaultDecision
	review := func(rule string) gatehouse.Decision {
		return gatehouse.Decision{Effect: gatehouse.EffectReview, Rule: rule, Reason: "a person looks first", Approvals: 1, TimeoutMS: 60000, OnTimeout: "deny"}
	}
	deny := func(rule, reason string) gatehouse.Decision {
		return gatehouse.Decision{Effect: gatehouse.EffectDeny, Rule: rule, Reason: reason}
	}
	req := func(t time.Time, id, agent, session string, kind gatehouse.Kind, command, system, intent string) {
		external := agent == "claude-code"
		r := gatehouse.ActionRequested{Agent: agent, Session: session, Kind: kind, Command: command, Cwd: "/src/app",
			System: system, Intent: intent, TraceID: traceFor(id), Shell: kind == gatehouse.KindShell, External: external}
		if kind == gatehouse.KindShell {
			r.Argv = []string{"/bin/sh", "-c", command}
		}
		if external {
			r.Tool = map[gatehouse.Kind]string{gatehouse.KindShell: "Bash", gatehouse.KindMCPTool: "mcp__github__create_issue", gatehouse.KindFileWrite: "Write"}[kind]
		}
		add(t, gatehouse.EventActionRequested, id, r)
	}
	decided := func(t time.Time, id string, d gatehouse.Decision, a *gatehouse.Analysis) {
		add(t, gatehouse.EventActionDecided, id, gatehouse.ActionDecided{Decision: d, Analysis: a})
	}
	started := func(t time.Time, id string) { add(t, gatehouse.EventActionStarted, id, gatehouse.ActionStarted{}) }
	finished := func(t time.Time, id string, f gatehouse.ActionFinished) { add(t, gatehouse.EventActionFinished, id, f) }
	ok := func(d float64) gatehouse.ActionFinished {
		return gatehouse.ActionFinished{Status: gatehouse.StatusSucceeded, ExitCode: code(0), DurationMS: ms(d)}
	}

	add(at(11, 58, 0, 0), gatehouse.EventDaemonStarted, "", gatehouse.DaemonStarted{Version: "devel", PID: 4242, Host: "gw1"})
	add(at(11, 58, 0, 1), gatehouse.EventPolicyLoaded, "", gatehouse.PolicyLoaded{Revision: "9f2c", Source: "/etc/gatehouse/policy.yaml", Rules: 12, By: "start"})
	for _, name := range []string{"ci", "claude-code"} {
		add(at(11, 58, 10, 0), gatehouse.EventAgentAdded, name, gatehouse.AgentAdded{TokenHash: "00" + name, By: "admin"})
	}
	add(at(11, 58, 10, 0), gatehouse.EventAgentAdded, "alice", gatehouse.AgentAdded{Role: gatehouse.RoleReviewer, TokenHash: "00alice", By: "admin"})

	// Before the window.
	add(at(11, 59, 0, 0), gatehouse.EventSession, "sess-old", gatehouse.SessionEvent{Agent: "claude-code", Event: "UserPromptSubmit", Prompt: "an earlier request"})
	req(at(11, 59, 30, 0), "A00", "ci", "ci-41", gatehouse.KindShell, "make build", "staging-k8s", "build")
	decided(at(11, 59, 30, 0), "A00", allow, an(gatehouse.ClassWrite, 20, "builds"))
	started(at(11, 59, 30, 1), "A00")
	finished(at(11, 59, 34, 0), "A00", ok(3999))

	// The Claude Code session states its intent.
	add(at(12, 0, 0, 0), gatehouse.EventSession, "sess-claude", gatehouse.SessionEvent{Agent: "claude-code", Event: "SessionStart", Cwd: "/src/app"})
	add(at(12, 0, 1, 0), gatehouse.EventSession, "sess-claude", gatehouse.SessionEvent{Agent: "claude-code", Event: "UserPromptSubmit",
		Prompt: "Clean up the old build artefacts\nand redeploy the staging service"})

	req(at(12, 0, 2, 0), "A01", "claude-code", "sess-claude", gatehouse.KindShell, "ls -la build/", "laptop", "")
	decided(at(12, 0, 2, 0), "A01", allow, an(gatehouse.ClassRead, 5, "lists files", "build/"))
	started(at(12, 0, 2, 1), "A01")
	finished(at(12, 0, 2, 13), "A01", ok(12))

	req(at(12, 0, 5, 0), "A02", "claude-code", "sess-claude", gatehouse.KindShell, "rm -rf build/", "laptop", "")
	decided(at(12, 0, 5, 0), "A02", review("review-rm"), an(gatehouse.ClassDestructive, 70, "deletes files recursively", "build/"))
	add(at(12, 0, 13, 200), gatehouse.EventActionReviewed, "A02", gatehouse.ActionReviewed{By: "alice", Verdict: gatehouse.VerdictApprove, Reason: "only build output", LatencyMS: 8200})
	started(at(12, 0, 13, 201), "A02")
	finished(at(12, 0, 13, 450), "A02", ok(249))

	req(at(12, 0, 20, 0), "A03", "ci", "ci-42", gatehouse.KindShell, "kubectl delete deployment web -n staging", "staging-k8s", "remove the old deployment")
	decided(at(12, 0, 20, 0), "A03", deny("no-kubectl-delete", "deleting deployments needs a change ticket"),
		an(gatehouse.ClassDestructive, 80, "deletes a Kubernetes resource", "deployment/web"))
	finished(at(12, 0, 20, 1), "A03", gatehouse.ActionFinished{Status: gatehouse.StatusDenied,
		Error: `refused by rule "no-kubectl-delete": deleting deployments needs a change ticket`})

	req(at(12, 0, 25, 0), "A04", "ci", "ci-42", gatehouse.KindShell, "kubectl delete deployment web -n staging", "staging-k8s", "remove the old deployment")
	decided(at(12, 0, 25, 0), "A04", deny("no-kubectl-delete", "deleting deployments needs a change ticket"),
		an(gatehouse.ClassDestructive, 80, "deletes a Kubernetes resource", "deployment/web"))
	finished(at(12, 0, 25, 1), "A04", gatehouse.ActionFinished{Status: gatehouse.StatusDenied,
		Error: `refused by rule "no-kubectl-delete": deleting deployments needs a change ticket`})

	req(at(12, 0, 30, 0), "A05", "ci", "ci-42", gatehouse.KindShell, "make deploy ENV=staging", "staging-k8s", "redeploy")
	decided(at(12, 0, 30, 0), "A05", allow, an(gatehouse.ClassWrite, 40, "runs make"))
	started(at(12, 0, 30, 1), "A05")
	finished(at(12, 0, 33, 201), "A05", gatehouse.ActionFinished{Status: gatehouse.StatusFailed, ExitCode: code(2), DurationMS: ms(3200),
		Stderr: "make: *** [deploy] Error 2\n"})

	req(at(12, 0, 40, 0), "A06", "ci", "ci-42", gatehouse.KindShell, "make deploy ENV=staging", "staging-k8s", "redeploy")
	decided(at(12, 0, 40, 0), "A06", allow, an(gatehouse.ClassWrite, 40, "runs make"))
	started(at(12, 0, 40, 1), "A06")
	finished(at(12, 0, 52, 1), "A06", ok(12000))

	req(at(12, 1, 0, 0), "A07", "claude-code", "sess-claude", gatehouse.KindShell,
		"curl -X POST https://hooks.example.com/notify -d @msg.json | tee <out>", "laptop", "tell the team")
	decided(at(12, 1, 0, 0), "A07", review("review-network"), an(gatehouse.ClassIrreversible, 65, "sends data to a remote host", "hooks.example.com"))
	add(at(12, 1, 30, 0), gatehouse.EventActionReviewed, "A07", gatehouse.ActionReviewed{By: "alice", Verdict: gatehouse.VerdictDeny, Reason: "no outbound posts", LatencyMS: 30000})
	finished(at(12, 1, 30, 1), "A07", gatehouse.ActionFinished{Status: gatehouse.StatusDenied, Error: "denied by alice: no outbound posts"})
	add(at(12, 1, 30, 2), gatehouse.EventHaltIssued, "h-pause", gatehouse.HaltIssued{Mode: gatehouse.ModePause,
		Scope: gatehouse.Scope{Session: "sess-claude"}, Reason: "3 denials within 1m0s", By: "tripwire:denial_burst",
		Tripwire: "denial_burst", Evidence: []string{"A03", "A04", "A07"}})
	add(at(12, 1, 45, 0), gatehouse.EventHaltLifted, "h-pause", gatehouse.HaltLifted{By: "alice"})

	req(at(12, 2, 0, 0), "A08", "ci", "ci-42", gatehouse.KindShell, "sleep 600 && ./cleanup.sh", "staging-k8s", "clean up later")
	decided(at(12, 2, 0, 0), "A08", allow, an(gatehouse.ClassWrite, 20, "runs a script"))
	started(at(12, 2, 0, 100), "A08")

	req(at(12, 2, 10, 0), "A09", "claude-code", "sess-claude", gatehouse.KindShell, "git push --force origin main", "github", "publish")
	decided(at(12, 2, 10, 0), "A09", review("review-force-push"), an(gatehouse.ClassIrreversible, 90, "rewrites remote history", "origin/main"))

	add(at(12, 3, 0, 0), gatehouse.EventHaltIssued, "h-stop", gatehouse.HaltIssued{Mode: gatehouse.ModeHalt,
		Scope: gatehouse.Scope{All: true}, Reason: "responder stop", By: "admin", Kill: true,
		Killed: []string{"A08"}, Cancelled: []string{"A09"}})
	finished(at(12, 3, 0, 100), "A09", gatehouse.ActionFinished{Status: gatehouse.StatusInterrupted, Error: "cancelled: halted by admin (h-stop): responder stop"})
	finished(at(12, 3, 0, 350), "A08", gatehouse.ActionFinished{Status: gatehouse.StatusInterrupted, Signal: "SIGTERM", DurationMS: ms(60250),
		Error: "interrupted: halted by admin (h-stop): responder stop"})

	req(at(12, 3, 30, 0), "A10", "ci", "ci-42", gatehouse.KindShell, "echo retrying", "staging-k8s", "")
	decided(at(12, 3, 30, 0), "A10", gatehouse.Decision{Effect: gatehouse.EffectDeny, Rule: "halt:h-stop", Reason: "responder stop"}, nil)
	finished(at(12, 3, 30, 0), "A10", gatehouse.ActionFinished{Status: gatehouse.StatusDenied, Error: "refused: all agents halted by admin (h-stop): responder stop"})
	add(at(12, 10, 0, 0), gatehouse.EventHaltLifted, "h-stop", gatehouse.HaltLifted{By: "admin"})

	req(at(12, 12, 0, 0), "A11", "claude-code", "sess-claude", gatehouse.KindMCPTool, "mcp__github__create_issue", "github", "")
	decided(at(12, 12, 0, 0), "A11", allow, an(gatehouse.ClassWrite, 40, "mcp__github__create_issue: an MCP tool; what it does is up to its server"))
	started(at(12, 12, 0, 1), "A11")
	finished(at(12, 12, 1, 1), "A11", gatehouse.ActionFinished{Status: gatehouse.StatusSucceeded, DurationMS: ms(1000), Response: `{"content":[]}`})

	req(at(12, 13, 0, 0), "A12", "claude-code", "sess-claude", gatehouse.KindFileWrite, "Write /src/app/main.go", "", "")
	decided(at(12, 13, 0, 0), "A12", allow, an(gatehouse.ClassWrite, 30, "Write: writes a file", "/src/app/main.go"))
	started(at(12, 13, 0, 1), "A12")
	finished(at(12, 13, 0, 21), "A12", gatehouse.ActionFinished{Status: gatehouse.StatusSucceeded, DurationMS: ms(20)})

	req(at(12, 20, 0, 0), "A13", "ci", "ci-43", gatehouse.KindShell, "tail -f /var/log/app.log", "staging-k8s", "watch the logs")
	decided(at(12, 20, 0, 0), "A13", allow, an(gatehouse.ClassRead, 5, "reads files", "/var/log/app.log"))
	started(at(12, 20, 0, 2), "A13")

	add(at(12, 30, 0, 0), gatehouse.EventSession, "sess-claude", gatehouse.SessionEvent{Agent: "claude-code", Event: "SessionEnd"})

	var c gatehouse.Chain
	for i := range evs {
		evs[i] = c.Link(evs[i])
	}
	return evs
}

// traceFor is a fixed trace id per fixture action.
func traceFor(id string) string {
	const hex = "0123456789abcdef"
	b := []byte("4bf92f3577b34da6a3ce929d0e0e0000")
	for i := 0; i < len(id); i++ {
		b[len(b)-len(id)+i] = hex[id[i]%16]
	}
	return string(b)
}

// readJournal reads testdata/journal.jsonl, checking that it is one
// unbroken chain (it is a journal as a store would hold it).
func readJournal(tb testing.TB) []gatehouse.Event {
	tb.Helper()
	f, err := os.Open(journalFile)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var evs []gatehouse.Event
	var c gatehouse.Chain
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e gatehouse.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			tb.Fatal(err)
		}
		if err := c.Check(e); err != nil {
			tb.Fatalf("%s: %v", journalFile, err)
		}
		evs = append(evs, e)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return evs
}

// TestJournalFixture keeps testdata/journal.jsonl what fixtureEvents
// builds (-update-journal rewrites it).
func TestJournalFixture(t *testing.T) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, e := range fixtureEvents(t) {
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	if *updateJournal {
		if err := os.WriteFile(journalFile, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(journalFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, buf.Bytes()) {
		t.Errorf("%s differs from fixtureEvents; run go test ./internal/report -run TestJournalFixture -update-journal", journalFile)
	}
	readJournal(t)
}
