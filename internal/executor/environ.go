package executor

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// environJail holds the processes whose environment carries its token.
type environJail struct {
	token string
}

func (j *environJail) kind() string { return ContainEnviron }

func (j *environJail) setup(cmd *exec.Cmd) {
	// Last, so that it wins over a token in Spec.Env (exec.Cmd keeps the
	// last of duplicate keys).
	cmd.Env = append(cmd.Env[:len(cmd.Env):len(cmd.Env)], tokenKey+"="+j.token)
}

func (j *environJail) started() {}

func (j *environJail) signal(pgid int, sigs ...unix.Signal) {
	sweep.do(j.token, pgid, sigs)
}

func (j *environJail) kill() {
	sweep.do(j.token, 0, []unix.Signal{unix.SIGKILL})
}

func (j *environJail) finish() {
	deadline := time.Now().Add(killBound)
	var b backoff
	// A killed process no longer shows its environment once it is
	// exiting (a zombie has none), so the sweep finds nothing when all
	// are gone.
	for sweep.do(j.token, 0, []unix.Signal{unix.SIGKILL}) > 0 && time.Now().Before(deadline) {
		b.sleep()
	}
}

// sweep is the process's one sweeper: scans of /proc are shared by all
// Executors, as the processes are.
var sweep sweeper

// A sweeper scans /proc for the processes of actions and signals them.
// Requests that arrive while a scan runs are served together by the next
// one, so that many actions ending at once (a halt) cost a few scans, not
// one each.
type sweeper struct {
	mu      sync.Mutex
	queue   []*sweepReq
	running bool
	// Owned by the running loop: the environment scanned, and the one
	// read again to check.
	buf, check []byte
}

type sweepReq struct {
	token string
	pgid  int // members of this process group are counted but not signalled
	sigs  []unix.Signal
	found int
	done  chan struct{}
}

// do signals every process whose environment holds the token, except
// those in the process group pgid (if not 0), with each of sigs, and
// returns how many processes hold the token. The scan it is part of starts
// after do was called.
func (s *sweeper) do(token string, pgid int, sigs []unix.Signal) int {
	r := &sweepReq{token: token, pgid: pgid, sigs: sigs, done: make(chan struct{})}
	s.mu.Lock()
	s.queue = append(s.queue, r)
	if !s.running {
		s.running = true
		go s.loop()
	}
	s.mu.Unlock()
	<-r.done
	return r.found
}

func (s *sweeper) loop() {
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		if len(batch) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		s.scan(batch)
		for _, r := range batch {
			close(r.done)
		}
	}
}

func (s *sweeper) scan(batch []*sweepReq) {
	byToken := make(map[string][]*sweepReq, len(batch))
	for _, r := range batch {
		byToken[r.token] = append(byToken[r.token], r)
	}
	d, err := os.Open("/proc")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	self := os.Getpid()
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid == self {
			continue
		}
		s.buf = readEnviron(pid, s.buf[:0])
		for _, tok := range tokens(s.buf) {
			if rs := byToken[string(tok)]; rs != nil {
				s.signal(pid, string(tok), rs)
			}
		}
	}
}

// signal signals pid, seen holding token, for the requests rs. It opens a
// pidfd and then reads the environment again: if the token is still
// there, the pidfd names a process of the action and not one that was
// given a recycled pid in between.
func (s *sweeper) signal(pid int, token string, rs []*sweepReq) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if err != unix.ENOSYS {
			return // gone
		}
		fd = -1
	}
	s.check = readEnviron(pid, s.check[:0])
	if !holds(s.check, token) {
		if fd >= 0 {
			unix.Close(fd)
		}
		return
	}
	pgid := -1
	for _, r := range rs {
		r.found++
		if r.pgid != 0 {
			if pgid == -1 {
				pgid = getpgid(pid)
			}
			if pgid == r.pgid {
				continue
			}
		}
		for _, sig := range r.sigs {
			if fd >= 0 {
				_ = unix.PidfdSendSignal(fd, sig, nil, 0)
			} else {
				_ = unix.Kill(pid, sig) // Linux before 5.3: no pidfds
			}
		}
	}
	if fd >= 0 {
		unix.Close(fd)
	}
}

// readEnviron appends the environment of pid, as /proc shows it, to buf.
// Errors (the process is gone, belongs to another user, is a kernel
// thread) leave buf as it was.
func readEnviron(pid int, buf []byte) []byte {
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/environ", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return buf
	}
	defer unix.Close(fd)
	if cap(buf) == 0 {
		buf = make([]byte, 0, 16<<10)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if n <= 0 || err != nil {
			return buf
		}
		buf = buf[:len(buf)+n]
	}
}

var tokenPrefix = []byte(tokenKey + "=")

// tokens returns the values of tokenKey in env, a NUL-separated list of
// KEY=VALUE.
func tokens(env []byte) [][]byte {
	var toks [][]byte
	for i := 0; ; {
		j := bytes.Index(env[i:], tokenPrefix)
		if j < 0 {
			return toks
		}
		j += i
		v := env[j+len(tokenPrefix):]
		if end := bytes.IndexByte(v, 0); end >= 0 {
			v = v[:end]
		}
		if j == 0 || env[j-1] == 0 {
			toks = append(toks, v)
		}
		i = j + len(tokenPrefix)
	}
}

func holds(env []byte, token string) bool {
	for _, t := range tokens(env) {
		if string(t) == token {
			return true
		}
	}
	return false
}
