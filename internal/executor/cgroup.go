package executor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupParent is the cgroup under which each action gets its own.
type cgroupParent struct {
	dir      string // its directory
	killFile bool   // cgroup.kill exists (Linux 5.14)
}

// cgroupSeq numbers the action cgroups of this process ("a-1"), across
// Executors.
var cgroupSeq atomic.Uint64

// setupCgroup finds or makes the parent of the action cgroups and proves
// that a process can be started in a child of it. parent is
// Config.CgroupParent; "" means gatehouse-PID under the daemon's own
// cgroup. Any error means cgroups are not usable.
func setupCgroup(parent string) (*cgroupParent, error) {
	var dir string
	if parent == "" {
		own, err := ownCgroupDir()
		if err != nil {
			return nil, err
		}
		removeStale(own)
		dir = filepath.Join(own, "gatehouse-"+strconv.Itoa(os.Getpid()))
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
	} else {
		dir = filepath.Clean(parent)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := isCgroup2(dir); err != nil {
			return nil, err
		}
	}
	cg := &cgroupParent{dir: dir}
	j, err := cg.newJail()
	if err != nil {
		return nil, err
	}
	defer j.finish()
	if _, err := os.Stat(filepath.Join(j.dir, "cgroup.kill")); err == nil {
		cg.killFile = true
	}
	// Start a process in it the way Run will (clone3 with
	// CLONE_INTO_CGROUP), with an executable that cannot exist, so that
	// nothing runs: ENOENT is execve's, after the clone into the cgroup
	// succeeded; any other error is the clone's.
	_, err = syscall.ForkExec("/proc/self/gatehouse-probe", []string{"gatehouse-probe"}, &syscall.ProcAttr{
		Env: []string{},
		Sys: &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: j.fd},
	})
	j.started()
	if err != syscall.ENOENT {
		if err == nil {
			err = errors.New("probe started")
		}
		return nil, fmt.Errorf("start in %s: %w", j.dir, err)
	}
	return cg, nil
}

// ownCgroupDir returns the directory of the daemon's own cgroup v2: its
// path from the "0::" line of /proc/self/cgroup, under the cgroup2 mount
// that shows it.
func ownCgroupDir() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	var own string
	for line := range strings.Lines(string(b)) {
		if p, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "0::"); ok {
			own = p
		}
	}
	if own == "" || !strings.HasPrefix(own, "/") {
		return "", errors.New("no cgroup v2 in /proc/self/cgroup")
	}
	mounts, err := cgroup2Mounts()
	if err != nil {
		return "", err
	}
	self := strconv.Itoa(os.Getpid())
	for _, m := range mounts {
		rel, ok := underRoot(own, m.root)
		if !ok {
			continue
		}
		dir := filepath.Join(m.point, rel)
		// That this is where the daemon is, not a look-alike path: a
		// mount of another part of the hierarchy, or one from another
		// cgroup namespace.
		procs, err := readPids(filepath.Join(dir, "cgroup.procs"))
		if err == nil && slices.Contains(procs, atoi(self)) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("no cgroup2 mount shows cgroup %s", own)
}

func underRoot(p, root string) (string, bool) {
	if root == "/" {
		return p, true
	}
	if p == root {
		return "/", true
	}
	rest, ok := strings.CutPrefix(p, root+"/")
	return "/" + rest, ok
}

type mount struct{ root, point string }

// cgroup2Mounts lists the cgroup2 mounts of /proc/self/mountinfo.
func cgroup2Mounts() ([]mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ms []mount
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		// id parent major:minor root point options [optional...] - fstype source super
		left, right, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		lf, rf := strings.Fields(left), strings.Fields(right)
		if len(lf) < 5 || len(rf) < 1 || rf[0] != "cgroup2" {
			continue
		}
		ms = append(ms, mount{root: unescapeMount(lf[3]), point: unescapeMount(lf[4])})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, errors.New("no cgroup2 mount")
	}
	return ms, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isCgroup2(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return fmt.Errorf("%s is not on a cgroup2 file system", dir)
	}
	return nil
}

// removeStale removes the empty cgroups that daemons no longer running
// left under own (gatehouse-PID with PID gone). A populated one, whose
// processes outlived their daemon, is left alone.
func removeStale(own string) {
	ents, err := os.ReadDir(own)
	if err != nil {
		return
	}
	for _, ent := range ents {
		n, ok := strings.CutPrefix(ent.Name(), "gatehouse-")
		pid, err := strconv.Atoi(n)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() || unix.Kill(pid, 0) != unix.ESRCH {
			continue
		}
		dir := filepath.Join(own, ent.Name())
		subs, _ := os.ReadDir(dir)
		for _, s := range subs {
			if s.IsDir() {
				_ = unix.Rmdir(filepath.Join(dir, s.Name()))
			}
		}
		_ = unix.Rmdir(dir)
	}
}

// newJail makes the cgroup of one action and opens it for clone3.
func (cg *cgroupParent) newJail() (*cgroupJail, error) {
	retryLeftovers()
	remade := false
	for {
		dir := filepath.Join(cg.dir, "a-"+strconv.FormatUint(cgroupSeq.Add(1), 10))
		err := unix.Mkdir(dir, 0o755)
		if err == unix.EEXIST {
			continue // another daemon shares the parent
		}
		if err == unix.ENOENT && !remade {
			// The parent was removed under the daemon (by hand, or as
			// stale by a daemon that took our pid for a dead one's).
			remade = true
			if err := os.MkdirAll(cg.dir, 0o755); err == nil {
				continue
			}
		}
		if err != nil {
			return nil, fmt.Errorf("mkdir %s: %w", dir, err)
		}
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			_ = unix.Rmdir(dir)
			return nil, fmt.Errorf("open %s: %w", dir, err)
		}
		return &cgroupJail{dir: dir, fd: fd, killFile: cg.killFile}, nil
	}
}

// cgroupJail is the cgroup of one action.
type cgroupJail struct {
	dir      string
	fd       int // until started
	killFile bool
}

func (j *cgroupJail) kind() string { return ContainCgroup }

func (j *cgroupJail) setup(cmd *exec.Cmd) {
	cmd.SysProcAttr.UseCgroupFD = true
	cmd.SysProcAttr.CgroupFD = j.fd
}

func (j *cgroupJail) started() {
	if j.fd >= 0 {
		unix.Close(j.fd)
		j.fd = -1
	}
}

func (j *cgroupJail) signal(pgid int, sigs ...unix.Signal) {
	j.members(func(pidfd, pid int) {
		if pgid != 0 && getpgid(pid) == pgid {
			return
		}
		for _, sig := range sigs {
			_ = unix.PidfdSendSignal(pidfd, sig, nil, 0)
		}
	})
}

func (j *cgroupJail) kill() {
	if j.killFile {
		// Atomic: forks while it runs fail, so nothing escapes it.
		if err := os.WriteFile(filepath.Join(j.dir, "cgroup.kill"), []byte("1"), 0); err == nil {
			return
		}
	}
	j.signal(0, unix.SIGKILL)
}

func (j *cgroupJail) finish() {
	j.started()
	// A cgroup whose processes are all gone (zombies do not count) can be
	// removed: the common case costs just this.
	err := unix.Rmdir(j.dir)
	deadline := time.Now().Add(killBound)
	var b backoff
	for err == unix.EBUSY && time.Now().Before(deadline) {
		j.kill()
		b.sleep()
		err = unix.Rmdir(j.dir)
	}
	if err == unix.EBUSY {
		addLeftover(j.dir)
	}
}

// members calls fn for each process in the cgroup, with a pidfd of it.
// Only pids listed both before and after the pidfd was opened are passed
// on: the pidfd then names a process that was in the cgroup, never an
// unrelated one that was given a recycled pid.
func (j *cgroupJail) members(fn func(pidfd, pid int)) {
	procs := filepath.Join(j.dir, "cgroup.procs")
	before, err := readPids(procs)
	if err != nil || len(before) == 0 {
		return
	}
	fds := make(map[int]int, len(before))
	for _, pid := range before {
		if fd, err := unix.PidfdOpen(pid, 0); err == nil {
			fds[pid] = fd
		}
	}
	after, _ := readPids(procs)
	for _, pid := range after {
		if fd, ok := fds[pid]; ok {
			fn(fd, pid)
		}
	}
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func readPids(file string) ([]int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var pids []int
	for f := range bytes.FieldsSeq(b) {
		if pid := atoi(string(f)); pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

func getpgid(pid int) int {
	pgid, err := unix.Getpgid(pid)
	if err != nil {
		return -1
	}
	return pgid
}

// Action cgroups that still held processes killBound after their kill:
// each new action cgroup tries again to kill and remove them.
var leftovers struct {
	sync.Mutex
	dirs []string
}

func addLeftover(dir string) {
	leftovers.Lock()
	leftovers.dirs = append(leftovers.dirs, dir)
	leftovers.Unlock()
}

func retryLeftovers() {
	leftovers.Lock()
	defer leftovers.Unlock()
	leftovers.dirs = slices.DeleteFunc(leftovers.dirs, func(dir string) bool {
		_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
		return unix.Rmdir(dir) != unix.EBUSY
	})
}
