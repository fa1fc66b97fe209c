package otel_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/otel"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

// receiver is an OTLP/HTTP trace receiver on loopback: it decodes each
// export request as the protocol defines it and keeps the spans.
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
	res   []*tracepb.ResourceSpans
	got   chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: make(chan struct{}, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "not an OTLP/HTTP trace export", http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(req.Body)
		var ex coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &ex); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, rs := range ex.ResourceSpans {
			r.res = append(r.res, rs)
			for _, ss := range rs.ScopeSpans {
				r.spans = append(r.spans, ss.Spans...)
			}
		}
		r.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
		r.got <- struct{}{}
	}))
	t.Cleanup(r.Close)
	return r
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openStore(t *testing.T) *sqlite.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// appendAction journals a whole action through s, as the gateway does.
func appendAction(t testing.TB, s gatehouse.Store, id string, status gatehouse.Status, code int) {
	t.Helper()
	ev := func(at time.Duration, typ gatehouse.EventType, data any) gatehouse.Event {
		e, err := gatehouse.NewEvent(t0.Add(at), typ, id, data)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	dur := 1500.0
	_, err := s.Append(context.Background(),
		ev(0, gatehouse.EventActionRequested, gatehouse.ActionRequested{Agent: "ci", Session: "s1", Kind: gatehouse.KindShell,
			Command: "make deploy", Argv: []string{"make", "deploy"}, Cwd: "/src", System: "staging", TraceID: traceOf(id)}),
		ev(0, gatehouse.EventActionDecided, gatehouse.ActionDecided{Decision: gatehouse.Decision{Effect: gatehouse.EffectAllow, Rule: "deploys"},
			Analysis: &gatehouse.Analysis{Class: gatehouse.ClassWrite, Risk: 40}}),
		ev(time.Millisecond, gatehouse.EventActionStarted, gatehouse.ActionStarted{}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Append(context.Background(), ev(1501*time.Millisecond, gatehouse.EventActionFinished,
		gatehouse.ActionFinished{Status: status, ExitCode: &code, DurationMS: &dur}))
	if err != nil {
		t.Fatal(err)
	}
}

func traceOf(id string) string {
	return fmt.Sprintf("%032x", []byte(id)[:min(16, len(id))])
}

func TestSpanPerAction(t *testing.T) {
	r := newReceiver(t)
	x, err := otel.New(context.Background(), otel.Config{Endpoint: r.URL, Version: "v9", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	s := x.Wrap(openStore(t))
	appendAction(t, s, "01JDSPAN000000000000000001", gatehouse.StatusFailed, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := x.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.spans) != 1 {
		t.Fatalf("%d spans arrived, want 1", len(r.spans))
	}
	sp := r.spans[0]
	a, err := s.Action(context.Background(), "01JDSPAN000000000000000001")
	if err != nil {
		t.Fatal(err)
	}
	// The action's own trace and span ids, so that the spans of the
	// application, parented on its TRACEPARENT, join it.
	if got := hex.EncodeToString(sp.TraceId); got != a.TraceID {
		t.Errorf("trace id %s, want the action's %s", got, a.TraceID)
	}
	if got := hex.EncodeToString(sp.SpanId); got != a.SpanID() || "00-"+a.TraceID+"-"+got+"-01" != a.Traceparent() {
		t.Errorf("span id %s, want the action's %s", got, a.SpanID())
	}
	if len(sp.ParentSpanId) != 0 {
		t.Errorf("parent span id %x: the action's span is a root", sp.ParentSpanId)
	}
	if sp.Name != "gatehouse shell" || sp.StartTimeUnixNano != uint64(t0.UnixNano()) ||
		sp.EndTimeUnixNano != uint64(t0.Add(1501*time.Millisecond).UnixNano()) {
		t.Errorf("span %q from %d to %d", sp.Name, sp.StartTimeUnixNano, sp.EndTimeUnixNano)
	}
	if sp.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("status %v, want an error for a failed action", sp.Status)
	}
	if len(sp.Events) != 1 || sp.Events[0].Name != "started" || sp.Events[0].TimeUnixNano != uint64(t0.Add(time.Millisecond).UnixNano()) {
		t.Errorf("events %v, want its start", sp.Events)
	}
	attrs := map[string]string{}
	for _, kv := range sp.Attributes {
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			attrs[kv.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			attrs[kv.Key] = fmt.Sprint(v.IntValue)
		default:
			t.Errorf("attribute %s: a %T", kv.Key, v)
		}
	}
	for k, want := range map[string]string{
		"gatehouse.agent": "ci", "gatehouse.session": "s1", "gatehouse.kind": "shell", "gatehouse.command": "make deploy",
		"gatehouse.system": "staging", "gatehouse.decision": "allow", "gatehouse.rule": "deploys", "gatehouse.status": "failed",
		"process.exit.code": "2", "gatehouse.action.id": a.ID, "gatehouse.class": "write", "gatehouse.risk": "40",
	} {
		if attrs[k] != want {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], want)
		}
	}
	var service string
	for _, kv := range r.res[0].Resource.Attributes {
		if kv.Key == "service.name" {
			service = kv.Value.GetStringValue()
		}
	}
	if service != "gatehouse" {
		t.Errorf("service.name %q", service)
	}
}

// A collector that is down, or that never answers, costs spans, never an
// action: every Append returns, and Shutdown gives up when told to.
func TestCollectorDownNeverBlocks(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	release := make(chan struct{})
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // holds every export until the client gives up, or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer stuck.Close()
	defer close(release)
	for name, endpoint := range map[string]string{"down": down, "stuck": stuck.URL} {
		t.Run(name, func(t *testing.T) {
			x, err := otel.New(context.Background(), otel.Config{Endpoint: endpoint, Queue: 16, Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			s := x.Wrap(openStore(t))
			for i := range 300 {
				appendAction(t, s, fmt.Sprintf("01JDDOWN%018d", i), gatehouse.StatusSucceeded, 0)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			_ = x.Shutdown(ctx) // an error: the spans could not be sent
			if got, err := s.Actions(context.Background(), gatehouse.ActionFilter{}); err != nil || len(got) != 300 {
				t.Errorf("%d actions journaled, %v; want all 300", len(got), err)
			}
		})
	}
}

func TestBadEndpoint(t *testing.T) {
	for _, e := range []string{"collector:4318", "ftp://x", "http://"} {
		if _, err := otel.New(context.Background(), otel.Config{Endpoint: e}); gatehouse.ErrorCode(err) != gatehouse.EINVALID {
			t.Errorf("endpoint %q: %v, want EINVALID", e, err)
		}
	}
}

func TestEnabled(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "TRUE"}, false},
	} {
		if got := otel.Enabled(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("%v: Enabled = %v", tc.env, got)
		}
	}
}
