package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Errors of Prepare, also wrapped by Result.Err. Test for them with
// errors.Is; the messages of the wrapping errors name the command or
// directory ("command not found: NAME").
var (
	ErrNotFound      = errors.New("command not found")      // exit code 127
	ErrNotExecutable = errors.New("command not executable") // exit code 126
	ErrBadDir        = errors.New("bad working directory")
	ErrInvalidSpec   = errors.New("invalid command")
	ErrTimedOut      = errors.New("timed out")
	ErrInterrupted   = errors.New("interrupted")
)

// Exit codes of commands that never ran, as a shell reports them.
const (
	ExitNotFound      = 127
	ExitNotExecutable = 126
)

// Config configures an Executor.
type Config struct {
	// KillGrace is how long an action's processes have between SIGTERM
	// and SIGKILL on timeout or cancellation. Default 5s.
	KillGrace time.Duration
	// OutputCap is how many bytes of each stream are kept in Result; the
	// whole stream is still counted and hashed. Default 64 KiB.
	OutputCap int
	// DrainTimeout bounds how long Run keeps reading output after the
	// leader has exited and its processes have been killed, for pipes
	// held open by processes that escaped (see the package doc). Default
	// 1s.
	DrainTimeout time.Duration
	// CgroupParent is the directory of the cgroup v2 under which each
	// action gets a cgroup of its own (created if missing, never
	// removed). "" means gatehouse-PID under the daemon's own cgroup,
	// created at the first Run and emptied after each action.
	CgroupParent string
	// DisableCgroup forgoes cgroups even where they are usable: actions
	// are held by the environ marker (or only by their process group).
	DisableCgroup bool
	// Logger receives the one message saying why cgroups are not used
	// (Info) and warnings about actions that could not be held as
	// intended. nil means no logging.
	Logger *slog.Logger
}

// DefaultConfig returns the configuration New uses for zero fields.
func DefaultConfig() Config {
	return Config{KillGrace: 5 * time.Second, OutputCap: 64 << 10, DrainTimeout: time.Second}
}

// Validate returns an error naming the first field that is out of range.
// Zero fields are valid: they mean the default.
func (c Config) Validate() error {
	switch {
	case c.KillGrace < 0:
		return fmt.Errorf("executor: KillGrace must not be negative, got %v", c.KillGrace)
	case c.OutputCap < 0:
		return fmt.Errorf("executor: OutputCap must not be negative, got %d", c.OutputCap)
	case c.DrainTimeout < 0:
		return fmt.Errorf("executor: DrainTimeout must not be negative, got %v", c.DrainTimeout)
	case c.CgroupParent != "" && !filepath.IsAbs(c.CgroupParent):
		return fmt.Errorf("executor: CgroupParent must be an absolute path, got %q", c.CgroupParent)
	}
	return nil
}

// Executor runs commands. It is safe for concurrent use.
type Executor struct {
	cfg Config
	log *slog.Logger

	once   sync.Once // probe
	mode   string    // ContainCgroup, ContainEnviron, ContainPgroup
	cgroup *cgroupParent
}

// New returns an Executor configured by cfg; fields that are zero or
// negative take their value from DefaultConfig.
func New(cfg Config) *Executor {
	d := DefaultConfig()
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = d.KillGrace
	}
	if cfg.OutputCap <= 0 {
		cfg.OutputCap = d.OutputCap
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = d.DrainTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Executor{cfg: cfg, log: log}
}

// Containment reports how the processes of the actions that e runs are
// held, so that a kill reaches those that left the process group:
// ContainCgroup, ContainEnviron or ContainPgroup (see the package doc).
// The first call, or the first Run, probes the system; an action whose
// cgroup cannot be made is held by the environ marker instead, and its
// Result.Containment says so.
func (e *Executor) Containment() string {
	e.once.Do(e.probe)
	return e.mode
}

// Spec is one process to run.
type Spec struct {
	// Argv is the command and its arguments. Argv[0] without a slash is
	// looked up in the PATH of Env (not the daemon's); with a slash, it is
	// a path, relative to Dir if not absolute.
	Argv []string
	// Dir is the working directory; "" means the daemon's.
	Dir string
	// Env is the complete environment, KEY=VALUE; nothing is inherited.
	// Under ContainEnviron the executor adds its marker,
	// GATEHOUSE_EXEC_TOKEN.
	Env []string
	// Timeout ends the process (SIGTERM, then SIGKILL after KillGrace)
	// if it runs longer. 0 means no timeout.
	Timeout time.Duration
	// Stdin, if not nil, is the process's standard input: a pipe fed from
	// it as fast as the process reads. Its EOF, or any error it returns,
	// closes the pipe: the process reads end of file. nil means an empty
	// stdin (/dev/null). Run does not wait for a Read of Stdin that
	// blocks: after Run returns, Stdin is not read again, and what a Read
	// in progress returns is dropped — so the owner of Stdin should make
	// it return (close it) once Run has returned.
	Stdin io.Reader
	// Stdout and Stderr, if not nil, receive each chunk of output as it is
	// read. A sink whose Write fails (or writes short) is not written to
	// again; the output is still captured and the process not disturbed.
	// Sinks are not written to after Run returns.
	Stdout, Stderr io.Writer
	// Filter, if not nil, is called once per output stream for a filter
	// that every byte of it passes through before anything else sees it:
	// the head, the count, the hash and the sink are all of the filtered
	// stream. The gateway redacts secrets with it.
	Filter func() Filter
}

// Filter transforms one output stream, which arrives in chunks. Write
// returns what may be passed on now (it may hold bytes back, as a
// redactor does while they could be the start of a secret); Flush
// returns what it held, at the end of the stream. Neither retains the
// slice it returns or is given.
type Filter interface {
	Write(p []byte) []byte
	Flush() []byte
}

// Result is how one run ended.
type Result struct {
	// ExitCode is the exit status; 127 if the command was not found, 126
	// if it could not be executed, -1 if a signal ended it (see Signal) or
	// if it never started because Run's context was already done.
	ExitCode int
	// Signal names the signal that ended the process ("SIGKILL"), or "".
	Signal string
	// Err is non-nil when the gateway did not let the process run to its
	// own end: it could not start (wrapping ErrNotFound, ErrNotExecutable,
	// ErrBadDir), timed out ("timed out after 2s", wrapping ErrTimedOut) or
	// was interrupted ("interrupted", wrapping ErrInterrupted).
	Err error
	// TimedOut is set when Spec.Timeout expired.
	TimedOut bool
	// Interrupted is set when Run's context was done before the process
	// exited.
	Interrupted bool
	// Duration is from just before the start to the leader's exit,
	// measured on the monotonic clock.
	Duration time.Duration
	// StdinBytes is how many bytes of Spec.Stdin the process was given
	// (written into its stdin pipe); 0 without Stdin.
	StdinBytes int64
	// Containment is how the action's processes were held:
	// ContainCgroup, ContainEnviron or ContainPgroup; "" if none started.
	Containment string
	// Stdout and Stderr describe the output streams.
	Stdout, Stderr Output
}

// Output describes one output stream.
type Output struct {
	Head   []byte // the first OutputCap bytes
	Bytes  int64  // the total number of bytes read
	SHA256 string // hex SHA-256 of the full stream
}

// Prepared is a Spec whose executable has been resolved and whose working
// directory has been checked, ready for Run. Only Prepare makes one.
type Prepared struct {
	// Path is the absolute path of the executable that Run will exec.
	Path string

	spec Spec
	ran  *atomic.Bool
}

// Prepare resolves the executable of spec and checks its directory without
// starting anything. It returns an error wrapping ErrNotFound ("command not
// found: NAME") if the command does not exist, ErrNotExecutable if it is
// not an executable file or may not be executed, ErrBadDir if Dir is not
// an accessible directory, and ErrInvalidSpec if Argv is empty, a string
// holds a NUL byte or Timeout is negative.
//
// Prepare copies Argv and Env: changing them afterwards does not change
// what Run executes.
func (e *Executor) Prepare(spec Spec) (Prepared, error) {
	if len(spec.Argv) == 0 {
		return Prepared{}, fmt.Errorf("%w: empty argv", ErrInvalidSpec)
	}
	for i, a := range spec.Argv {
		if strings.IndexByte(a, 0) >= 0 {
			return Prepared{}, fmt.Errorf("%w: argv[%d] contains a NUL byte", ErrInvalidSpec, i)
		}
	}
	for i, kv := range spec.Env {
		if strings.IndexByte(kv, 0) >= 0 {
			return Prepared{}, fmt.Errorf("%w: env[%d] contains a NUL byte", ErrInvalidSpec, i)
		}
	}
	if strings.IndexByte(spec.Dir, 0) >= 0 {
		return Prepared{}, fmt.Errorf("%w: dir contains a NUL byte", ErrInvalidSpec)
	}
	if spec.Timeout < 0 {
		return Prepared{}, fmt.Errorf("%w: negative timeout %v", ErrInvalidSpec, spec.Timeout)
	}
	if spec.Dir != "" {
		if err := checkDir(spec.Dir); err != nil {
			return Prepared{}, err
		}
	}
	path, err := lookPath(spec.Argv[0], envPath(spec.Env), spec.Dir)
	if err != nil {
		return Prepared{}, err
	}
	spec.Argv = slices.Clone(spec.Argv)
	// A nil Env would make exec.Cmd inherit the daemon's environment.
	spec.Env = append([]string{}, spec.Env...)
	return Prepared{Path: path, spec: spec, ran: new(atomic.Bool)}, nil
}

// Run starts the prepared process and waits until it and its process group
// have ended and its output has been read (see the package doc). It must be
// called at most once per Prepared; a second call returns a Result with
// ExitCode 126 and Err set, and runs nothing. If ctx is already done, Run
// starts nothing and returns an interrupted Result.
//
// Errors that show only at start (the file vanished, ETXTBSY, a bad
// interpreter, EACCES) come back as a Result with ExitCode 127 or 126 and
// Err wrapping ErrNotFound or ErrNotExecutable.
func (e *Executor) Run(ctx context.Context, p Prepared) Result {
	if p.ran == nil {
		return Result{ExitCode: ExitNotExecutable, Err: errors.New("executor: Run of a Prepared that Prepare did not return")}
	}
	if !p.ran.CompareAndSwap(false, true) {
		return Result{ExitCode: ExitNotExecutable, Err: errors.New("executor: Prepared run twice")}
	}
	if ctx.Err() != nil {
		return Result{ExitCode: -1, Interrupted: true, Err: interrupted(ctx)}
	}
	spec := p.spec

	outR, outW, err := os.Pipe()
	if err != nil {
		return Result{ExitCode: ExitNotExecutable, Err: fmt.Errorf("executor: stdout pipe: %w", err)}
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return Result{ExitCode: ExitNotExecutable, Err: fmt.Errorf("executor: stderr pipe: %w", err)}
	}
	var inR, inW *os.File
	if spec.Stdin != nil {
		if inR, inW, err = os.Pipe(); err != nil {
			outR.Close()
			outW.Close()
			errR.Close()
			errW.Close()
			return Result{ExitCode: ExitNotExecutable, Err: fmt.Errorf("executor: stdin pipe: %w", err)}
		}
	}
	start := time.Now()
	cmd, j, err := e.start(p, inR, outW, errW)
	// The child has its own copies; ours would keep the pipes from ever
	// reaching end of file.
	outW.Close()
	errW.Close()
	if inR != nil {
		inR.Close()
	}
	if err != nil {
		outR.Close()
		errR.Close()
		if inW != nil {
			inW.Close()
		}
		return startFailed(p, err)
	}
	var in *feed
	if inW != nil {
		in = newFeed(spec.Stdin, inW)
		go in.run()
	}
	pid := cmd.Process.Pid // also the pgid
	r := Result{Containment: j.kind()}

	stdout := newCapture(e.cfg.OutputCap, spec.Stdout)
	stderr := newCapture(e.cfg.OutputCap, spec.Stderr)
	if spec.Filter != nil {
		stdout.filter, stderr.filter = spec.Filter(), spec.Filter()
	}
	if spec.Stdout != nil && sameWriter(spec.Stdout, spec.Stderr) {
		// As exec.Cmd does: one writer is never written to concurrently.
		mu := new(sync.Mutex)
		stdout.sinkMu, stderr.sinkMu = mu, mu
	}
	var readers sync.WaitGroup
	readers.Go(func() { stdout.readFrom(outR) })
	readers.Go(func() { stderr.readFrom(errR) })

	exited := make(chan exit, 1)
	go func() { exited <- waitNoReap(pid) }()

	var timeoutC, graceC <-chan time.Time
	if spec.Timeout > 0 {
		t := time.NewTimer(spec.Timeout)
		defer t.Stop()
		timeoutC = t.C
	}
	done := ctx.Done()
	var grace *time.Timer
	terminate := func() {
		signalGroup(pid, unix.SIGTERM)
		signalGroup(pid, unix.SIGCONT)
		j.signal(pid, unix.SIGTERM, unix.SIGCONT)
		grace = time.NewTimer(e.cfg.KillGrace)
		graceC = grace.C
		done, timeoutC = nil, nil
	}
	var ex exit
wait:
	for {
		select {
		case ex = <-exited:
			break wait
		case <-done:
			r.Interrupted = true
			r.Err = interrupted(ctx)
			terminate()
		case <-timeoutC:
			r.TimedOut = true
			r.Err = fmt.Errorf("%w after %v", ErrTimedOut, spec.Timeout)
			terminate()
		case <-graceC:
			signalGroup(pid, unix.SIGKILL)
			j.kill()
			graceC = nil
		}
	}
	if grace != nil {
		grace.Stop()
	}
	if ex.err == nil {
		// The leader is a zombie: pid is still ours, so is the group.
		signalGroup(pid, unix.SIGKILL)
	}
	// What left the group: killed, and waited for, before Run returns.
	j.finish()
	if in != nil {
		// Nothing is left to read it.
		r.StdinBytes = in.stop()
	}
	// Reap the leader. No signal may be sent to pid after this.
	werr := cmd.Wait()
	if ex.err != nil {
		ex.at = time.Now()
	}
	r.Duration = ex.at.Sub(start)
	if ps := cmd.ProcessState; ps != nil {
		r.ExitCode, r.Signal = exitStatus(ps)
	} else {
		r.ExitCode = -1
		if r.Err == nil {
			r.Err = fmt.Errorf("executor: wait: %w", werr)
		}
	}

	drained := make(chan struct{})
	go func() {
		readers.Wait()
		close(drained)
	}()
	drain := time.NewTimer(e.cfg.DrainTimeout)
	select {
	case <-drained:
	case <-drain.C:
		// Held open by a process that escaped: stop reading.
		outR.Close()
		errR.Close()
		<-drained
	}
	drain.Stop()
	outR.Close()
	errR.Close()

	r.Stdout, r.Stderr = stdout.output(), stderr.output()
	return r
}

// start starts the process of p in a jail of e's containment. If that is
// a cgroup and the start fails, it tries once more without one: what
// failed may be the clone into the cgroup (a pids limit, a cgroup removed
// under the daemon), and a failed exec has run nothing, so trying again
// is harmless. An error is that of the last try.
func (e *Executor) start(p Prepared, stdin, stdout, stderr *os.File) (*exec.Cmd, jail, error) {
	mode := e.Containment()
	var why error // why the action is not held as e.mode
	for {
		j, err := e.newJail(mode)
		if err != nil {
			why = err
			mode = weaker(mode)
			continue
		}
		cmd := &exec.Cmd{
			Path:        p.Path,
			Args:        p.spec.Argv,
			Env:         p.spec.Env,
			Dir:         p.spec.Dir,
			Stdout:      stdout,
			Stderr:      stderr,
			SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
		}
		if stdin != nil {
			cmd.Stdin = stdin // else /dev/null
		}
		j.setup(cmd)
		err = cmd.Start()
		j.started()
		if err == nil {
			if mode != e.mode {
				e.log.Warn("executor: action not held as intended", "containment", e.mode, "instead", mode, "err", why)
			}
			return cmd, j, nil
		}
		j.finish()
		if mode != ContainCgroup {
			return nil, nil, err
		}
		why = err
		mode = weaker(mode)
	}
}

// weaker is the containment to fall back to from mode.
func weaker(mode string) string {
	if mode == ContainCgroup {
		return fallbackMode()
	}
	return ContainPgroup
}

type exit struct {
	at  time.Time
	err error
}

// waitNoReap waits for pid to exit and leaves it a zombie.
func waitNoReap(pid int) exit {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		return exit{at: time.Now(), err: err}
	}
}

// signalGroup sends sig to the process group pgid. Errors are ignored:
// ESRCH means nothing is left to signal.
func signalGroup(pgid int, sig syscall.Signal) {
	_ = unix.Kill(-pgid, sig)
}

func exitStatus(ps *os.ProcessState) (code int, signal string) {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return -1, signalName(ws.Signal())
	}
	return ps.ExitCode(), ""
}

func interrupted(ctx context.Context) error {
	cause := context.Cause(ctx)
	if cause == nil || cause == context.Canceled {
		return ErrInterrupted
	}
	return fmt.Errorf("%w: %w", ErrInterrupted, cause)
}

// startFailed turns an error of exec.Cmd.Start into a Result. execve's
// ENOENT means a missing file, a missing interpreter (#!) or, since the
// child's chdir fails the same way, a missing directory: say which, as a
// shell does.
func startFailed(p Prepared, err error) Result {
	name := p.spec.Argv[0]
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return Result{ExitCode: ExitNotExecutable, Err: fmt.Errorf("%w: %s: %w", ErrNotExecutable, name, err)}
	}
	if errno != syscall.ENOENT {
		return Result{ExitCode: ExitNotExecutable, Err: fmt.Errorf("%w: %s: %w", ErrNotExecutable, name, errno)}
	}
	if p.spec.Dir != "" {
		if derr := checkDir(p.spec.Dir); derr != nil {
			return Result{ExitCode: ExitNotExecutable, Err: derr}
		}
	}
	if _, serr := os.Stat(p.Path); errors.Is(serr, fs.ErrNotExist) {
		return Result{ExitCode: ExitNotFound, Err: notFound(name)}
	}
	return Result{ExitCode: ExitNotExecutable, Err: fmt.Errorf("%w: %s: bad interpreter: %w", ErrNotExecutable, name, errno)}
}

// sameWriter reports whether a and b are the same writer, without
// panicking on writers whose dynamic type is not comparable.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}
