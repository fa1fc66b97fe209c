package daemon_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
	"github.com/gatehouse-dev/gatehouse/internal/daemon"
)

// startDaemon starts a real daemon on a free loopback port with its state
// in a temporary directory, and returns a client holding a new agent's
// token.
func startDaemon(tb testing.TB) (*daemon.Daemon, *client.Client) {
	return startDaemonPolicy(tb, "version: 1\ndefault: allow\n")
}

// startDaemonPolicy is startDaemon with the given policy file.
func startDaemonPolicy(tb testing.TB, pol string) (*daemon.Daemon, *client.Client) {
	tb.Helper()
	d, c, _ := startDaemonToken(tb, pol)
	return d, c
}

// startDaemonToken is startDaemonPolicy, returning the agent's token too.
func startDaemonToken(tb testing.TB, pol string) (*daemon.Daemon, *client.Client, string) {
	tb.Helper()
	cfg := daemon.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.StateDir = filepath.Join(tb.TempDir(), "state")
	cfg.Policy = filepath.Join(tb.TempDir(), "policy.yaml")
	if err := os.WriteFile(cfg.Policy, []byte(pol), 0o600); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Wait(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
	admin, err := daemon.ReadAdminToken(cfg.StateDir)
	if err != nil {
		tb.Fatal(err)
	}
	url := "http://" + d.Addr()
	tok, err := client.New(url, admin).AddAgent(ctx, "bench")
	if err != nil {
		tb.Fatal(err)
	}
	return d, client.New(url, tok.Token), tok.Token
}

// BenchmarkApprovalRoundTrip measures what a reviewer waits for after
// approving: from the approve request (as gatehouse approve sends it) to
// the waiting agent's command being journaled as started and its process
// launched. Each iteration: an agent's run is held for review; once it is
// pending, a reviewer approves it; the clock stops when the agent's client
// receives the started frame.
func BenchmarkApprovalRoundTrip(b *testing.B) {
	d, agent := startDaemonPolicy(b, "version: 1\ndefault: review\napproval_timeout: 1h\n")
	admin, _ := daemon.ReadAdminToken(filepath.Dir(d.Store()))
	url := "http://" + d.Addr()
	tok, err := client.New(url, admin).AddIdentity(context.Background(), "alice", gatehouse.RoleReviewer)
	if err != nil {
		b.Fatal(err)
	}
	reviewer := client.New(url, tok.Token)
	dir := b.TempDir()
	var rt []time.Duration
	b.ResetTimer()
	for range b.N {
		pending := make(chan string, 1)
		started := make(chan time.Time, 1)
		done := make(chan error, 1)
		go func() {
			_, err := agent.Run(context.Background(), gatehouse.RunRequest{Argv: []string{"/bin/true"}, Cwd: dir}, client.RunOptions{
				Pending: func(a *gatehouse.Action) { pending <- a.ID },
				Started: func(*gatehouse.Action) { started <- time.Now() },
			})
			done <- err
		}()
		id := <-pending
		t0 := time.Now()
		if _, err := reviewer.Review(context.Background(), id, gatehouse.VerdictApprove, gatehouse.ReviewRequest{}); err != nil {
			b.Fatal(err)
		}
		t1 := <-started
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		rt = append(rt, t1.Sub(t0))
	}
	b.StopTimer()
	b.ReportMetric(ms(median(rt)), "approve-to-start-median-ms")
	b.ReportMetric(0, "ns/op")
}

func runTrue(tb testing.TB, c *client.Client, dir string) {
	a, err := c.Run(context.Background(), gatehouse.RunRequest{Argv: []string{"/bin/true"}, Cwd: dir}, client.RunOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	if a.Status != gatehouse.StatusSucceeded {
		tb.Fatalf("status %s", a.Status)
	}
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkOverhead measures what the gateway adds to running a command:
// each iteration fork/execs /bin/true directly and runs it through the API
// (client → daemon → journal write-ahead, synced → exec → journal end,
// synced → client), alternately, so both see the same machine state. It
// reports the median of each and their difference.
func BenchmarkOverhead(b *testing.B) {
	_, c := startDaemon(b)
	dir := b.TempDir()
	for range 20 { // warm the connection, the page cache and the WAL
		runTrue(b, c, dir)
	}
	var direct, api []time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		runTrue(b, c, dir)
		t2 := time.Now()
		direct = append(direct, t1.Sub(t0))
		api = append(api, t2.Sub(t1))
	}
	b.StopTimer()
	md, ma := median(direct), median(api)
	b.ReportMetric(ms(md), "direct-median-ms")
	b.ReportMetric(ms(ma), "api-median-ms")
	b.ReportMetric(ms(ma-md), "added-median-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkRunProcess compares the whole `gatehouse run -- /bin/true`
// process (start of the CLI binary, its request, the daemon's work) with
// running /bin/true itself, alternately.
func BenchmarkRunProcess(b *testing.B) {
	d, _, token := startDaemonToken(b, "version: 1\ndefault: allow\n")
	bin := filepath.Join(b.TempDir(), "gatehouse")
	build := exec.Command("go", "build", "-o", bin, "github.com/gatehouse-dev/gatehouse/cmd/gatehouse")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	env := append(os.Environ(), "GATEHOUSE_URL=http://"+d.Addr(), "GATEHOUSE_TOKEN="+token)
	run := func() {
		cmd := exec.Command(bin, "run", "--", "/bin/true")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("gatehouse run: %v\n%s", err, out)
		}
	}
	for range 5 {
		run()
	}
	var direct, whole []time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		run()
		t2 := time.Now()
		direct = append(direct, t1.Sub(t0))
		whole = append(whole, t2.Sub(t1))
	}
	b.StopTimer()
	md, mw := median(direct), median(whole)
	b.ReportMetric(ms(md), "direct-median-ms")
	b.ReportMetric(ms(mw), "gatehouse-run-median-ms")
	b.ReportMetric(ms(mw-md), "added-median-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkShProcess compares the whole `gatehouse sh -c true` process,
// with an empty pipe as its stdin — so it takes the full-duplex path, as a
// harness's does — with `sh -c true` itself, alternately.
func BenchmarkShProcess(b *testing.B) {
	d, _, token := startDaemonToken(b, "version: 1\ndefault: allow\n")
	bin := filepath.Join(b.TempDir(), "gatehouse")
	build := exec.Command("go", "build", "-o", bin, "github.com/gatehouse-dev/gatehouse/cmd/gatehouse")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	env := append(os.Environ(), "GATEHOUSE_URL=http://"+d.Addr(), "GATEHOUSE_TOKEN="+token)
	dir := b.TempDir()
	run := func(name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Env, cmd.Dir = env, dir
		cmd.Stdin = strings.NewReader("") // a pipe
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", name, err, out)
		}
	}
	for range 5 {
		run(bin, "sh", "-c", "true")
	}
	var direct, whole []time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		run("/bin/sh", "-c", "true")
		t1 := time.Now()
		run(bin, "sh", "-c", "true")
		t2 := time.Now()
		direct = append(direct, t1.Sub(t0))
		whole = append(whole, t2.Sub(t1))
	}
	b.StopTimer()
	md, mw := median(direct), median(whole)
	b.ReportMetric(ms(md), "direct-median-ms")
	b.ReportMetric(ms(mw), "gatehouse-sh-median-ms")
	b.ReportMetric(ms(mw-md), "added-median-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkOverheadStdin is what sending stdin costs a run through the
// API: /bin/true without stdin and with an empty one (the request goes
// full duplex, the answer begins at once, the stdin frames are read and
// the end of the body is the command's end of file), alternately.
func BenchmarkOverheadStdin(b *testing.B) {
	_, c := startDaemon(b)
	dir := b.TempDir()
	run := func(stdin io.Reader) {
		a, err := c.Run(context.Background(), gatehouse.RunRequest{Argv: []string{"/bin/true"}, Cwd: dir}, client.RunOptions{Stdin: stdin})
		if err != nil {
			b.Fatal(err)
		}
		if a.Status != gatehouse.StatusSucceeded {
			b.Fatalf("status %s", a.Status)
		}
	}
	for range 20 {
		run(nil)
		run(strings.NewReader(""))
	}
	var plain, stdin []time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		run(nil)
		t1 := time.Now()
		run(strings.NewReader(""))
		t2 := time.Now()
		plain = append(plain, t1.Sub(t0))
		stdin = append(stdin, t2.Sub(t1))
	}
	b.StopTimer()
	mp, ms2 := median(plain), median(stdin)
	b.ReportMetric(ms(mp), "no-stdin-median-ms")
	b.ReportMetric(ms(ms2), "stdin-median-ms")
	b.ReportMetric(ms(ms2-mp), "added-median-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkRunConcurrent64 is the whole path under load: 64 clients each
// running /bin/true through the API as fast as they can. Exec, not the
// journal, bounds it; see the sqlite package's BenchmarkAppendAction64 for
// the journal alone.
func BenchmarkRunConcurrent64(b *testing.B) {
	_, c := startDaemon(b)
	dir := b.TempDir()
	runTrue(b, c, dir)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan struct{})
	go func() {
		for range b.N {
			next <- struct{}{}
		}
		close(next)
	}()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				runTrue(b, c, dir)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "actions/s")
}

// BenchmarkHalt100 measures the kill switch: 100 actions run `sleep 300`
// (each its own process); the clock starts when the halt request is sent
// and stops when all 100 actions are journaled as ended — by then each
// one's processes are gone and reaped (the executor returns only then).
func BenchmarkHalt100(b *testing.B) {
	d, agent := startDaemon(b)
	admin, _ := daemon.ReadAdminToken(filepath.Dir(d.Store()))
	op := client.New("http://"+d.Addr(), admin)
	dir := b.TempDir()
	var took []time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		var started, ended sync.WaitGroup
		var endedAt sync.Map
		for i := range 100 {
			started.Add(1)
			ended.Add(1)
			go func() {
				defer ended.Done()
				a, _ := agent.Run(context.Background(), gatehouse.RunRequest{Argv: []string{"sleep", "300"}, Cwd: dir},
					client.RunOptions{Started: func(*gatehouse.Action) { started.Done() }})
				endedAt.Store(i, time.Now())
				if a == nil || a.Status != gatehouse.StatusInterrupted {
					b.Errorf("action not interrupted: %+v", a)
				}
			}()
		}
		started.Wait()
		b.StartTimer()
		t0 := time.Now()
		if _, err := op.Halt(context.Background(), gatehouse.HaltRequest{Scope: gatehouse.Scope{All: true}, Reason: "bench"}); err != nil {
			b.Fatal(err)
		}
		ended.Wait()
		var last time.Time
		endedAt.Range(func(_, v any) bool {
			if t := v.(time.Time); t.After(last) {
				last = t
			}
			return true
		})
		took = append(took, last.Sub(t0))
		b.StopTimer()
		if _, err := op.Resume(context.Background(), gatehouse.Scope{All: true}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(ms(median(took)), "halt-to-all-gone-median-ms")
	b.ReportMetric(0, "ns/op")
}
