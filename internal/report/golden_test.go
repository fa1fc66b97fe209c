package report_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// inputFrom builds a report's input from a journal as the gateway does
// from a store: the actions the query selects, the halt and session
// events, and the actions halts name that the query did not select.
func inputFrom(tb testing.TB, evs []gatehouse.Event, q report.Query, now time.Time) *report.Input {
	tb.Helper()
	actions := map[string]*gatehouse.Action{}
	var order []string
	in := &report.Input{Query: q, Now: now, Related: map[string]*gatehouse.Action{}}
	for _, e := range evs {
		switch {
		case e.Type.IsAction():
			a := actions[e.Subject]
			if a == nil {
				a = &gatehouse.Action{}
				actions[e.Subject] = a
				order = append(order, e.Subject)
			}
			if err := a.Apply(e); err != nil {
				tb.Fatal(err)
			}
		case e.Type == gatehouse.EventHaltIssued || e.Type == gatehouse.EventHaltLifted || e.Type == gatehouse.EventSession:
			in.Events = append(in.Events, e)
		}
	}
	for _, id := range order {
		a := actions[id]
		if (q.Since.IsZero() || !a.Time.Before(q.Since)) && (q.Until.IsZero() || a.Time.Before(q.Until)) &&
			(q.Agent == "" || a.Agent == q.Agent) && (q.Session == "" || a.Session == q.Session) {
			in.Actions = append(in.Actions, a)
		}
	}
	slices.SortStableFunc(in.Actions, func(a, b *gatehouse.Action) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, a := range actions {
		if !slices.Contains(in.Actions, a) {
			in.Related[a.ID] = a
		}
	}
	return in
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test ./internal/report -update and review the diff):\n%s", path, firstDiff(want, got))
	}
}

func firstDiff(want, got []byte) string {
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := range max(len(wl), len(gl)) {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + itoa(i+1) + ":\n want: " + w + "\n  got: " + g
		}
	}
	return ""
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(i)) }

func fmtInt(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// TestGolden renders the fixture's incident in each format.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		q    report.Query
	}{
		{"incident", report.Query{Since: fixtureSince, Until: fixtureNow}},
		{"incident-ci", report.Query{Since: fixtureSince, Until: fixtureNow, Agent: "ci"}},
		// Nothing in the window: every section empty.
		{"incident-empty", report.Query{Since: fixtureNow, Until: fixtureNow.Add(time.Hour), Session: "none"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := report.Build(inputFrom(t, readJournal(t), tc.q, fixtureNow))
			for _, f := range []struct {
				ext    string
				render func(*bytes.Buffer, *report.Report) error
			}{
				{"json", func(b *bytes.Buffer, r *report.Report) error { return report.JSON(b, r) }},
				{"md", func(b *bytes.Buffer, r *report.Report) error { return report.Markdown(b, r) }},
				{"html", func(b *bytes.Buffer, r *report.Report) error { return report.HTML(b, r) }},
			} {
				var b bytes.Buffer
				if err := f.render(&b, r); err != nil {
					t.Fatal(err)
				}
				golden(t, tc.name+"."+f.ext, b.Bytes())
			}
		})
	}
}

// The HTML page is one file: nothing in it fetches anything, and what
// the journal holds is text, never markup.
func TestHTMLSelfContained(t *testing.T) {
	evs := readJournal(t)
	r := report.Build(inputFrom(t, evs, report.Query{Since: fixtureSince}, fixtureNow))
	r.Timeline[0].Command = `</code><script>alert(1)</script><img src=x onerror=alert(2)>`
	var b bytes.Buffer
	if err := report.HTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if tag := regexp.MustCompile(`<[a-zA-Z][^>]*\s(src|href)=`).FindString(page); tag != "" {
		t.Errorf("the page has a tag that refers elsewhere: %s", tag)
	}
	for _, bad := range []string{"<link", "url(", "@import", "<iframe", "<object", "<script>alert", "<img", "<out>"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	for _, want := range []string{"Content-Security-Policy", "default-src 'none'", "<svg id=\"chart\"", "&lt;out&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// One bar per action.
	if n := strings.Count(page, "<rect "); n != len(r.Timeline) {
		t.Errorf("%d bars for %d actions", n, len(r.Timeline))
	}
}
