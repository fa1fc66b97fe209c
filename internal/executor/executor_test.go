package executor_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gatehouse-dev/gatehouse/internal/executor"
	"github.com/gatehouse-dev/gatehouse/internal/redact"
)

// safety is a deadline for tests that would otherwise hang if the executor
// were broken. It is never what a test expects to happen.
const safety = 30 * time.Second

const stdPath = "PATH=/usr/local/bin:/usr/bin:/bin"

// testConfig uses a short grace so that tests that need SIGKILL are quick.
// GATEHOUSE_TEST_DISABLE_CGROUP=1 in the environment runs the tests that
// use it under the environ containment even where cgroups are usable
// (those of contain_test.go run under both anyway).
func testConfig() executor.Config {
	c := executor.DefaultConfig()
	c.KillGrace = 200 * time.Millisecond
	c.DisableCgroup = os.Getenv("GATEHOUSE_TEST_DISABLE_CGROUP") == "1"
	return c
}

func mustPrepare(tb testing.TB, e *executor.Executor, spec executor.Spec) executor.Prepared {
	tb.Helper()
	if spec.Env == nil {
		spec.Env = []string{stdPath}
	}
	p, err := e.Prepare(spec)
	if err != nil {
		tb.Fatalf("Prepare(%q): %v", spec.Argv, err)
	}
	return p
}

func mustRun(tb testing.TB, e *executor.Executor, spec executor.Spec) executor.Result {
	tb.Helper()
	p := mustPrepare(tb, e, spec)
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	return run(tb, e, ctx, p)
}

// run is e.Run that fails the test instead of hanging if Run does not
// return, even after the safety deadline has cancelled ctx.
func run(tb testing.TB, e *executor.Executor, ctx context.Context, p executor.Prepared) executor.Result {
	tb.Helper()
	ch := make(chan executor.Result, 1)
	go func() { ch <- e.Run(ctx, p) }()
	select {
	case r := <-ch:
		return r
	case <-time.After(2 * safety):
		tb.Fatalf("Run(%q) did not return", p.Path)
		return executor.Result{}
	}
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

// writeFile writes an executable (mode 0755) or plain file.
func writeFile(tb testing.TB, path, content string, mode os.FileMode) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // not subject to umask
		tb.Fatal(err)
	}
}

// syncBuffer is a sink that may be read while the executor writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// readySink calls ready once the output holds "ready\n", so that a test
// can act when the script has reached that point (e.g. installed a trap).
type readySink struct {
	syncBuffer
	once  sync.Once
	ready func()
}

func (s *readySink) Write(p []byte) (int, error) {
	n, err := s.syncBuffer.Write(p)
	if bytes.Contains(s.Bytes(), []byte("ready\n")) {
		s.once.Do(s.ready)
	}
	return n, err
}

// pidFromOutput returns the first line of out as a pid.
func pidFromOutput(tb testing.TB, out []byte) int {
	tb.Helper()
	line, _, _ := strings.Cut(string(out), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		tb.Fatalf("no pid in output %q", out)
	}
	return pid
}

// waitGone waits until pid no longer runs: kill(pid, 0) fails with ESRCH,
// or the process is a zombie (dead, waiting for its new parent, PID 1 or a
// subreaper, to reap it — which is not the executor's to do).
func waitGone(tb testing.TB, pid int) {
	tb.Helper()
	deadline := time.Now().Add(safety)
	for {
		err := unix.Kill(pid, 0)
		if err == unix.ESRCH || isZombie(pid) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("process %d still running (kill: %v)", pid, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
}

func alive(pid int) bool {
	return unix.Kill(pid, 0) == nil && !isZombie(pid)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestExitCodes(t *testing.T) {
	e := executor.New(testConfig())
	tests := []struct {
		name   string
		argv   []string
		code   int
		signal string
	}{
		{"true", []string{"true"}, 0, ""},
		{"exit 0", sh("exit 0"), 0, ""},
		{"exit 1", sh("exit 1"), 1, ""},
		{"exit 3", sh("exit 3"), 3, ""},
		{"false", []string{"false"}, 1, ""},
		{"SIGKILL", sh("kill -KILL $$"), -1, "SIGKILL"},
		{"SIGTERM", sh("kill -TERM $$"), -1, "SIGTERM"},
		{"SIGUSR1", sh("kill -USR1 $$"), -1, "SIGUSR1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := mustRun(t, e, executor.Spec{Argv: tt.argv})
			if r.ExitCode != tt.code || r.Signal != tt.signal {
				t.Errorf("exit code %d signal %q, want %d %q", r.ExitCode, r.Signal, tt.code, tt.signal)
			}
			// A process that ends by itself, even by a signal, ran to
			// its own end.
			if r.Err != nil || r.TimedOut || r.Interrupted {
				t.Errorf("Err %v TimedOut %v Interrupted %v, want none", r.Err, r.TimedOut, r.Interrupted)
			}
		})
	}
}

func TestPrepareErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "plain"), "#!/bin/sh\necho hi\n", 0o644)
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	pathDir := filepath.Join(dir, "bin")
	if err := os.Mkdir(pathDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(pathDir, "noexec"), "#!/bin/sh\n", 0o644)
	if err := os.Mkdir(filepath.Join(pathDir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + pathDir + ":/usr/bin:/bin"}

	e := executor.New(testConfig())
	tests := []struct {
		name string
		spec executor.Spec
		want error
		msg  string // the whole message, if not ""
	}{
		{"not found in PATH", executor.Spec{Argv: []string{"gatehouse-no-such-command"}, Env: env},
			executor.ErrNotFound, "command not found: gatehouse-no-such-command"},
		{"not found by path", executor.Spec{Argv: []string{"/nonexistent/cmd"}, Env: env},
			executor.ErrNotFound, "command not found: /nonexistent/cmd"},
		{"not found relative to Dir", executor.Spec{Argv: []string{"./missing"}, Dir: dir, Env: env},
			executor.ErrNotFound, "command not found: ./missing"},
		{"empty name", executor.Spec{Argv: []string{""}, Env: env}, executor.ErrNotFound, ""},
		{"no PATH", executor.Spec{Argv: []string{"sh"}, Env: []string{"HOME=/"}}, executor.ErrNotFound, ""},
		{"empty Env", executor.Spec{Argv: []string{"sh"}}, executor.ErrNotFound, ""},
		{"relative PATH entry skipped", executor.Spec{Argv: []string{"plain"}, Dir: dir, Env: []string{"PATH=.:bin"}},
			executor.ErrNotFound, ""},
		{"directory in PATH is not a command", executor.Spec{Argv: []string{"adir"}, Env: env}, executor.ErrNotFound, ""},
		{"no execute bit", executor.Spec{Argv: []string{filepath.Join(dir, "plain")}, Env: env}, executor.ErrNotExecutable, ""},
		{"no execute bit in PATH", executor.Spec{Argv: []string{"noexec"}, Env: env}, executor.ErrNotExecutable, ""},
		{"relative no execute bit", executor.Spec{Argv: []string{"./plain"}, Dir: dir, Env: env}, executor.ErrNotExecutable, ""},
		{"directory", executor.Spec{Argv: []string{filepath.Join(dir, "subdir")}, Env: env}, executor.ErrNotExecutable, ""},
		{"Dir missing", executor.Spec{Argv: []string{"true"}, Dir: filepath.Join(dir, "missing"), Env: env}, executor.ErrBadDir, ""},
		{"Dir is a file", executor.Spec{Argv: []string{"true"}, Dir: filepath.Join(dir, "plain"), Env: env}, executor.ErrBadDir, ""},
		{"empty Argv", executor.Spec{Env: env}, executor.ErrInvalidSpec, ""},
		{"NUL in Argv", executor.Spec{Argv: []string{"echo", "a\x00b"}, Env: env}, executor.ErrInvalidSpec, ""},
		{"NUL in Env", executor.Spec{Argv: []string{"true"}, Env: append(env, "A=\x00")}, executor.ErrInvalidSpec, ""},
		{"negative Timeout", executor.Spec{Argv: []string{"true"}, Env: env, Timeout: -1}, executor.ErrInvalidSpec, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Prepare(tt.spec)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Prepare: %v, want %v", err, tt.want)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("message %q, want %q", err.Error(), tt.msg)
			}
		})
	}
}

// TestNothingStartsBeforeRun checks that Prepare starts nothing: the
// gateway journals "started" between Prepare and Run.
func TestNothingStartsBeforeRun(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	e := executor.New(testConfig())
	p := mustPrepare(t, e, executor.Spec{Argv: sh("touch " + marker)})
	time.Sleep(50 * time.Millisecond) // were anything started, give it time to show
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("marker exists before Run (stat: %v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	if r := run(t, e, ctx, p); r.ExitCode != 0 || r.Err != nil {
		t.Fatalf("Run: exit %d, %v", r.ExitCode, r.Err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("marker after Run: %v", err)
	}
}

// TestStartErrors covers failures that show only when Run execs: the file
// changed between Prepare and Run, or the kernel refuses it.
func TestStartErrors(t *testing.T) {
	e := executor.New(testConfig())
	tests := []struct {
		name  string
		setup func(t *testing.T, dir, script string) // between Prepare and Run
		file  string                                 // the script's content
		code  int
		want  error
	}{
		{"removed", func(t *testing.T, dir, script string) { os.Remove(script) },
			"#!/bin/sh\n", 127, executor.ErrNotFound},
		{"execute bit removed", func(t *testing.T, dir, script string) { os.Chmod(script, 0o644) },
			"#!/bin/sh\n", 126, executor.ErrNotExecutable},
		{"bad interpreter", func(*testing.T, string, string) {},
			"#!/nonexistent/interpreter\n", 126, executor.ErrNotExecutable},
		{"not an executable format", func(*testing.T, string, string) {},
			"\x7fELF garbage", 126, executor.ErrNotExecutable},
		{"Dir removed", func(t *testing.T, dir, script string) {
			if err := os.Remove(filepath.Join(dir, "work")); err != nil {
				t.Fatal(err)
			}
		}, "#!/bin/sh\n", 126, executor.ErrBadDir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			script := filepath.Join(dir, "script")
			writeFile(t, script, tt.file, 0o755)
			work := filepath.Join(dir, "work")
			if err := os.Mkdir(work, 0o755); err != nil {
				t.Fatal(err)
			}
			p := mustPrepare(t, e, executor.Spec{Argv: []string{script}, Dir: work})
			tt.setup(t, dir, script)
			ctx, cancel := context.WithTimeout(context.Background(), safety)
			defer cancel()
			r := run(t, e, ctx, p)
			if r.ExitCode != tt.code || !errors.Is(r.Err, tt.want) {
				t.Errorf("exit %d, Err %v; want %d, %v", r.ExitCode, r.Err, tt.code, tt.want)
			}
		})
	}
}

func TestDir(t *testing.T) {
	dir := t.TempDir()
	want, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "here"), "#!/bin/sh\necho here\n", 0o755)
	e := executor.New(testConfig())

	r := mustRun(t, e, executor.Spec{Argv: []string{"pwd", "-P"}, Dir: dir})
	if got := strings.TrimSpace(string(r.Stdout.Head)); got != want {
		t.Errorf("pwd: %q, want %q", got, want)
	}
	// A relative path with a slash is relative to Dir, not the daemon's
	// working directory.
	r = mustRun(t, e, executor.Spec{Argv: []string{"./here"}, Dir: dir})
	if got := string(r.Stdout.Head); r.ExitCode != 0 || got != "here\n" {
		t.Errorf("./here: exit %d output %q, %v", r.ExitCode, got, r.Err)
	}
}

// TestEnv checks that the environment is exactly Spec.Env: nothing of the
// test process's leaks in. Not parallel: it sets an environment variable.
func TestEnv(t *testing.T) {
	t.Setenv("GATEHOUSE_EXECUTOR_LEAK", "secret")
	e := executor.New(testConfig())
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"given", []string{stdPath, "FOO=bar", "EMPTY="}, []string{"EMPTY=", "FOO=bar", stdPath}},
		{"last duplicate wins", []string{stdPath, "FOO=1", "FOO=2"}, []string{"FOO=2", stdPath}},
		{"nothing", []string{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.Prepare(executor.Spec{Argv: []string{"/usr/bin/env"}, Env: tt.env})
			if err != nil {
				t.Fatal(err)
			}
			r := run(t, e, t.Context(), p)
			if r.ExitCode != 0 {
				t.Fatalf("env: exit %d, %v", r.ExitCode, r.Err)
			}
			// The environ layer's marker, where there is no cgroup, is
			// the one addition (TestMarker).
			got := slices.DeleteFunc(strings.Fields(string(r.Stdout.Head)), func(kv string) bool {
				return strings.HasPrefix(kv, "GATEHOUSE_EXEC_TOKEN=")
			})
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("environment %q, want %q", got, tt.want)
			}
		})
	}
	// Env nil must not mean "inherit", as it does for exec.Cmd.
	p, err := e.Prepare(executor.Spec{Argv: []string{"/usr/bin/env"}, Env: nil})
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, e, t.Context(), p)
	if rest := regexp.MustCompile(`(?m)^GATEHOUSE_EXEC_TOKEN=.*\n`).ReplaceAll(r.Stdout.Head, nil); len(rest) != 0 {
		t.Errorf("nil Env: child saw %q", r.Stdout.Head)
	}
}

// TestPathFromSpecEnv checks that a bare name is looked up in Spec.Env's
// PATH and not in the daemon's. Not parallel: it sets PATH.
func TestPathFromSpecEnv(t *testing.T) {
	specBin, daemonBin := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(specBin, "gh-spec-only"), "#!/bin/sh\necho spec\n", 0o755)
	writeFile(t, filepath.Join(daemonBin, "gh-daemon-only"), "#!/bin/sh\necho daemon\n", 0o755)
	// The same name in both: Spec.Env's must win.
	writeFile(t, filepath.Join(specBin, "gh-both"), "#!/bin/sh\necho spec\n", 0o755)
	writeFile(t, filepath.Join(daemonBin, "gh-both"), "#!/bin/sh\necho daemon\n", 0o755)
	// Earlier PATH entries win; a non-executable one is passed over.
	second := t.TempDir()
	writeFile(t, filepath.Join(specBin, "gh-second"), "#!/bin/sh\necho first\n", 0o644)
	writeFile(t, filepath.Join(second, "gh-second"), "#!/bin/sh\necho second\n", 0o755)
	t.Setenv("PATH", daemonBin+":"+os.Getenv("PATH"))

	e := executor.New(testConfig())
	env := []string{"PATH=" + specBin + ":" + second + ":/usr/bin:/bin"}
	for name, want := range map[string]string{"gh-spec-only": "spec\n", "gh-both": "spec\n", "gh-second": "second\n"} {
		p, err := e.Prepare(executor.Spec{Argv: []string{name}, Env: env})
		if err != nil {
			t.Errorf("Prepare %s: %v", name, err)
			continue
		}
		if !filepath.IsAbs(p.Path) {
			t.Errorf("Path %q is not absolute", p.Path)
		}
		r := run(t, e, t.Context(), p)
		if got := string(r.Stdout.Head); got != want {
			t.Errorf("%s printed %q, want %q (exit %d, %v)", name, got, want, r.ExitCode, r.Err)
		}
	}
	if _, err := e.Prepare(executor.Spec{Argv: []string{"gh-daemon-only"}, Env: env}); !errors.Is(err, executor.ErrNotFound) {
		t.Errorf("found a command only in the daemon's PATH: %v", err)
	}
}

// testData returns n reproducible pseudo-random bytes, written to a file.
func testData(tb testing.TB, n int) ([]byte, string) {
	tb.Helper()
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	r.Read(b)
	path := filepath.Join(tb.TempDir(), "data")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return b, path
}

func TestOutputCapture(t *testing.T) {
	const size = 200 << 10
	data, file := testData(t, size)
	tests := []struct {
		name   string
		cap    int
		n      int  // bytes written
		stderr bool // to stderr instead of stdout
	}{
		{"empty", 0, 0, false},
		{"small", 0, 10, false},
		{"default cap exactly", 0, 64 << 10, false},
		{"over default cap", 0, size, false},
		{"over default cap stderr", 0, size, true},
		{"small cap", 1000, size, false},
		{"cap over size", size * 2, size, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.OutputCap = tt.cap
			cap := tt.cap
			if cap == 0 {
				cap = executor.DefaultConfig().OutputCap
			}
			script := "head -c " + strconv.Itoa(tt.n) + " " + file
			if tt.stderr {
				script += " >&2"
			}
			var sink syncBuffer
			spec := executor.Spec{Argv: sh(script)}
			if tt.stderr {
				spec.Stderr = &sink
			} else {
				spec.Stdout = &sink
			}
			r := mustRun(t, executor.New(cfg), spec)
			if r.ExitCode != 0 || r.Err != nil {
				t.Fatalf("exit %d, %v", r.ExitCode, r.Err)
			}
			out, other := r.Stdout, r.Stderr
			if tt.stderr {
				out, other = other, out
			}
			want := data[:tt.n]
			if out.Bytes != int64(tt.n) {
				t.Errorf("Bytes %d, want %d", out.Bytes, tt.n)
			}
			if out.SHA256 != sha(want) {
				t.Errorf("SHA256 %s, want %s", out.SHA256, sha(want))
			}
			if !bytes.Equal(out.Head, want[:min(cap, tt.n)]) {
				t.Errorf("Head has %d bytes, want the first %d of the stream", len(out.Head), min(cap, tt.n))
			}
			if got := sink.Bytes(); !bytes.Equal(got, want) {
				t.Errorf("sink received %d bytes, want all %d in order", len(got), tt.n)
			}
			if other.Bytes != 0 || len(other.Head) != 0 || other.SHA256 != sha(nil) {
				t.Errorf("other stream: %d bytes, %q, %s", other.Bytes, other.Head, other.SHA256)
			}
		})
	}
}

// TestFilter checks that the filter sees each stream before anything
// else: head, count, hash and sink are of the filtered stream, and a value
// the process writes in two pieces, a pause apart, is still one value.
func TestFilter(t *testing.T) {
	const secret = "s3cr3t-v4lue-0123"
	set := redact.New([]redact.Secret{{Name: "TOKEN", Value: []byte(secret)}})
	var out, errOut syncBuffer
	spec := executor.Spec{
		Argv:   sh("printf 'a=s3cr3t-v'; sleep 0.1; printf '4lue-0123\\n'; printf 'b=%s' \"$V\" >&2"),
		Env:    []string{stdPath, "V=" + secret},
		Stdout: &out, Stderr: &errOut,
		Filter: func() executor.Filter { return set.Filter() },
	}
	r := mustRun(t, executor.New(testConfig()), spec)
	if r.ExitCode != 0 || r.Err != nil {
		t.Fatalf("exit %d, %v", r.ExitCode, r.Err)
	}
	for _, c := range []struct {
		name string
		o    executor.Output
		sink []byte
		want string
	}{
		{"stdout", r.Stdout, out.Bytes(), "a=[REDACTED:TOKEN]\n"},
		{"stderr", r.Stderr, errOut.Bytes(), "b=[REDACTED:TOKEN]"},
	} {
		if string(c.o.Head) != c.want || string(c.sink) != c.want {
			t.Errorf("%s: head %q, sink %q, want %q", c.name, c.o.Head, c.sink, c.want)
		}
		if c.o.Bytes != int64(len(c.want)) || c.o.SHA256 != sha([]byte(c.want)) {
			t.Errorf("%s: %d bytes, sha %s: want those of %q", c.name, c.o.Bytes, c.o.SHA256, c.want)
		}
	}
}

// TestSharedSink checks that one writer given for both streams is never
// written to concurrently (the race detector would tell).
func TestSharedSink(t *testing.T) {
	_, file := testData(t, 100000)
	var sink bytes.Buffer // not safe for concurrent use, deliberately
	r := mustRun(t, executor.New(testConfig()), executor.Spec{
		Argv:   sh("for i in 1 2 3; do head -c 100000 " + file + "; head -c 100000 " + file + " >&2; done"),
		Stdout: &sink, Stderr: &sink,
	})
	if r.ExitCode != 0 {
		t.Fatalf("exit %d, %v", r.ExitCode, r.Err)
	}
	if sink.Len() != 600000 || r.Stdout.Bytes != 300000 || r.Stderr.Bytes != 300000 {
		t.Errorf("sink %d bytes, stdout %d, stderr %d", sink.Len(), r.Stdout.Bytes, r.Stderr.Bytes)
	}
}

type failingSink struct {
	mu     sync.Mutex
	writes int
	short  bool // fail by writing short instead of returning an error
}

func (f *failingSink) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	if f.short {
		return len(p) / 2, nil
	}
	return 0, errors.New("client went away")
}

func TestFailingSink(t *testing.T) {
	const size = 200 << 10
	data, file := testData(t, size)
	for _, short := range []bool{false, true} {
		t.Run("short="+strconv.FormatBool(short), func(t *testing.T) {
			t.Parallel()
			sink := &failingSink{short: short}
			// Several chunks, and then more output on the other stream:
			// the command must run on to its end.
			script := "head -c " + strconv.Itoa(size) + " " + file + "; echo done >&2"
			r := mustRun(t, executor.New(testConfig()), executor.Spec{Argv: sh(script), Stdout: sink, Stderr: sink})
			if r.ExitCode != 0 || r.Err != nil || r.Signal != "" {
				t.Fatalf("exit %d signal %q, %v: a failing sink disturbed the process", r.ExitCode, r.Signal, r.Err)
			}
			if r.Stdout.Bytes != size || r.Stdout.SHA256 != sha(data) {
				t.Errorf("stdout %d bytes %s, want %d %s", r.Stdout.Bytes, r.Stdout.SHA256, size, sha(data))
			}
			if string(r.Stderr.Head) != "done\n" {
				t.Errorf("stderr %q", r.Stderr.Head)
			}
			// Once per stream at most: a failed sink is not written to again.
			if sink.writes < 1 || sink.writes > 2 {
				t.Errorf("sink written %d times, want 1 or 2", sink.writes)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A long grace, so that the process is sure to have ended by SIGTERM
	// and not by the SIGKILL after it.
	e := executor.New(executor.Config{KillGrace: safety})
	r := mustRun(t, e, executor.Spec{Argv: []string{"sleep", "30"}, Dir: dir, Timeout: 100 * time.Millisecond})
	if !r.TimedOut || r.Interrupted || r.ExitCode != -1 || r.Signal != "SIGTERM" {
		t.Errorf("TimedOut %v Interrupted %v exit %d signal %q, want a timeout ended by SIGTERM", r.TimedOut, r.Interrupted, r.ExitCode, r.Signal)
	}
	if !errors.Is(r.Err, executor.ErrTimedOut) || r.Err.Error() != "timed out after 100ms" {
		t.Errorf("Err %v", r.Err)
	}
}

// TestIgnoredTERM checks that a group that ignores SIGTERM is SIGKILLed
// after the grace, the children with it.
func TestIgnoredTERM(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"timeout", "cancel"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			e := executor.New(testConfig())
			ctx, cancel := context.WithTimeout(context.Background(), safety)
			defer cancel()
			sink := &readySink{ready: cancel}
			spec := executor.Spec{Argv: sh(`trap "" TERM; sleep 3600 & echo $!; echo ready; wait`), Stdout: sink}
			if how == "timeout" {
				// No synchronisation with the trap: if TERM came first the
				// signal below would be SIGTERM, and the test would say so.
				spec.Timeout = 500 * time.Millisecond
				sink.ready = func() {}
			}
			p := mustPrepare(t, e, spec)
			r := run(t, e, ctx, p)
			if r.Signal != "SIGKILL" || r.ExitCode != -1 {
				t.Errorf("exit %d signal %q, want SIGKILL (%v)", r.ExitCode, r.Signal, r.Err)
			}
			if how == "timeout" && (!r.TimedOut || !errors.Is(r.Err, executor.ErrTimedOut)) {
				t.Errorf("TimedOut %v, Err %v", r.TimedOut, r.Err)
			}
			if how == "cancel" && (!r.Interrupted || !errors.Is(r.Err, executor.ErrInterrupted)) {
				t.Errorf("Interrupted %v, Err %v", r.Interrupted, r.Err)
			}
			pid := pidFromOutput(t, r.Stdout.Head)
			t.Cleanup(func() { unix.Kill(pid, syscall.SIGKILL) })
			waitGone(t, pid)
		})
	}
}

func TestInterrupt(t *testing.T) {
	t.Parallel()
	e := executor.New(executor.Config{KillGrace: safety})
	tests := []struct {
		name  string
		cause error
		msg   string
	}{
		{"cancel", nil, "interrupted"},
		{"cause", errors.New("daemon stopping"), "interrupted: daemon stopping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			safe, safeCancel := context.WithTimeout(ctx, safety)
			defer safeCancel()
			sink := &readySink{ready: func() { cancel(tt.cause) }}
			p := mustPrepare(t, e, executor.Spec{Argv: sh("echo ready; exec sleep 30"), Stdout: sink})
			r := run(t, e, safe, p)
			if !r.Interrupted || r.TimedOut || r.Signal != "SIGTERM" {
				t.Errorf("Interrupted %v TimedOut %v signal %q", r.Interrupted, r.TimedOut, r.Signal)
			}
			if !errors.Is(r.Err, executor.ErrInterrupted) || r.Err.Error() != tt.msg {
				t.Errorf("Err %v, want %q", r.Err, tt.msg)
			}
		})
	}
}

func TestCancelledBeforeRun(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	e := executor.New(testConfig())
	p := mustPrepare(t, e, executor.Spec{Argv: sh("touch " + marker)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := run(t, e, ctx, p)
	if !r.Interrupted || !errors.Is(r.Err, executor.ErrInterrupted) {
		t.Errorf("Interrupted %v, Err %v", r.Interrupted, r.Err)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the command ran (stat: %v)", err)
	}
}

func TestRunOnce(t *testing.T) {
	e := executor.New(testConfig())
	p := mustPrepare(t, e, executor.Spec{Argv: []string{"true"}})
	if r := run(t, e, t.Context(), p); r.Err != nil {
		t.Fatalf("first Run: %v", r.Err)
	}
	if r := run(t, e, t.Context(), p); r.Err == nil || r.ExitCode != 126 {
		t.Errorf("second Run: exit %d, %v; want an error", r.ExitCode, r.Err)
	}
	if r := run(t, e, t.Context(), executor.Prepared{Path: "/bin/true"}); r.Err == nil {
		t.Errorf("Run of a zero Prepared: no error")
	}
}

// TestBackgroundChildKilled checks that what the leader leaves running in
// its group is killed when it exits, and that Run does not wait for it.
func TestBackgroundChildKilled(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, script string }{
		{"holding stdout", "sleep 3600 & echo $!"},
		{"output elsewhere", "sleep 3600 >/dev/null 2>&1 & echo $!"},
		{"nohup", "nohup sleep 3600 >/dev/null 2>&1 & echo $!"},
		{"grandchild", "sh -c 'sleep 3600 & echo $!' & wait"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A long drain: returning must not depend on the drain bound.
			e := executor.New(executor.Config{DrainTimeout: safety})
			r := mustRun(t, e, executor.Spec{Argv: sh(tt.script)})
			if r.ExitCode != 0 || r.Err != nil {
				t.Fatalf("exit %d, %v", r.ExitCode, r.Err)
			}
			pid := pidFromOutput(t, r.Stdout.Head)
			t.Cleanup(func() { unix.Kill(pid, syscall.SIGKILL) })
			waitGone(t, pid)
		})
	}
}

func TestSignalNumber(t *testing.T) {
	tests := []struct {
		name string
		want int
	}{
		{"SIGKILL", 9}, {"KILL", 9}, {"sigterm", 15}, {"SIGINT", 2}, {"SIGHUP", 1},
		{"SIG34", 34}, {"", 0}, {"SIG", 0}, {"SIGBOGUS", 0}, {"SIG0", 0}, {"SIG99", 0},
	}
	for _, tt := range tests {
		if got := executor.SignalNumber(tt.name); got != tt.want {
			t.Errorf("SignalNumber(%q) = %d, want %d", tt.name, got, tt.want)
		}
	}
	for sig := syscall.Signal(1); sig < 32; sig++ {
		if name := unix.SignalName(sig); name != "" && executor.SignalNumber(name) != int(sig) {
			t.Errorf("SignalNumber(%q) = %d, want %d", name, executor.SignalNumber(name), sig)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := executor.DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig: %v", err)
	}
	if err := (executor.Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	for _, c := range []executor.Config{{KillGrace: -1}, {OutputCap: -1}, {DrainTimeout: -1}, {CgroupParent: "sys/fs/cgroup"}} {
		if c.Validate() == nil {
			t.Errorf("%+v: valid", c)
		}
	}
}
