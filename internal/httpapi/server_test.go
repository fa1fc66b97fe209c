package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
	"github.com/gatehouse-dev/gatehouse/internal/daemon"
)

// startDaemon starts a real daemon with policy pol on a free loopback
// port and returns its address, an agent's token and an admin client.
func startDaemon(t *testing.T, pol string) (string, string, *client.Client) {
	t.Helper()
	dir := t.TempDir()
	cfg := daemon.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.Policy = filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(cfg.Policy, []byte(pol), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Wait(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	adminTok, err := daemon.ReadAdminToken(cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	admin := client.New("http://"+d.Addr(), adminTok)
	tok, err := admin.AddAgent(ctx, "raw")
	if err != nil {
		t.Fatal(err)
	}
	return d.Addr(), tok.Token, admin
}

// rawRun is a run request written by hand on a TCP connection, its body
// chunked and left open: what a client in any language, or a killed one,
// does on the wire.
type rawRun struct {
	conn net.Conn
	r    *bufio.Reader
}

func startRaw(t *testing.T, addr, token string, req gatehouse.RunRequest) *rawRun {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	head, _ := json.Marshal(req)
	fmt.Fprintf(conn, "POST /v1/run HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", addr, token)
	rr := &rawRun{conn: conn, r: bufio.NewReader(conn)}
	rr.chunk(t, string(head)+"\n")
	resp, err := http.ReadResponse(rr.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	rr.r = bufio.NewReader(resp.Body)
	return rr
}

func (rr *rawRun) chunk(t *testing.T, s string) {
	t.Helper()
	if _, err := fmt.Fprintf(rr.conn, "%x\r\n%s\r\n", len(s), s); err != nil {
		t.Fatal(err)
	}
}

// frame reads the next frame of the answer.
func (rr *rawRun) frame(t *testing.T) client.Frame {
	t.Helper()
	line, err := rr.r.ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	var f client.Frame
	if err := json.Unmarshal(line, &f); err != nil {
		t.Fatalf("frame %q: %v", line, err)
	}
	return f
}

// until reads frames until one of type typ.
func (rr *rawRun) until(t *testing.T, typ string) client.Frame {
	t.Helper()
	for {
		if f := rr.frame(t); f.Type == typ {
			return f
		} else if f.Type == client.FrameFinished || f.Type == client.FrameError {
			t.Fatalf("stream ended (%s %+v) before a %s frame", f.Type, f.Action, typ)
		}
	}
}

// A client that dies while its command runs, stdin still open, does not
// leave the command running.
func TestKilledClientKillsCommand(t *testing.T) {
	addr, token, admin := startDaemon(t, "version: 1\ndefault: allow\n")
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	rr := startRaw(t, addr, token, gatehouse.RunRequest{Shell: true, Stdin: true, Cwd: dir,
		Command: "echo $$ > " + pidFile + "; echo ready; exec sleep 300"})
	started := rr.until(t, client.FrameStarted)
	rr.until(t, client.FrameStdout)
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	rr.conn.Close() // as a killed client's kernel would

	for range 3000 { // bounded: the kill grace is 5s
		if syscall.Kill(pid, 0) != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if syscall.Kill(pid, 0) == nil {
		t.Fatalf("the command (pid %d) still runs after its client went", pid)
	}
	a := waitEnded(t, admin, started.Action.ID)
	if a.Status != gatehouse.StatusInterrupted {
		t.Errorf("status %s (%s), want interrupted", a.Status, a.Error)
	}
}

// A malformed stdin frame ends the run: the command is interrupted, not
// handed an end of file it would take for the end of its input.
func TestBadStdinFrameInterrupts(t *testing.T) {
	addr, token, _ := startDaemon(t, "version: 1\ndefault: allow\n")
	dir := t.TempDir()
	mark := filepath.Join(dir, "went-on")
	rr := startRaw(t, addr, token, gatehouse.RunRequest{Shell: true, Stdin: true, Cwd: dir,
		Command: "cat; touch " + mark})
	rr.until(t, client.FrameStarted)
	rr.chunk(t, `{"type":"stdin","data":"aGVsbG8K"}`+"\n")
	if f := rr.until(t, client.FrameStdout); string(f.Data) != "hello\n" {
		t.Fatalf("stdout %q", f.Data)
	}
	rr.chunk(t, `{"type":"stdout","data":"aGVsbG8K"}`+"\n")
	f := rr.until(t, client.FrameFinished)
	if f.Action.Status != gatehouse.StatusInterrupted || !strings.Contains(f.Action.Error, `the client's stdin stream broke: unexpected frame of type "stdout"`) {
		t.Errorf("finished %s %q, want interrupted for the bad frame", f.Action.Status, f.Action.Error)
	}
	if f.Action.StdinBytes != 6 {
		t.Errorf("stdin_bytes %d, want 6", f.Action.StdinBytes)
	}
	if _, err := os.Stat(mark); err == nil {
		t.Errorf("the command went on as if its input had ended")
	}
}

// While an action with stdin waits for review the daemon reads the open
// body, so a client that goes away is seen at once: the wait is given up
// (the action stays pending) and another client can attach to it.
func TestStdinClientGoneWhilePending(t *testing.T) {
	addr, token, _ := startDaemon(t, "version: 1\ndefault: review\napproval_timeout: 1h\n")
	dir := t.TempDir()
	req := gatehouse.RunRequest{Argv: []string{"cat"}, Stdin: true, Cwd: dir}
	rr := startRaw(t, addr, token, req)
	pending := rr.until(t, client.FramePending)
	rr.conn.Close()

	agent := client.New("http://"+addr, token)
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, err := agent.Attach(ctx, pending.Action.ID, req, client.RunOptions{Stdin: strings.NewReader("x")})
		cancel()
		code := gatehouse.ErrorCode(err)
		if code == gatehouse.EUNAVAILABLE {
			break // attached, and waited until the timeout: the old wait was given up
		}
		if code != gatehouse.ECONFLICT || i == 3000 {
			t.Fatalf("attach: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitEnded(t *testing.T, admin *client.Client, id string) *gatehouse.Action {
	t.Helper()
	for range 3000 {
		a, err := admin.Action(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Status.Final() {
			return a
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("action %s did not end", id)
	return nil
}
