package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// BenchmarkActivityPageHTTP times a signed-in GET of the activity page —
// the keyset query, the halts and pending count, and rendering 50 rows —
// with 100,000 actions in the store, as a browser asks for it. One op is
// one page.
func BenchmarkActivityPageHTTP(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 100,000-action journal")
	}
	e := newEnv(b, envOpts{})
	ctx := context.Background()
	const n = 100_000
	t0 := time.Now().Add(-24 * time.Hour)
	systems := []string{"", "prod-db", "staging", "github", "k8s-eu"}
	var batch []gatehouse.Event
	for i := range n {
		id := fmt.Sprintf("01JHTTP%019d", i)
		at := t0.Add(time.Duration(i) * (24 * time.Hour / n))
		agent := fmt.Sprintf("agent-%02d", i%20)
		req, _ := gatehouse.NewEvent(at, gatehouse.EventActionRequested, id, gatehouse.ActionRequested{
			Agent: agent, Session: fmt.Sprintf("%s-s%d", agent, i/2000), Kind: gatehouse.KindShell,
			Argv: []string{"/bin/sh", "-c", fmt.Sprintf("make deploy-%d", i)}, Command: fmt.Sprintf("make deploy-%d", i),
			Shell: true, Cwd: "/srv", System: systems[i%len(systems)], Intent: "ship the release", TraceID: "t"})
		dec, _ := gatehouse.NewEvent(at, gatehouse.EventActionDecided, id, gatehouse.ActionDecided{Decision: gatehouse.DefaultDecision,
			Analysis: &gatehouse.Analysis{Class: gatehouse.ClassWrite, Risk: (i * 37) % 100, Reasons: []string{"builds"}}})
		start, _ := gatehouse.NewEvent(at, gatehouse.EventActionStarted, id, gatehouse.ActionStarted{})
		code, dur := 0, 1834.2
		fin, _ := gatehouse.NewEvent(at.Add(time.Second), gatehouse.EventActionFinished, id, gatehouse.ActionFinished{
			Status: gatehouse.StatusSucceeded, ExitCode: &code, DurationMS: &dur, Stdout: "ok\n", StdoutBytes: 3})
		batch = append(batch, req, dec, start, fin)
		if len(batch) >= 8000 || i == n-1 {
			if _, err := e.store.Append(ctx, batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	c := e.client()
	e.signIn(c, e.reviewer)
	deep := gatehouse.Cursor{Time: t0.Add(12 * time.Hour), ID: "01JHTTP9"}.String()
	for _, bc := range []struct{ name, query string }{
		{"newest", ""},
		{"deep", "before=" + url.QueryEscape(deep)},
		{"agent", "agent=agent-07"},
		{"system-risk", "system=prod-db&risk=90"},
		{"text", "q=deploy-4242"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var rows int
			start := time.Now()
			for b.Loop() {
				resp, body := e.do(c, "GET", "/?"+bc.query, nil)
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("GET: %d", resp.StatusCode)
				}
				rows = strings.Count(body, "<tr data-id=")
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/op")
			b.ReportMetric(float64(rows), "rows/op")
		})
	}
}
