package snapshot

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

func fe(sum string, mode uint32) *entry {
	return &entry{typ: gatehouse.FileRegular, mode: mode, size: int64(len(sum)), sum: sum, stored: true}
}

func le(target string) *entry { return &entry{typ: gatehouse.FileSymlink, mode: 0o777, target: target} }

func de(mode uint32) *entry { return &entry{typ: gatehouse.FileDir, mode: mode} }

// TestChanges: how a recording's before and after of each path become the
// changes of an action's effects.
func TestChanges(t *testing.T) {
	over := fe("bigcontent", 0o644)
	over.stored = false
	unreadable := &entry{typ: gatehouse.FileRegular, mode: 0o600, size: 5, mtime: 1}
	unreadableLater := &entry{typ: gatehouse.FileRegular, mode: 0o600, size: 5, mtime: 2}
	for _, tc := range []struct {
		name string
		in   map[string]*pathChange
		want []string // "op path [from]" sorted
	}{
		{"created", map[string]*pathChange{"f": {nil, fe("x", 0o644)}}, []string{"created f"}},
		{"deleted", map[string]*pathChange{"g": {fe("x", 0o644), nil}}, []string{"deleted g"}},
		{"modified", map[string]*pathChange{"f": {fe("x", 0o644), fe("y", 0o644)}}, []string{"modified f"}},
		{"content and mode", map[string]*pathChange{"f": {fe("x", 0o644), fe("y", 0o755)}}, []string{"modified f"}},
		{"mode", map[string]*pathChange{"j": {fe("x", 0o644), fe("x", 0o755)}}, []string{"mode j"}},
		{"dir mode", map[string]*pathChange{"d": {de(0o755), de(0o700)}}, []string{"mode d"}},
		{"renamed", map[string]*pathChange{"h": {fe("x", 0o644), nil}, "i": {nil, fe("x", 0o644)}}, []string{"renamed i h"}},
		{"renamed with a mode change", map[string]*pathChange{"h": {fe("x", 0o644), nil}, "i": {nil, fe("x", 0o600)}}, []string{"renamed i h"}},
		{"moved over an existing file is no rename", map[string]*pathChange{"h": {fe("x", 0o644), nil}, "i": {fe("old", 0o644), fe("x", 0o644)}},
			[]string{"deleted h", "modified i"}},
		{"renamed and edited is no rename", map[string]*pathChange{"h": {fe("x", 0o644), nil}, "i": {nil, fe("y", 0o644)}},
			[]string{"created i", "deleted h"}},
		{"two copies of one content, both moved", map[string]*pathChange{
			"a1": {fe("x", 0o644), nil}, "a2": {fe("x", 0o644), nil}, "b1": {nil, fe("x", 0o644)}, "b2": {nil, fe("x", 0o644)}},
			[]string{"renamed b1 a1", "renamed b2 a2"}},
		{"one content deleted twice, created once", map[string]*pathChange{
			"a1": {fe("x", 0o644), nil}, "a2": {fe("x", 0o644), nil}, "b": {nil, fe("x", 0o644)}},
			[]string{"deleted a2", "renamed b a1"}},
		{"symlink created", map[string]*pathChange{"l": {nil, le("/etc/passwd")}}, []string{"created l"}},
		{"symlink retargeted", map[string]*pathChange{"l": {le("a"), le("b")}}, []string{"modified l"}},
		{"symlink renamed", map[string]*pathChange{"l": {le("a"), nil}, "m": {nil, le("a")}}, []string{"renamed m l"}},
		{"file became a symlink", map[string]*pathChange{"f": {fe("x", 0o644), le("x")}}, []string{"modified f"}},
		{"directories are never paired", map[string]*pathChange{"d": {de(0o755), nil}, "e": {nil, de(0o755)}}, []string{"created e", "deleted d"}},
		{"created and deleted again", map[string]*pathChange{"t": {nil, nil}}, nil},
		{"changed and changed back", map[string]*pathChange{"f": {fe("x", 0o644), fe("x", 0o644)}}, nil},
		{"over budget is recorded unstored", map[string]*pathChange{"big": {nil, over}}, []string{"created big"}},
		{"unreadable files compare by stat", map[string]*pathChange{"u": {unreadable, unreadableLater}, "v": {unreadable, unreadable}}, []string{"modified u"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := changes("/ws", tc.in)
			var s []string
			for _, c := range got {
				line := string(c.Op) + " " + c.Path
				if c.From != "" {
					line += " " + c.From
				}
				s = append(s, line)
				if c.Workspace != "/ws" {
					t.Errorf("%s: workspace %q", c.Path, c.Workspace)
				}
				// Each side is the state of the path it describes.
				switch c.Op {
				case gatehouse.ChangeCreated:
					if c.Before != nil || c.After == nil {
						t.Errorf("%s: before %v after %v", line, c.Before, c.After)
					}
				case gatehouse.ChangeDeleted:
					if c.Before == nil || c.After != nil {
						t.Errorf("%s: before %v after %v", line, c.Before, c.After)
					}
				case gatehouse.ChangeRenamed:
					if !c.Before.SameContent(c.After) {
						t.Errorf("%s: a rename changed content: %v → %v", line, c.Before, c.After)
					}
				}
			}
			sort.Strings(s)
			if strings.Join(s, ",") != strings.Join(tc.want, ",") {
				t.Errorf("changes = %q, want %q", s, tc.want)
			}
		})
	}
}

func TestEntryState(t *testing.T) {
	over := fe("sum", 0o4755)
	over.stored = false
	for _, tc := range []struct {
		e    *entry
		want string
	}{
		{fe("sum", 0o644), "file 0644 3 sum  true"},
		{over, "file 4755 3 sum  false"},
		{&entry{typ: gatehouse.FileRegular, mode: 0o600, size: 9, stored: true}, "file 0600 9   false"}, // unreadable: never stored
		{le("../x"), "symlink 0777 0  ../x false"},
		{de(0o1777), "dir 1777 0   false"},
	} {
		s := tc.e.state()
		got := fmt.Sprintf("%s %s %d %s %s %v", s.Type, s.Mode, s.Size, s.SHA256, s.Target, s.Stored)
		if got != tc.want {
			t.Errorf("state = %q, want %q", got, tc.want)
		}
	}
}
