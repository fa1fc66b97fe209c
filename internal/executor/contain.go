package executor

import (
	"errors"
	"os/exec"
	"time"

	"golang.org/x/sys/unix"
)

// How the processes of an action are held, so that a kill reaches all of
// them (Result.Containment, Executor.Containment); see the package doc.
const (
	// ContainCgroup: each action runs in its own cgroup v2, which no
	// unprivileged process can leave.
	ContainCgroup = "cgroup"
	// ContainEnviron: each action's environment carries a private marker,
	// and kills sweep /proc for it.
	ContainEnviron = "environ"
	// ContainPgroup: only the action's process group is signalled.
	ContainPgroup = "pgroup"
)

// tokenKey is the environment variable that marks the processes of an
// action under ContainEnviron.
const tokenKey = "GATEHOUSE_EXEC_TOKEN"

// killBound bounds how long Run goes on killing an action's processes
// after its leader has exited, waiting for them to be gone. SIGKILLed
// processes normally die within microseconds; one in uninterruptible sleep
// (a hung NFS mount) may not, and Run gives up on it after this long.
const killBound = 10 * time.Second

// A jail holds the processes of one action, whatever their group.
type jail interface {
	kind() string
	// setup prepares cmd, before it is started, to be held.
	setup(cmd *exec.Cmd)
	// started is called once Start has returned, whether it failed or not.
	started()
	// signal sends each of sigs to every member outside the process group
	// pgid (which the caller signals itself).
	signal(pgid int, sigs ...unix.Signal)
	// kill sends SIGKILL to every member and does not wait.
	kill()
	// finish kills every member, waits (at most killBound) until none is
	// left, and releases what the jail holds. The jail is not used again.
	finish()
}

// probe finds the containment this system supports. It runs once per
// Executor, at the first Run or Containment.
func (e *Executor) probe() {
	if !e.cfg.DisableCgroup {
		cg, err := setupCgroup(e.cfg.CgroupParent)
		if err == nil {
			e.mode, e.cgroup = ContainCgroup, cg
			return
		}
		e.mode = fallbackMode()
		e.log.Info("executor: cgroup v2 not usable, falling back", "containment", e.mode, "reason", err.Error())
		return
	}
	e.mode = fallbackMode()
}

// fallbackMode is the containment without cgroups: environ where /proc is
// there to sweep, else pgroup.
func fallbackMode() string {
	var st unix.Statfs_t
	if err := unix.Statfs("/proc", &st); err != nil || st.Type != unix.PROC_SUPER_MAGIC {
		return ContainPgroup
	}
	return ContainEnviron
}

// newJail returns an empty jail of the given kind.
func (e *Executor) newJail(kind string) (jail, error) {
	switch kind {
	case ContainCgroup:
		j, err := e.cgroup.newJail()
		if err != nil {
			return nil, err
		}
		return j, nil
	case ContainEnviron:
		tok, err := newToken()
		if err != nil {
			return nil, err
		}
		return &environJail{token: tok}, nil
	case ContainPgroup:
		return pgroupJail{}, nil
	}
	return nil, errors.New("executor: unknown containment " + kind)
}

type pgroupJail struct{}

func (pgroupJail) kind() string               { return ContainPgroup }
func (pgroupJail) setup(*exec.Cmd)            {}
func (pgroupJail) started()                   {}
func (pgroupJail) signal(int, ...unix.Signal) {}
func (pgroupJail) kill()                      {}
func (pgroupJail) finish()                    {}

// backoff sleeps between the rounds of waiting for processes to die:
// short at first, as SIGKILLed processes go quickly.
type backoff time.Duration

func (b *backoff) sleep() {
	if *b == 0 {
		*b = backoff(50 * time.Microsecond)
	}
	time.Sleep(time.Duration(*b))
	*b = min(*b*2, backoff(10*time.Millisecond))
}
