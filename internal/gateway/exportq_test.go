package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/executor"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

// Export's selection: by time (found by bisection over the sequence), by
// cursor, by agent — the agent of each event, also for action events whose
// request came before the window.
func TestExportSelects(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	ev := func(min int, typ gatehouse.EventType, subject string, data any) gatehouse.Event {
		e, err := gatehouse.NewEvent(at(min), typ, subject, data)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	// An action of ci every 10 minutes (requested, finished 5 minutes
	// later), of bob in between, a session event and a halt of ci.
	var evs []gatehouse.Event
	for i := range 12 {
		agent := "ci"
		if i%2 == 1 {
			agent = "bob"
		}
		id := fmt.Sprintf("A%02d", i)
		evs = append(evs, ev(i*10, gatehouse.EventActionRequested, id, gatehouse.ActionRequested{Agent: agent, Kind: gatehouse.KindShell, Command: "x", Cwd: "/"}))
		evs = append(evs, ev(i*10+5, gatehouse.EventActionFinished, id, gatehouse.ActionFinished{Status: gatehouse.StatusDenied}))
	}
	evs = append(evs, ev(121, gatehouse.EventSession, "s1", gatehouse.SessionEvent{Agent: "bob", Event: "Stop"}),
		ev(122, gatehouse.EventHaltIssued, "h1", gatehouse.HaltIssued{Mode: gatehouse.ModeHalt, Scope: gatehouse.Scope{Agent: "ci"}, Reason: "r", By: "admin"}))
	for _, e := range evs {
		if _, err := s.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	gw := gateway.New(s, executor.New(executor.Config{}), gateway.Config{}, gateway.Options{
		AdminToken: "gadm_test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	admin, _ := gw.Authenticate(ctx, "gadm_test")

	for _, tc := range []struct {
		name string
		q    gateway.ExportQuery
		want []int64 // seqs
	}{
		{"all", gateway.ExportQuery{}, seqs(1, 26)},
		{"after", gateway.ExportQuery{After: 20}, seqs(21, 26)},
		{"after the end", gateway.ExportQuery{After: 26}, nil},
		{"since, exactly", gateway.ExportQuery{Since: at(55)}, seqs(12, 26)}, // A05 finished at 55
		{"since between events", gateway.ExportQuery{Since: at(56)}, seqs(13, 26)},
		{"since before the start", gateway.ExportQuery{Since: at(-100)}, seqs(1, 26)},
		{"since after the end", gateway.ExportQuery{Since: at(500)}, nil},
		{"until, exclusive", gateway.ExportQuery{Until: at(10)}, seqs(1, 2)},
		{"window", gateway.ExportQuery{Since: at(20), Until: at(40)}, seqs(5, 8)},
		{"window and cursor", gateway.ExportQuery{Since: at(20), Until: at(40), After: 6}, seqs(7, 8)},
		// ci's: its actions' both events (the finished ones judged by the
		// request, which is outside the window for A04's end at 45), and
		// the halt of ci.
		{"agent", gateway.ExportQuery{Agent: "ci", Since: at(45)}, []int64{10, 13, 14, 17, 18, 21, 22, 26}},
		{"session event's agent", gateway.ExportQuery{Agent: "bob", Since: at(120)}, []int64{25}},
	} {
		var got []int64
		err := gw.Export(ctx, admin, tc.q, func(e gateway.ExportedEvent) error {
			got = append(got, e.Seq)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: seqs %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, bad := range []gateway.ExportQuery{{After: -1}, {Since: at(10), Until: at(5)}} {
		if err := gw.Export(ctx, admin, bad, func(gateway.ExportedEvent) error { return nil }); gatehouse.ErrorCode(err) != gatehouse.EINVALID {
			t.Errorf("%+v: %v, want EINVALID", bad, err)
		}
	}
}

func seqs(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}
