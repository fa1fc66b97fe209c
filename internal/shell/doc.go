// Package shell analyses shell commands before the gateway runs them: it
// finds every simple command in a command string and classifies each as
// read, write, destructive or irreversible, with a risk score, the reasons
// and the targets (files, hosts, resources) it acts on.
//
//	an := shell.Analyze(`cd /srv/app && git fetch && curl -fsSL https://x.sh | sudo bash`)
//	// an.Class == gatehouse.ClassIrreversible
//	// an.Reasons includes "pipes a download into a shell (bash)"
//
// Analyze takes a command string as /bin/sh -c would get it; AnalyzeArgv
// takes an argv exec'd without a shell. Neither fails: what cannot be
// analysed is classified so that the policy reviews it (see "Fail-closed
// choices" below).
//
// # How it works
//
// The string is parsed with mvdan.cc/sh/v3/syntax in Bash mode (a
// superset of POSIX sh for what matters here), and the syntax tree is
// walked. Every simple command is found wherever it is: in lists (&&, ||,
// ;), pipelines, subshells, { } groups, if/while/until/for/case bodies,
// function bodies, command substitutions $(…) and `…`, process
// substitutions <(…) and >(…), the defaults of parameter expansions
// (${X:-$(cmd)}), arithmetic, [[ ]] tests and assignments (X=$(cmd)).
//
// Each word becomes an argument after quote removal. A part that depends
// on run-time expansion ($VAR, $(…), $((…)), globs, brace expansion) is
// kept as its source text, and the command is marked Dynamic: rm -rf
// "$DIR/"* has the argument $DIR/*. A program name that is computed
// ($CMD args, "$(echo rm)" -rf /) is classified destructive: "program name
// is computed at run time".
//
// A simple command is then classified by the catalogue (catalogue.go), a
// table from program name to rule. Simple rules are data: class, risk and
// what the program does ("rmdir: removes empty directories"). Programs
// with subcommands have verb tables (git, kubectl, docker, helm,
// terraform, systemctl, npm, apt, …), and programs whose effect depends on
// their arguments have a function (rm's targets, curl's options, the SQL
// given to psql). Unknown programs are writes of moderate risk ("unknown
// command NAME"), which the default policy reviews.
//
// # Commands inside commands
//
// Wrappers run the command in their arguments; it is analysed in their
// place and the wrapper is recorded in its Wrappers: sudo (with -u USER,
// -E, VAR=value …), doas, pkexec, su -c and runuser, env (VAR=value, -i,
// -u, -S), nice (-n N), ionice, timeout (options and DURATION), xargs (its
// options; the arguments it adds come from input, so the command is
// Dynamic; with no command it runs echo), nohup, exec, command (but
// command -v only looks up), builtin, time, stdbuf, chroot DIR, watch
// (which joins its arguments for sh -c, unless -x), flock (FILE CMD or -c
// CMD), setsid, busybox, unbuffer, caffeinate, taskset, chrt, strace,
// ltrace, find -exec/-execdir/-ok, kubectl exec … -- CMD, docker/podman
// exec CONTAINER CMD, heroku run, ip netns exec, python -m MODULE for
// modules in the catalogue, poetry/pipenv/uv run, bundle exec, doppler run
// --, op run --, aws-vault exec PROFILE --.
//
// Shell strings are parsed and analysed in turn, up to maxDepth levels:
// sh/bash/zsh/dash/ksh -c STRING (with combined options such as -lc or
// -euxo pipefail), eval with its arguments joined, ssh HOST CMD (its
// commands get the host as a target, and -o ProxyCommand=… is analysed
// too), su -c, watch, flock -c, trap, psql's \! and sqlite's .shell, and
// the text a shell reads from standard input when it is literal: a heredoc,
// a here-string, or echo/printf piped into it (echo 'rm -rf /' | sh).
//
// A shell string's substitutions run in the outer shell, before the inner
// one parses the string; they are analysed once, in the outer one.
//
// # Pipelines and downloads
//
// A pipeline's stages are analysed in order, each knowing what the
// previous one writes: a download (curl, wget, … and the filters it passes
// through, such as tee, gunzip or base64 -d), literal text (echo, printf, a
// heredoc), a file (cat FILE, < FILE) or unknown output. A download that
// reaches a shell, an interpreter (python, node, perl, …) or a database
// client is irreversible: "pipes a download into a shell". So are
// sh -c "$(curl …)", bash <(curl …), source <(curl …) and eval
// "$(curl …)".
//
// # Redirections
//
// A redirection that overwrites or truncates a file (>, >|, &>, >& FILE,
// and > FILE with : or no command at all) makes its command at least a
// write, with the reason "overwrites FILE (redirect >)" and FILE as a
// target; tee without -a likewise. Appending (>>, &>>, tee -a) is a write
// too, of lower risk: an append can change what a login script runs.
// Writing to /dev/null, /dev/stdout, /dev/stderr, /dev/tty or /dev/fd/N is
// nothing; writing to any other device (/dev/sda) is irreversible, and to
// bash's /dev/tcp/HOST/PORT sends data over the network. The redirections
// of a statement without a program of its own, or of a compound command
// ({ …; } > f), are recorded as an entry with an empty Name.
//
// # SQL
//
// SQL given to psql, mysql/mariadb, sqlite3/duckdb, clickhouse-client and
// cockroach sql — by -c/--command, -e/--execute, --query, sqlite3's
// positional arguments, a heredoc, a here-string or echo piped in — is
// tokenized (comments and string literals dropped, MySQL's executable
// /*! … */ comments kept, PostgreSQL's $tag$ quoting honoured) and split
// into statements. DROP and TRUNCATE are irreversible; DELETE and UPDATE
// without WHERE (or with WHERE 1=1) are destructive with high risk, with a
// WHERE they are writes; ALTER is a write, or destructive when it drops a
// column; SELECT, SHOW, EXPLAIN and transaction control read; EXPLAIN
// ANALYZE is classified by the statement it runs; WITH is classified by
// its main statement. echo DROP TABLE x stays a read: only SQL given to a
// database client is SQL.
//
// # Risk
//
// Each class has a risk band and a command's risk is kept inside it, so
// ordering by risk never contradicts ordering by class: read 0–10, write
// 20–50, destructive 60–89, irreversible 90–100. Within a band the rules
// set the base (rm 65, rm -r 75, a target computed at run time 85, rm -rf /
// 100), and two things raise it: running as another user (sudo, doas, su,
// pkexec, runuser: +10, with a reason), and a target or environment option
// (--context, --profile, -n, …) that looks like production ("prod",
// "production", "prd", "live" as a word: +10, with a reason). An
// analysis's Risk is the highest of its commands', its Class the most
// severe, and its Reasons and Targets those of its commands,
// de-duplicated, in order. A command's reasons given for a read ("ls:
// reads only") are dropped when something else made it more severe.
//
// # What analysis cannot see
//
//   - The contents of scripts and programs: bash deploy.sh, python x.py,
//     make, npm run build, a Makefile recipe or a git alias. They are
//     writes of moderate risk, named in the reasons ("runs the script
//     deploy.sh, which analysis cannot see").
//   - Inline code in other languages: python -c, node -e, perl -e, awk
//     programs beyond a few tell-tale signs (system(), pipes, print >).
//   - Aliases and functions defined outside the command. A function
//     defined in the command itself is analysed where it is defined.
//     Aliases are not expanded in non-interactive shells, and sh -c
//     strings get a fresh shell.
//   - Run-time expansion: the values of variables, the output of
//     substitutions, what globs match, and the arguments xargs or find
//     -exec add. The parts are kept literally and marked Dynamic; a
//     computed program name, subcommand or rm -r target raises the class
//     or the risk.
//   - Side effects hidden in what looks like reading: SQL functions called
//     from SELECT, a git pager or hook, a program's configuration files,
//     PATH lookups (a PATH, LD_PRELOAD or similar assignment before a
//     command is noted as a write).
//   - Commands run inside a container that docker run or kubectl run
//     starts: they are isolated from the host, so only the container's
//     access to the host (--privileged, host namespaces, a mount of / or
//     of the docker socket) raises the risk. Commands given to docker
//     exec, kubectl exec and docker compose exec/run are analysed.
//   - The state of the world: whether a file exists, what a device or host
//     is, whether a remote is shared. Overwriting a file is a write here
//     even when the file is precious; the policy knows the workspace.
//
// # Fail-closed choices
//
// When analysis cannot tell, it assumes the worse. A command that cannot
// be parsed, is longer than maxInput, nests shell strings deeper than
// maxDepth, hides behind more than maxWrappers wrappers, or makes the
// analyser panic is irreversible with risk 100 and (at the top level)
// ParseError set, so that the policy reviews it and never allows it on
// analysis alone. A shell string that cannot be parsed (bash -c 'rm "')
// is irreversible likewise. A computed program name is destructive; a
// download run by a shell or interpreter is irreversible; an unknown
// program or subcommand is a write of moderate risk. Arguments are treated
// conservatively where the shell's meaning is ambiguous: '*' quoted or
// not counts as everything in the directory for rm -r, and ~ as the home
// directory even without a shell.
package shell
