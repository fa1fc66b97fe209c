// Package snapshot records what actions change in the agents' workspaces
// and puts it back: the effects of each action (files created, modified,
// deleted, renamed, mode changes) and the restores of a rollback.
//
// # Recording
//
// Each workspace has an index: for every entry under its directory, what a
// stat says (type, mode, size, mtime, ctime, inode), the SHA-256 of a
// regular file's content — which is in the content store (internal/cas)
// when within its budget — and a symlink's target. Before an action that
// may write in the workspace (Begin), the index is brought up to date by a
// walk that stats every entry and hashes only those whose stat changed;
// what changed since the last walk was changed outside any recorded action
// (by a person, by a process the gateway does not see), and its content
// is stored too, so that whatever the action then modifies can be put
// back. After the action (End), a second walk finds what changed, and
// that is the action's effects. The workspace is never copied: a walk of
// 10,000 unchanged files is 10,000 stat calls, made four directories at a
// time (docs/PERFORMANCE.md has the numbers).
//
// A stat that has not changed is trusted, as git trusts its index, with
// git's precaution: a file hashed within two seconds of its last change
// is hashed again by the next walk, since a change within the same
// timestamp tick would not show in its stat. Directories compare by type
// and mode (their times change with their contents, which the walk sees).
//
// Which actions are recorded: with `snapshot: always`, every action of the
// workspace's agents; otherwise those whose analysis says they may write
// (class write or worse, or not analysed) and whose working directory, or
// one of whose targets or arguments (taken as paths), is inside the
// workspace. So a command run from outside that writes in by a path the
// analysis cannot see (a script, a computed path) is not recorded; its
// changes show as made outside any action at the next walk. `always`
// closes that gap at the price of two walks per action.
//
// What is recorded: regular files, directories and symlinks under the
// workspace's directory, except what its exclude patterns and the
// gateway's own state directory exclude. A symlink is recorded as a link
// with its target; it is never followed, so a file outside the workspace
// is never read or restored through one. FIFOs, sockets and devices are
// ignored. A directory the daemon cannot read is not walked (what the
// index had of it stands); a file it cannot read is recorded by its stat
// only, not restorable. Ownership, timestamps, extended attributes and
// hard links are not recorded: a restored file is a new file.
//
// # Concurrency
//
// Walks of one workspace are serialized (a mutex per workspace); actions
// are not. When two recorded actions run in one workspace at the same
// time, each walk's changes go to every recording active then, and both
// actions' effects are marked ambiguous, naming each other: a snapshot
// cannot tell whose change is whose. A rollback refuses ambiguous effects
// unless forced. Changes made while an action runs by anything else are
// counted as the action's.
//
// The index is kept in memory and saved (in the state directory's
// snapshots/) when the daemon stops, so that the next start only stats
// the workspace. A daemon that was killed loses the index: the next start
// hashes the workspace again (from the store, nothing is lost; it only
// takes longer). The index is a cache: the journal's effects are the
// record.
//
// # Restoring
//
// Restore (see its documentation) checks each restore of a rollback plan
// against the disk — the path must hold exactly what the last rolled-back
// action left — and refuses on any difference unless forced; it writes
// content through a staging file renamed into place.
package snapshot
