package daemon_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
	"github.com/gatehouse-dev/gatehouse/internal/daemon"
)

// serve --otlp-endpoint: the span a real daemon exports for an action has
// the trace and span ids the action's process got as TRACEPARENT — so the
// spans an application makes under TRACEPARENT join it.
func TestDaemonExportsSpans(t *testing.T) {
	spans := make(chan *tracepb.Span, 16)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ex coltracepb.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(b, &ex) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		for _, rs := range ex.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					spans <- sp
				}
			}
		}
	}))
	defer rcv.Close()

	cfg := daemon.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.StateDir = filepath.Join(t.TempDir(), "state")
	cfg.Policy = filepath.Join(t.TempDir(), "policy.yaml")
	cfg.OTLPEndpoint = rcv.URL
	if err := os.WriteFile(cfg.Policy, []byte("version: 1\ndefault: allow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Wait(ctx) }()
	admin, err := daemon.ReadAdminToken(cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + d.Addr()
	tok, err := client.New(url, admin).AddAgent(ctx, "ci")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	a, err := client.New(url, tok.Token).Run(ctx, gatehouse.RunRequest{Shell: true, Command: "echo $TRACEPARENT", Cwd: t.TempDir(), Session: "s1"},
		client.RunOptions{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	// A clean stop sends what is queued.
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(spans)
	var got []*tracepb.Span
	for sp := range spans {
		got = append(got, sp)
	}
	if len(got) != 1 {
		t.Fatalf("%d spans exported, want 1 (one action)", len(got))
	}
	tp := strings.TrimSpace(out.String()) // what the process got
	want := "00-" + hex.EncodeToString(got[0].TraceId) + "-" + hex.EncodeToString(got[0].SpanId) + "-01"
	if tp != want || tp != a.Traceparent() {
		t.Errorf("the process's TRACEPARENT %q, the span's ids %q, the action's %q: all three must agree", tp, want, a.Traceparent())
	}
}
