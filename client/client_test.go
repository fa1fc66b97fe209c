package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
	"github.com/gatehouse-dev/gatehouse/internal/daemon"
)

func TestDefaultURL(t *testing.T) {
	if want := "http://" + daemon.DefaultListen; client.DefaultURL != want {
		t.Errorf("client.DefaultURL = %q, the daemon listens at %q", client.DefaultURL, want)
	}
}

func TestFromEnv(t *testing.T) {
	url, token := os.Getenv("GATEHOUSE_URL"), os.Getenv("GATEHOUSE_TOKEN")
	tests := []struct {
		name, url, token string
		wantURL          string
		code             string
	}{
		{"both", "http://127.0.0.1:9/", "gat_x", "http://127.0.0.1:9", ""},
		{"default URL", "", "gat_x", client.DefaultURL, ""},
		{"no token", "http://127.0.0.1:9", "", "", gatehouse.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GATEHOUSE_URL", tt.url)
			t.Setenv("GATEHOUSE_TOKEN", tt.token)
			c, err := client.FromEnv()
			if got := gatehouse.ErrorCode(err); got != tt.code {
				t.Fatalf("error %v (%s), want code %q", err, got, tt.code)
			}
			if err == nil && c.URL() != tt.wantURL {
				t.Errorf("URL %q, want %q", c.URL(), tt.wantURL)
			}
		})
	}
	os.Setenv("GATEHOUSE_URL", url)
	os.Setenv("GATEHOUSE_TOKEN", token)
}

// agent is a client of the examples' daemon with the agent's token.
func agent(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestErrorCodes(t *testing.T) {
	ctx := context.Background()
	url := os.Getenv("GATEHOUSE_URL")
	admin := client.New(url, os.Getenv("GATEHOUSE_ADMIN_TOKEN"))
	run := gatehouse.RunRequest{Argv: []string{"true"}, Cwd: workDir}

	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	// A server that is not a gateway.
	notGateway := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>oops</html>", http.StatusBadGateway)
	})}
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go notGateway.Serve(l2)
	defer notGateway.Close()

	cancelled, cancel := context.WithCancel(ctx)
	cancel()

	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"unreachable", func() error { return client.New(closed, "x").Health(ctx) }, gatehouse.EUNAVAILABLE},
		{"not a gateway", func() error { _, err := client.New("http://"+l2.Addr().String(), "x").Pending(ctx); return err }, gatehouse.EUNAVAILABLE},
		{"bad URL", func() error { return client.New("http://[::1", "x").Health(ctx) }, gatehouse.EINVALID},
		{"bad token", func() error { _, err := client.New(url, "gat_nonsense").Run(ctx, run, client.RunOptions{}); return err }, gatehouse.EUNAUTHORIZED},
		{"admin runs", func() error { _, err := admin.Run(ctx, run, client.RunOptions{}); return err }, gatehouse.EFORBIDDEN},
		{"agent reads the journal", func() error { _, err := agent(t).Actions(ctx, client.ActionQuery{}); return err }, gatehouse.EFORBIDDEN},
		{"bad request", func() error {
			_, err := agent(t).Run(ctx, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: "relative"}, client.RunOptions{})
			return err
		}, gatehouse.EINVALID},
		{"bad query", func() error { _, err := admin.Actions(ctx, client.ActionQuery{Status: "weird"}); return err }, gatehouse.EINVALID},
		{"unknown action", func() error { _, err := admin.Action(ctx, "01ARZ3NDEKTSV4RRFFQ69G5FAV"); return err }, gatehouse.ENOTFOUND},
		{"taken name", func() error { _, err := admin.AddAgent(ctx, "example-agent"); return err }, gatehouse.ECONFLICT},
		{"bad verdict", func() error { _, err := admin.Review(ctx, "x", "maybe", gatehouse.ReviewRequest{}); return err }, gatehouse.EINVALID},
		{"refused", func() error {
			_, err := agent(t).Run(ctx, gatehouse.RunRequest{Shell: true, Command: "rm -rf /tmp/x", Cwd: workDir}, client.RunOptions{})
			return err
		}, gatehouse.EREFUSED},
		{"cancelled", func() error { _, err := agent(t).Run(cancelled, run, client.RunOptions{}); return err }, gatehouse.EUNAVAILABLE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var ge *gatehouse.Error
			if !errors.As(err, &ge) {
				t.Fatalf("error %v (%T) is not a *gatehouse.Error", err, err)
			}
			if ge.Code != tt.code {
				t.Errorf("code %s (%v), want %s", ge.Code, err, tt.code)
			}
			if ge.Message == "" {
				t.Errorf("no message")
			}
		})
	}
	if _, err := agent(t).Run(cancelled, run, client.RunOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v does not wrap context.Canceled", err)
	}
}

// zeros is an endless stdin.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// breaking gives some input, then fails.
type breaking struct{ sent bool }

func (b *breaking) Read(p []byte) (int, error) {
	if b.sent {
		return 0, errors.New("disk on fire")
	}
	b.sent = true
	return copy(p, "half a line"), nil
}

func TestRunStdin(t *testing.T) {
	ctx := context.Background()
	c := agent(t)
	big := bytes.Repeat([]byte("a line of input\n"), 1<<16) // 1 MiB
	never, _ := io.Pipe()
	tests := []struct {
		name    string
		command string
		stdin   io.Reader
		stdout  string
		exit    int
		given   int64 // StdinBytes, if >= 0
	}{
		{"through", "tr a-z A-Z", strings.NewReader("hello\n"), "HELLO\n", 0, 6},
		{"all of it", "wc -l", bytes.NewReader(big), "65536\n", 0, int64(len(big))},
		{"end of file", "cat; echo end", strings.NewReader(""), "end\n", 0, 0},
		{"ignored, endless", "echo ok; exit 4", zeros{}, "ok\n", 4, -1},
		{"ignored, never sent", "echo ok", never, "ok\n", 0, 0},
		{"read in part", "head -c 3; echo", io.LimitReader(zeros{}, 64<<20), "\x00\x00\x00\n", 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			a, err := c.Run(ctx, gatehouse.RunRequest{Shell: true, Command: tt.command, Cwd: workDir},
				client.RunOptions{Stdin: tt.stdin, Stdout: &out, Stderr: &out})
			if err != nil {
				t.Fatal(err)
			}
			if a.ExitCode == nil || *a.ExitCode != tt.exit {
				t.Errorf("exit %v, want %d (%s %s)", a.ExitCode, tt.exit, a.Status, a.Error)
			}
			if out.String() != tt.stdout {
				t.Errorf("output %q, want %q", out.String(), tt.stdout)
			}
			if !a.Stdin {
				t.Errorf("the action does not say it had stdin")
			}
			if tt.given >= 0 && a.StdinBytes != tt.given {
				t.Errorf("stdin_bytes %d, want %d", a.StdinBytes, tt.given)
			}
		})
	}
}

// A stdin that fails to read cuts the stream off: the command must not go
// on with half its input, so the action is interrupted and Run says why.
func TestRunStdinBroken(t *testing.T) {
	mark := filepath.Join(workDir, "went-on")
	a, err := agent(t).Run(context.Background(),
		gatehouse.RunRequest{Shell: true, Command: "cat >/dev/null; touch " + mark, Cwd: workDir},
		client.RunOptions{Stdin: &breaking{}})
	if gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE || !strings.Contains(gatehouse.ErrorMessage(err), "disk on fire") {
		t.Fatalf("error %v, want EUNAVAILABLE naming the stdin error", err)
	}
	if a == nil {
		t.Fatal("no action")
	}
	admin := client.New(os.Getenv("GATEHOUSE_URL"), os.Getenv("GATEHOUSE_ADMIN_TOKEN"))
	got := waitEnded(t, admin, a.ID)
	// The daemon sees the client go (its request was cut off).
	if got.Status != gatehouse.StatusInterrupted {
		t.Errorf("action %s: %s %q, want interrupted", got.ID, got.Status, got.Error)
	}
	if _, err := os.Stat(mark); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the command went on after its stdin broke (stat: %v)", err)
	}
}

// waitEnded waits for the daemon to journal the end of action id.
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
		sleep()
	}
	t.Fatalf("action %s did not end", id)
	return nil
}

func sleep() { time.Sleep(10 * time.Millisecond) }

// silent accepts connections, reads what comes, and never answers: a
// gateway that died, or hangs, after accepting a request.
// got receives once for each request, when its first bytes have come.
func silent(t *testing.T) (url string, got <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ch := make(chan struct{}, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				if _, err := c.Read(buf); err != nil {
					return
				}
				ch <- struct{}{}
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return "http://" + l.Addr().String(), ch
}

// A run with stdin whose answer never comes does not hang: it ends when
// ctx does, or when the answer is overdue. (The transport waits for the
// request body before it reports a failure, so this is the client's doing.)
func TestRunStdinNoAnswer(t *testing.T) {
	url, got := silent(t)
	req := gatehouse.RunRequest{Argv: []string{"cat"}, Cwd: workDir}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := client.New(url, "gat_x").Run(ctx, req, client.RunOptions{Stdin: strings.NewReader("x")})
		done <- err
	}()
	<-got // the request is on its way, its body open
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
		t.Errorf("cancelled: %v", err)
	}

	defer client.SetAnswerTimeout(50 * time.Millisecond)()
	_, err := client.New(url, "gat_x").Run(context.Background(), req, client.RunOptions{Stdin: strings.NewReader("x")})
	if gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE || !strings.Contains(gatehouse.ErrorMessage(err), "did not answer") {
		t.Errorf("no answer: %v", err)
	}
}

// TestDependencies proves what the package doc promises: beyond the
// standard library the client needs the domain package alone — nothing of
// the daemon's internals, which code outside this module could not import
// anyway, and no third-party module.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}",
		"github.com/gatehouse-dev/gatehouse/client").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/gatehouse-dev/gatehouse" && p != "github.com/gatehouse-dev/gatehouse/client" {
			t.Errorf("the client depends on %s", p)
		}
	}
}

// Runs with stdin and without, one after the other on one client: a run
// with stdin must not spoil the connection for the next request (it once
// did — the deadline that cuts its body off ended the connection's
// context, which a reused connection's next request inherited).
func TestRunStdinThenPlain(t *testing.T) {
	c := agent(t)
	req := gatehouse.RunRequest{Argv: []string{"true"}, Cwd: workDir}
	for i := range 100 {
		if _, err := c.Run(context.Background(), req, client.RunOptions{Stdin: strings.NewReader("")}); err != nil {
			t.Fatalf("%d, with stdin: %v", i, err)
		}
		if _, err := c.Run(context.Background(), req, client.RunOptions{}); err != nil {
			t.Fatalf("%d, without: %v", i, err)
		}
	}
}

// A refusal written before the request was read must leave the connection
// usable for the next request (with full duplex on every run it did not:
// net/http read the unread body after the handler and spoilt the next
// request on the connection).
func TestRefusalThenRun(t *testing.T) {
	url := os.Getenv("GATEHOUSE_URL")
	bad := client.New(url, "gat_nonsense")
	admin := client.New(url, os.Getenv("GATEHOUSE_ADMIN_TOKEN"))
	req := gatehouse.RunRequest{Argv: []string{"true"}, Cwd: workDir}
	for i := range 50 {
		for _, in := range []io.Reader{nil, strings.NewReader("x")} {
			if _, err := bad.Run(context.Background(), req, client.RunOptions{Stdin: in}); gatehouse.ErrorCode(err) != gatehouse.EUNAUTHORIZED {
				t.Fatalf("%d, bad token (stdin %v): %v", i, in != nil, err)
			}
			if _, err := admin.Run(context.Background(), req, client.RunOptions{}); gatehouse.ErrorCode(err) != gatehouse.EFORBIDDEN {
				t.Fatalf("%d, then the admin (after stdin %v): %v", i, in != nil, err)
			}
		}
	}
}

// ActionQuery's filters and cursors reach the daemon: by system, by
// risk, and a page at a time in either direction.
func TestActionsQuery(t *testing.T) {
	ctx := context.Background()
	ag := agent(t)
	admin := client.New(os.Getenv("GATEHOUSE_URL"), os.Getenv("GATEHOUSE_ADMIN_TOKEN"))
	system := "query-" + strings.ReplaceAll(t.Name(), "/", "-")
	// An action of another system, which the filter must leave out.
	if _, err := ag.Run(ctx, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: workDir, System: system + "-other"}, client.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, argv := range [][]string{{"true"}, {"echo", "two"}, {"rm", "-rf", "build"}} {
		a, err := ag.Run(ctx, gatehouse.RunRequest{Argv: argv, Cwd: workDir, System: system}, client.RunOptions{})
		if a == nil {
			t.Fatalf("run %q: %v", argv, err)
		}
		ids = append(ids, a.ID)
	}
	idsOf := func(q client.ActionQuery) []string {
		t.Helper()
		q.System = system
		acts, err := admin.Actions(ctx, q)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		var out []string
		for _, a := range acts {
			out = append(out, a.ID)
		}
		return out
	}
	all := idsOf(client.ActionQuery{})
	if strings.Join(all, " ") != strings.Join(ids, " ") {
		t.Fatalf("system %s: %v, want %v", system, all, ids)
	}
	if got := idsOf(client.ActionQuery{MinRisk: 50}); len(got) != 1 || got[0] != ids[2] {
		t.Errorf("risk >= 50: %v, want only the rm -rf %s", got, ids[2])
	}
	first, err := admin.Action(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	last, err := admin.Action(ctx, ids[2])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		q    client.ActionQuery
		want []string
	}{
		{"newest", client.ActionQuery{Limit: 1}, ids[2:]},
		{"oldest", client.ActionQuery{Limit: 1, Oldest: true}, ids[:1]},
		{"before the last", client.ActionQuery{Before: last.Cursor(), Limit: 1}, ids[1:2]},
		{"after the first", client.ActionQuery{After: first.Cursor(), Limit: 1, Oldest: true}, ids[1:2]},
		{"between", client.ActionQuery{After: first.Cursor(), Before: last.Cursor()}, ids[1:2]},
	}
	for _, tt := range tests {
		if got := idsOf(tt.q); strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if _, err := admin.Actions(ctx, client.ActionQuery{MinRisk: 101}); gatehouse.ErrorCode(err) != gatehouse.EINVALID {
		t.Errorf("risk 101: %v, want EINVALID", err)
	}
}
