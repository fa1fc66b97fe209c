package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/executor"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/report"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

// loadJournal appends the events of a JSONL journal (as the report's
// fixture holds it) to a new store, in order and with their times, so
// that the store holds the same chain.
func loadJournal(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	s, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "gatehouse.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e gatehouse.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			tb.Fatal(err)
		}
		linked, err := s.Append(context.Background(), gatehouse.Event{Time: e.Time, Type: e.Type, Subject: e.Subject, Data: e.Data})
		if err != nil {
			tb.Fatal(err)
		}
		if linked[0].Hash != e.Hash {
			tb.Fatalf("event %d: stored with hash %s, the journal says %s", e.Seq, linked[0].Hash, e.Hash)
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return s
}

// The gateway reads from a real store what the report's golden files were
// made from: the same report comes out.
func TestIncidentFromStore(t *testing.T) {
	s := loadJournal(t, "../report/testdata/journal.jsonl")
	now := time.Date(2026, 12, 4, 13, 0, 0, 0, time.UTC)
	gw := gateway.New(s, executor.New(executor.Config{}), gateway.Config{}, gateway.Options{
		AdminToken: "gadm_test", Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	admin, err := gw.Authenticate(context.Background(), "gadm_test")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		golden string
		q      report.Query
	}{
		{"incident.json", report.Query{Since: now.Add(-time.Hour), Until: now}},
		{"incident-ci.json", report.Query{Since: now.Add(-time.Hour), Until: now, Agent: "ci"}},
	} {
		r, err := gw.Incident(context.Background(), admin, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := report.JSON(&got, r); err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("../report/testdata", tc.golden))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("the report from the store differs from %s:\n%s", tc.golden, got.String())
		}
	}

	_, err = gw.Incident(context.Background(), admin, report.Query{Since: now, Until: now.Add(-time.Second)})
	if gatehouse.ErrorCode(err) != gatehouse.EINVALID {
		t.Errorf("until before since: %v, want EINVALID", err)
	}
}

func TestIncidentNeedsAReader(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	if _, err := f.gw.Incident(context.Background(), f.agent, report.Query{}); gatehouse.ErrorCode(err) != gatehouse.EFORBIDDEN {
		t.Errorf("an agent asked for the report: %v, want EFORBIDDEN", err)
	}
}
