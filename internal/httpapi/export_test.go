package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
	"github.com/gatehouse-dev/gatehouse/internal/executor"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

// A SIEM can check what it receives: every exported line parses back into
// the event it was, whose hash HashEvent recomputes, each linked to the
// one before — markup-like and non-ASCII payloads included, byte for byte.
func TestExportLinesRecomputeTheirHashes(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	var evs []gatehouse.Event
	for i, cmd := range []string{`echo "<b>&amp;</b>" > /tmp/x`, "grep 'ü€\u2028' -r .", "printf '\\x00\\n'"} {
		id := string(rune('A' + i))
		e, _ := gatehouse.NewEvent(t0.Add(time.Duration(i)*time.Second), gatehouse.EventActionRequested, id,
			gatehouse.ActionRequested{Agent: "ci", Kind: gatehouse.KindShell, Command: cmd, Argv: []string{"/bin/sh", "-c", cmd}, Shell: true, Cwd: "/"})
		evs = append(evs, e)
	}
	if _, err := s.Append(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(s, executor.New(executor.Config{}), gateway.Config{}, gateway.Options{
		AdminToken: "gadm_test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(httpapi.NewServer(gw, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler())
	defer srv.Close()

	var out bytes.Buffer
	if err := client.New(srv.URL, "gadm_test").Export(ctx, client.ExportQuery{}, &out); err != nil {
		t.Fatal(err)
	}
	var chain gatehouse.Chain
	n := 0
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var line struct {
			gatehouse.Event
			Agent string `json:"agent"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if err := chain.Check(line.Event); err != nil {
			t.Errorf("line %d: %v", n+1, err)
		}
		if line.Agent != "ci" {
			t.Errorf("line %d: agent %q", n+1, line.Agent)
		}
		n++
	}
	if n != len(evs) {
		t.Errorf("%d lines, want %d", n, len(evs))
	}

	// The agent's token may not export.
	_, tok, err := gw.AddAgent(ctx, gatehouse.Principal{Name: "admin", Role: gatehouse.RoleAdmin}, "ci")
	if err != nil {
		t.Fatal(err)
	}
	err = client.New(srv.URL, tok).Export(ctx, client.ExportQuery{}, io.Discard)
	if gatehouse.ErrorCode(err) != gatehouse.EFORBIDDEN {
		t.Errorf("an agent exported: %v", err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/export?limit=3", nil)
	req.Header.Set("Authorization", "Bearer gadm_test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var er client.ErrorResponse
	json.NewDecoder(resp.Body).Decode(&er)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || er.Error.Code != gatehouse.EINVALID {
		t.Errorf("an unknown parameter: %s %+v, want 400 EINVALID", resp.Status, er)
	}
}

// A payload that is not one line of JSON (only a tampered journal holds
// one) is exported as a string, so that every line stays one JSON object.
func TestExportLineOfTamperedData(t *testing.T) {
	for _, data := range []string{"not json", "{\n\"a\": 1}"} {
		line := httpapi.AppendExportLine(nil, gateway.ExportedEvent{Seq: 1, Type: "x", Data: json.RawMessage(data)})
		var v struct {
			Data string `json:"data"`
		}
		if bytes.Count(line, []byte("\n")) != 1 || json.Unmarshal(line, &v) != nil || v.Data != data {
			t.Errorf("data %q: line %q", data, line)
		}
	}
}
