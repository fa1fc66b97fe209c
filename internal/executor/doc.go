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
// environment of the process: nothing of the daemon's is inherited. Stdin
// is /dev/null.
//
// # Process groups and the kill sequence
//
// Every command is the leader of a new process group (setpgid), so that a
// signal to the group (kill(-pgid)) reaches everything the command started
// that stayed in the group: the children of a shell script, a pipeline,
// `cmd &`.
//
// On timeout or cancellation of Run's context the group gets SIGTERM
// (followed by SIGCONT, so that stopped members can act on it), and if the
// leader has not exited KillGrace later, SIGKILL.
//
// When the leader exits, by itself or not, the rest of its group is killed
// with SIGKILL: the end of an action means that nothing of it is still
// running, and that no background child keeps the output pipes open.
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
// After the leader has exited and its group has been killed, Run waits at
// most DrainTimeout for the pipes to reach end of file, then closes them:
// a process that escaped the group may hold them open indefinitely.
//
// # What is not caught
//
// Processes that leave the group — setsid, a daemonising double fork into
// a new session, setpgid to another group — are not signalled and keep
// running after the action has ended; if they hold the output pipes, Run
// stops reading after DrainTimeout. Neither are a command's processes
// killed if the daemon itself dies. Tracking all descendants (cgroups, or a
// child subreaper) is left to a later issue.
//
// # Exit status
//
// Result.ExitCode follows the shell: 127 when the command is not found, 126
// when it cannot be executed, the exit status when it exits, and -1 with
// Result.Signal naming the signal (e.g. "SIGKILL") when a signal ended it;
// a caller that wants the shell's number maps that to 128+SignalNumber.
package executor
