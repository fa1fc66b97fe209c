package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

var diffCmd = &command{
	name:    "diff",
	summary: "show what an action changed in its workspace",
	help: `Usage: gatehouse diff ACTION [-o text|json]

Shows what one action changed in its agent's workspaces, as recorded by the
snapshots taken before and after it: each file created, modified, deleted or
renamed and each mode change, with a unified diff of text made from the
stored contents. Binary content, directories, symlinks and content that was
not stored (over the content store's budget) are summarised instead.

An action whose workspace was not recorded (it could not write in one of
its agent's workspaces, or none was configured) has no diff. Effects that
are ambiguous (another action ran in the workspace at the same time) or
incomplete are flagged at the end.

Needs a reviewer or the admin token.

Flags:
  -o FORMAT   text (default) or json
`,
	run: runDiff,
}

func runDiff(ctx context.Context, c *command, e *Env, args []string) int {
	fs := newFlags(c)
	out := outputFlag(fs, "text", "json")
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if code, ok := checkFormat(c, e, *out, "text", "json"); !ok {
		return code
	}
	if len(pos) != 1 {
		return usageError(c, e, "want one action ID")
	}
	d, err := e.client().Diff(ctx, pos[0])
	if err != nil {
		return fail(e, err)
	}
	if *out == "json" {
		return writeJSON(e, d)
	}
	writeDiff(e.Stdout, d)
	return exitOK
}

func writeDiff(w io.Writer, d *gatehouse.DiffResult) {
	if !d.Recorded {
		fmt.Fprintf(w, "action %s: no workspace was recorded for it\n", d.Action)
		return
	}
	if len(d.Files) == 0 {
		fmt.Fprintf(w, "action %s changed nothing in its workspaces\n", d.Action)
	}
	ws := ""
	for _, f := range d.Files {
		if f.Workspace != ws {
			ws = f.Workspace
			fmt.Fprintf(w, "# workspace %s\n", ws)
		}
		fmt.Fprintln(w, changeLine(&f.FileChange))
		switch {
		case f.Diff != "":
			io.WriteString(w, f.Diff)
			if !strings.HasSuffix(f.Diff, "\n") {
				fmt.Fprintln(w)
			}
		case f.Note != "" && f.Op != gatehouse.ChangeMode:
			fmt.Fprintf(w, "  (%s)\n", f.Note)
		}
	}
	if d.Truncated > 0 {
		fmt.Fprintf(w, "warning: %d more changes were not journaled\n", d.Truncated)
	}
	if len(d.Ambiguous) > 0 {
		fmt.Fprintf(w, "warning: ambiguous: %s ran in the same workspace at the same time; some changes may be theirs\n", strings.Join(d.Ambiguous, ", "))
	}
	if d.Error != "" {
		fmt.Fprintf(w, "warning: incomplete: %s\n", d.Error)
	}
}

// changeLine is one change in a line: what happened to which path.
func changeLine(c *gatehouse.FileChange) string {
	switch c.Op {
	case gatehouse.ChangeRenamed:
		return fmt.Sprintf("renamed %s → %s", c.From, c.Path)
	case gatehouse.ChangeMode:
		return fmt.Sprintf("mode %s %s → %s", c.Path, c.Before.Mode, c.After.Mode)
	case gatehouse.ChangeCreated:
		return fmt.Sprintf("created %s (%s)", c.Path, stateText(c.After))
	case gatehouse.ChangeDeleted:
		return fmt.Sprintf("deleted %s (%s)", c.Path, stateText(c.Before))
	}
	if c.Before != nil && c.After != nil && (c.Before.Type != c.After.Type || c.Before.Mode != c.After.Mode) {
		return fmt.Sprintf("modified %s (%s → %s)", c.Path, stateText(c.Before), stateText(c.After))
	}
	return "modified " + c.Path
}

func stateText(s *gatehouse.FileState) string {
	switch {
	case s == nil:
		return "nothing"
	case s.Type == gatehouse.FileDir:
		return "directory " + s.Mode
	case s.Type == gatehouse.FileSymlink:
		return "symlink to " + s.Target
	}
	t := fmt.Sprintf("file %s, %d bytes", s.Mode, s.Size)
	if !s.Stored {
		t += ", content not stored"
	}
	return t
}
