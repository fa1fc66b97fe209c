package gatehouse

import (
	"context"
	"path"
	"time"
)

// FileType is what kind of filesystem entry a FileState describes. Other
// kinds (FIFOs, sockets, devices) are not recorded.
type FileType string

const (
	FileRegular FileType = "file"
	FileDir     FileType = "dir"
	FileSymlink FileType = "symlink"
)

// FileState is what one path of a workspace held at one moment: its type,
// permission bits, size and content hash (a regular file), or link target
// (a symlink). Stored says whether the content is in the gateway's
// content store, so that a rollback can write it back; a file over the
// store's budget, or one the gateway could not read, is recorded by hash
// (or by its metadata alone) and is not restorable from the store.
type FileState struct {
	Type   FileType `json:"type"`
	Mode   string   `json:"mode"` // permission bits (with setuid, setgid, sticky) in octal, e.g. "0644"
	Size   int64    `json:"size,omitempty"`
	SHA256 string   `json:"sha256,omitempty"` // of a regular file's content; "" if it could not be read
	Target string   `json:"target,omitempty"` // a symlink's target, as stored in the link (never followed)
	Stored bool     `json:"stored,omitempty"` // the content is in the content store
}

// Same reports whether s and o describe the same content, type and mode:
// what a rollback compares. Two unreadable files are never the same.
func (s *FileState) Same(o *FileState) bool {
	if s == nil || o == nil {
		return s == nil && o == nil
	}
	if s.Type != o.Type || s.Mode != o.Mode {
		return false
	}
	switch s.Type {
	case FileRegular:
		return s.SHA256 != "" && s.SHA256 == o.SHA256 && s.Size == o.Size
	case FileSymlink:
		return s.Target == o.Target
	}
	return true
}

// SameContent reports whether s and o are the same type with the same
// content (mode aside).
func (s *FileState) SameContent(o *FileState) bool {
	if s == nil || o == nil || s.Type != o.Type {
		return false
	}
	a, b := *s, *o
	a.Mode, b.Mode = "", ""
	return a.Same(&b)
}

// ChangeOp is what happened to a path.
type ChangeOp string

const (
	ChangeCreated  ChangeOp = "created"
	ChangeModified ChangeOp = "modified" // content, type or both content and mode changed
	ChangeDeleted  ChangeOp = "deleted"
	ChangeRenamed  ChangeOp = "renamed" // From was moved to Path (same content; Path did not exist before)
	ChangeMode     ChangeOp = "mode"    // only the permission bits changed
)

// FileChange is one change an action made in a workspace. Path (and From)
// are relative to the workspace, with '/' separators. Before is nil for a
// created path, After nil for a deleted one; a rename has the state of
// From before and of Path after.
type FileChange struct {
	Workspace string     `json:"workspace"` // the workspace's directory, absolute
	Path      string     `json:"path"`
	From      string     `json:"from,omitempty"` // for renamed
	Op        ChangeOp   `json:"op"`
	Before    *FileState `json:"before,omitempty"`
	After     *FileState `json:"after,omitempty"`
}

// Abs returns the change's path as an absolute path.
func (c *FileChange) Abs() string { return path.Join(c.Workspace, c.Path) }

// Effects is what an action changed in its agent's workspaces, found by
// comparing the workspaces' state before the action started with their
// state after it ended. It is journaled with the action's end.
type Effects struct {
	// Workspaces lists the workspaces that were recorded (absolute).
	Workspaces []string `json:"workspaces"`
	// Changes lists what changed, sorted by workspace and path.
	Changes []FileChange `json:"changes"`
	// Truncated counts the changes left out of Changes because there were
	// more than the gateway journals for one action. Such effects cannot
	// be rolled back whole.
	Truncated int `json:"truncated,omitempty"`
	// Ambiguous lists the other actions that ran in the same workspace at
	// the same time: some of these changes may be theirs, and some of
	// theirs may be listed here too.
	Ambiguous []string `json:"ambiguous,omitempty"`
	// Error says why the state after the action could not be recorded
	// (whole or in part); the changes are then incomplete.
	Error string `json:"error,omitempty"`
}

// Recording is the record of one action's effects while it runs: begun
// just before the action starts (the workspaces' state before), ended
// after it (what changed). internal/snapshot makes them.
type Recording interface {
	// End records the state after the action and returns its effects.
	End(ctx context.Context) *Effects
	// Abort drops a recording whose action did not start.
	Abort()
}

// Complete reports whether e records every change: nothing truncated, no
// error.
func (e *Effects) Complete() bool { return e != nil && e.Truncated == 0 && e.Error == "" }

// Undo is a command that undoes an action in a system the gateway does not
// snapshot, rendered from the deciding rule's undo template and the
// action's analysis. The gateway lists it in rollback plans; it never runs
// it itself.
type Undo struct {
	Template string `json:"template"`
	Command  string `json:"command,omitempty"` // the rendered command; empty if it could not be rendered
	Error    string `json:"error,omitempty"`   // why it could not be rendered
}

// RolledBack records that a rollback restored an action's file changes.
type RolledBack struct {
	Rollback string    `json:"rollback"` // the rollback's id
	By       string    `json:"by"`
	Time     time.Time `json:"time"`
	// Partial is set when some of the action's changes could not be
	// restored (forced past a problem).
	Partial bool `json:"partial,omitempty"`
}

// Irreversible reports whether an action analysed as an is irreversible:
// its class says it cannot be taken back (a message sent, a request with
// side effects, a deletion in a cloud account, a secret rotated).
func (an *Analysis) Irreversible() bool {
	return an != nil && an.Class == ClassIrreversible
}
