package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/rogpeppe/go-internal/diff"

	"github.com/gatehouse-dev/gatehouse"
)

// maxDiffSize bounds the content a text diff is made of, per side.
const maxDiffSize = 1 << 20

// Content returns stored content by its SHA-256. ENOTFOUND if it is not
// stored.
func (m *Manager) Content(ctx context.Context, sum string) ([]byte, error) {
	return m.cas.Get(sum)
}

// Diff renders what one change did to a file's content as a unified diff
// (text), or says in note why there is none: a directory, a symlink, a
// mode change, a rename of unchanged content, binary content, content too
// large, or content that is not stored (recorded by hash only).
func (m *Manager) Diff(ctx context.Context, c gatehouse.FileChange) (text, note string) {
	b, a := c.Before, c.After
	switch {
	case c.Op == gatehouse.ChangeMode:
		return "", fmt.Sprintf("mode %s → %s", b.Mode, a.Mode)
	case c.Op == gatehouse.ChangeRenamed && b.SameContent(a):
		return "", "renamed from " + c.From + ", content unchanged"
	case b != nil && a != nil && b.Type == gatehouse.FileSymlink && a.Type == gatehouse.FileSymlink:
		return "", fmt.Sprintf("symlink %q → %q", b.Target, a.Target)
	}
	oldName, newName := "a/"+c.Path, "b/"+c.Path
	if c.Op == gatehouse.ChangeRenamed {
		oldName = "a/" + c.From
	}
	old, why := m.side(b)
	if why != "" {
		return "", "before: " + why
	}
	cur, why := m.side(a)
	if why != "" {
		return "", "after: " + why
	}
	if b == nil {
		oldName = "/dev/null"
	}
	if a == nil {
		newName = "/dev/null"
	}
	for _, s := range [][]byte{old, cur} {
		if !isText(s) {
			return "", fmt.Sprintf("binary content, %d → %d bytes", sizeOf(b), sizeOf(a))
		}
	}
	out := diff.Diff(oldName, old, newName, cur)
	if len(out) == 0 {
		return "", "content unchanged"
	}
	// The first line is the library's "diff OLD NEW" header: the caller
	// writes its own.
	if i := bytes.IndexByte(out, '\n'); i >= 0 && bytes.HasPrefix(out, []byte("diff ")) {
		out = out[i+1:]
	}
	return string(out), ""
}

// side returns the content of one side of a change (nil for none), or why
// it cannot be diffed.
func (m *Manager) side(s *gatehouse.FileState) ([]byte, string) {
	switch {
	case s == nil:
		return nil, ""
	case s.Type == gatehouse.FileDir:
		return nil, "a directory"
	case s.Type == gatehouse.FileSymlink:
		return nil, fmt.Sprintf("a symlink to %q", s.Target)
	case s.SHA256 == "":
		return nil, fmt.Sprintf("not readable when recorded (%d bytes)", s.Size)
	case !s.Stored:
		return nil, fmt.Sprintf("content not stored (over the store's budget): %d bytes, sha256 %s", s.Size, s.SHA256)
	case s.Size > maxDiffSize:
		return nil, fmt.Sprintf("%d bytes, too large for a text diff", s.Size)
	}
	data, err := m.cas.Get(s.SHA256)
	if err != nil {
		return nil, "content unavailable: " + gatehouse.ErrorMessage(err)
	}
	return data, ""
}

func sizeOf(s *gatehouse.FileState) int64 {
	if s == nil {
		return 0
	}
	return s.Size
}

// isText: valid UTF-8 without NUL bytes.
func isText(b []byte) bool {
	return utf8.Valid(b) && !bytes.Contains(b, []byte{0})
}
