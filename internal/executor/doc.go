// Package executor runs one command as a process for the gateway and
// reports how it ended. It is Linux-only.
//
// # Two steps
//
// Prepare resolves the executable and checks the working directory without
// starting anything; Run starts the process and waits for it. The split
// exists so that the gateway can journal "started" durably between the two:
// a process never runs without its start being on record, and a command
// that cannot be found or executed is refused before anything is recorded
// as started.
//
// Argv[0] without a slash is looked up in the PATH of Spec.Env, not in the
// daemon's PATH, and empty or relative PATH entries are skipped (as
// exec.LookPath refuses them with exec.ErrDot). Spec.Env is the complete
// environment of the process: nothing of the daemon's is inherited (under
// the environ containment the executor adds its marker). Stdin is
// /dev/null unless Spec.Stdin is set: then it is a pipe that the executor
// fills from Spec.Stdin as the process reads (a process that never reads
// does not stall anything: the pipe fills, the feed waits, and it ends
// with the process), closed at the source's end so that the process reads
// end of file, and closed for good once the action's processes are gone.
//
// # Process groups and the kill sequence
//
// Every command is the leader of a new process group (setpgid), so that a
// signal to the group (kill(-pgid)) reaches everything the command started
// that stayed in the group: the children of a shell script, a pipeline,
// `cmd &`, `nohup cmd &`, a double fork without setsid.
//
// On timeout or cancellation of Run's context (the gateway cancels it for
// an operator's halt) the group gets SIGTERM followed by SIGCONT, so that
// stopped members can act on it, and so does every process of the action
// outside the group (see Containment). If the leader has not exited
// KillGrace later, the group and the rest of the action get SIGKILL.
//
// When the leader exits, by itself or not, the rest of its group and every
// other process of the action are killed with SIGKILL, and Run waits until
// they are gone: the end of an action means that nothing of it is still
// running, and that nothing keeps the output pipes open.
//
// # Containment
//
// A process that leaves the group — setsid, a daemonising fork, setsid,
// fork; setpgid to another group — is out of reach of kill(-pgid). The
// executor finds such processes by one of two layers, chosen at the first
// Run (or call of Executor.Containment) without configuration, and
// reported per action in Result.Containment:
//
// "cgroup": where a writable cgroup v2 hierarchy is mounted, each action
// runs in a cgroup of its own, a-N under gatehouse-PID under the daemon's
// own cgroup (the 0:: line of /proc/self/cgroup, under its cgroup2 mount)
// or under Config.CgroupParent. The leader is cloned straight into it
// (clone3 with CLONE_INTO_CGROUP, Linux 5.7), so that there is no moment
// in which a fast child could fork outside it, and every descendant is
// born in it, whatever its session, group or parent. The SIGTERM goes to
// each pid in cgroup.procs; the SIGKILL is cgroup.kill (Linux 5.14), which
// the kernel applies atomically against forks, or before 5.14 a SIGKILL to
// each pid in cgroup.procs, repeated until it is empty. The cgroup is
// removed once empty, which is how Run knows that everything is gone.
// Creating child cgroups under the daemon's own cgroup while the daemon is
// in it is allowed as long as the daemon's cgroup enables no controller
// for its children (cgroup.subtree_control empty) — and if it did, it
// could not hold the daemon, unless it is the root cgroup, which the rule
// exempts. The executor enables no controller, so that its action cgroups
// may hold processes whatever their parents enable.
//
// "environ": without a usable cgroup, the executor adds a random marker,
// GATEHOUSE_EXEC_TOKEN, to the action's environment (it replaces one in
// Spec.Env), which children inherit. Kills scan /proc/*/environ for it and
// signal what they find; after the leader's exit the scan is repeated
// until it finds nothing. Scans requested while one runs are served
// together by the next one, so that a halt of many actions costs a few
// scans. Processes are signalled by pidfd, opened before the environment
// is read again to confirm the marker, so that a recycled pid is never
// signalled.
//
// "pgroup": neither (no /proc): only the process group is signalled.
//
// If setting up cgroups fails (no cgroup2 mount, read-only, no permission,
// a threaded parent, a kernel without CLONE_INTO_CGROUP), the executor
// logs why once, at Info, on Config.Logger and uses environ; an action
// whose own cgroup cannot be made or whose start into it fails is retried
// once under environ (a failed exec has run nothing), with a warning.
// Config.DisableCgroup forces environ. An empty gatehouse-PID left by a
// daemon whose pid is gone is removed at the next daemon's first Run.
//
// Cost, measured on a 2-CPU VM: Run of /bin/true takes about 0.95 ms with
// cgroup (a mkdir, an open and an rmdir) against 0.86 ms with the process
// group alone. An environ scan reads the environment of every process on
// the system, about 3.5 µs each, and every action's end takes at least
// one: Run of /bin/true takes 1.08 ms among 80 processes, 4.6 ms among
// 1,100. Killing 100 running actions at once (BenchmarkKill100) takes a
// median of 11 ms with cgroup and 9 ms with environ among 80 other
// processes, 10 ms and 33 ms among 1,000, against 7 ms before
// containment.
//
// # What is not caught
//
// By either layer: processes started on the action's behalf by something
// else — a service manager (systemd-run, systemctl start), a container
// runtime (docker run), the remote side of ssh, at(1), cron, any daemon
// the action merely talks to — are not the action's descendants and are
// not killed. Neither are the action's processes killed if the daemon
// itself dies: they run on, in their cgroup (which the next daemon leaves
// alone if populated) or with their marker. A process in uninterruptible
// sleep that does not die within 10 s of its SIGKILL is given up on (Run
// returns; a cgroup left populated is killed and removed again later).
//
// Under cgroup: a process that writes itself into another cgroup's
// cgroup.procs escapes. That takes write permission on that file and on
// the common ancestor's; the executor's cgroups belong to the daemon's
// user, as do actions, so it is not a privilege barrier against an action
// set on escaping — but no ordinary way of backgrounding or daemonising
// does it.
//
// Under environ: a process whose environment does not carry the marker
// escapes: one started with a cleared or rebuilt environment (env -i,
// sudo and other setuid programs that reset it, exec with an explicit
// environment), or one that overwrites its environment block in memory
// (setproctitle). So does one whose environment the daemon may not read
// (another user's, or a process that made itself non-dumpable, unless the
// daemon is root). A process that forks faster than the scans kill can in
// principle outrun them; each scan kills what it finds, and the scans go
// on for up to 10 s.
//
// Under pgroup: everything that leaves the group escapes, as described
// above; if it holds the output pipes, Run stops reading after
// DrainTimeout.
//
// # No child subreaper
//
// The executor does not make the daemon a child subreaper
// (PR_SET_CHILD_SUBREAPER). It would not catch a single process more:
// both layers find processes by cgroup or marker, never by parentage, and
// a subreaper's orphans cannot be attributed to an action. What it would
// do is move the reaping of orphans from init to the daemon, which must
// then reap zombies it did not start: every orphan of every action,
// including those that exit by themselves while their action still runs
// (a `(cmd &)` in a script) and are never seen by a scan. Telling those
// from the children of other code in the daemon is guesswork (a zombie
// child that is not a leader is an orphan only if nothing else in the
// daemon starts processes in a group of their own), and a wrong guess
// steals another waiter's exit status, while a missed one leaks a zombie
// for the life of the daemon. Init reaps them today. If the daemon runs as
// PID 1 (a container without an init), nothing does: run it under one
// (docker --init, tini).
//
// # The zombie trick
//
// Signalling a process group by number is racy in general: once the leader
// has been reaped, its pid (and so the pgid) may be reused by an unrelated
// process. The executor avoids this by waiting for the leader with
// waitid(P_PID, pid, WEXITED|WNOWAIT), which reports the exit but leaves the
// leader a zombie. While the zombie exists its pid cannot be reused, so the
// pgid still names only this command's group; the executor kills the group,
// and only then reaps the leader. All signals are sent before the reap.
// This relies on nothing else in the daemon reaping the executor's children
// (no wait(-1), SIGCHLD not ignored).
//
// # Output
//
// stdout and stderr are pipes, each drained by its own goroutine in chunks
// of 32 KiB. Every chunk is written to the live sink (Spec.Stdout,
// Spec.Stderr), the first OutputCap bytes are kept, and the whole stream is
// counted and hashed with SHA-256. A sink whose Write fails is not written
// to again; capture goes on and the process is not disturbed. If both sinks
// are the same writer, they are never written to concurrently. Sinks are
// never written to after Run returns; a sink that blocks stalls the stream
// (the process blocks on a full pipe) and Run with it.
//
// With Spec.Filter, each stream passes through its own filter first (the
// gateway's redaction of secrets): what is kept, counted, hashed and sent
// to the sink is the filtered stream, and what a filter holds back is
// flushed when the stream ends, including when the drain timeout cuts it.
//
// After the leader has exited and its processes have been killed, Run
// waits at most DrainTimeout for the pipes to reach end of file, then
// closes them: a process that escaped may hold them open indefinitely.
//
// # Exit status
//
// Result.ExitCode follows the shell: 127 when the command is not found, 126
// when it cannot be executed, the exit status when it exits, and -1 with
// Result.Signal naming the signal (e.g. "SIGKILL") when a signal ended it;
// a caller that wants the shell's number maps that to 128+SignalNumber.
package executor
