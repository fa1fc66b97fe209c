package config_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/config"
)

func TestWorkspaces(t *testing.T) {
	src := `
workspaces:
  budget: 2GiB
  max_file_size: 500KB
  dirs:
    - path: /home/me/project
      agents: [claude, "ci-*"]
      snapshot: always
      exclude: [node_modules, .git, "*.o", build/cache]
      max_files: 50000
      watch: false
    - path: /srv/other/
      agents: ["*"]
`
	f, err := config.Parse([]byte(src), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	no := false
	want := []config.WorkspaceDir{
		{Path: "/home/me/project", Agents: []string{"claude", "ci-*"}, Snapshot: "always",
			Exclude: []string{"node_modules", ".git", "*.o", "build/cache"}, MaxFiles: 50000, Watch: &no},
		{Path: "/srv/other/", Agents: []string{"*"}},
	}
	if !reflect.DeepEqual(f.Workspaces.Dirs, want) {
		t.Errorf("dirs:\n got %+v\nwant %+v", f.Workspaces.Dirs, want)
	}
	if b, m := f.Workspaces.StoreBudget(), f.Workspaces.StoreMaxFileSize(); b != 2<<30 || m != 500000 {
		t.Errorf("budget %d, max file %d", b, m)
	}
	d := config.Default()
	if d.Workspaces.StoreBudget() != config.DefaultBudget || d.Workspaces.StoreMaxFileSize() != config.DefaultMaxFileSize || len(d.Workspaces.Dirs) != 0 {
		t.Errorf("defaults: %+v", d.Workspaces)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1024": 1024, "1KB": 1000, "1 KiB": 1024, "3MiB": 3 << 20, "2GB": 2e9, "1TiB": 1 << 40, "7B": 7} {
		if got, err := config.ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1.5GB", "10 GiGs", "99999999999999999999", "9999999TiB"} {
		if _, err := config.ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
}

func TestWorkspaceErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"sizes", "workspaces:\n  budget: lots\n  max_file_size: -3\n",
			[]string{`c.yaml:2:11: workspaces: budget: "lots" is not a size`, `c.yaml:3:18: workspaces: max_file_size: "-3" is not a size`}},
		{"paths", "workspaces:\n  dirs:\n    - {agents: [a]}\n    - {path: rel, agents: [a]}\n    - {path: /, agents: [a]}\n",
			[]string{"c.yaml:3:7: workspaces: dirs[0]: path: is required", `c.yaml:4:14: workspaces: dirs[1]: path: "rel" is not an absolute path`,
				"c.yaml:5:14: workspaces: dirs[2]: path: the whole file system cannot be a workspace"}},
		{"twice and nested", "workspaces:\n  dirs:\n    - {path: /srv/a, agents: [x]}\n    - {path: /srv/a/, agents: [y]}\n    - {path: /srv/a/b, agents: [z]}\n    - {path: /srv, agents: [z]}\n",
			[]string{"c.yaml:4:14: workspace /srv/a: given twice (first at dirs[0])",
				"c.yaml:5:14: workspace /srv/a/b: is inside or around /srv/a (dirs[0])",
				"c.yaml:6:14: workspace /srv: is inside or around /srv/a (dirs[0])",
				"c.yaml:6:14: workspace /srv: is inside or around /srv/a/b (dirs[2])"}},
		{"agents", "workspaces:\n  dirs:\n    - {path: /w}\n    - {path: /v, agents: [admin, \"bad name\", \"[\"]}\n",
			[]string{"c.yaml:3:7: workspace /w: agents: is required",
				`c.yaml:4:26: workspace /v: agents: "admin" is the admin token's name`,
				`c.yaml:4:26: workspace /v: agents: invalid agent name "bad name"`,
				`c.yaml:4:26: workspace /v: agents: "[" is not a valid glob`}},
		{"snapshot, exclude, max_files", "workspaces:\n  dirs:\n    - path: /w\n      agents: [a]\n      snapshot: sometimes\n      exclude: [\"\", \"[\", /abs, ../up]\n      max_files: -1\n",
			[]string{`c.yaml:5:17: workspace /w: snapshot: must be writes or always, not "sometimes"`,
				"c.yaml:6:16: workspace /w: exclude: an empty pattern",
				`c.yaml:6:16: workspace /w: exclude: "[" is not a valid pattern`,
				`c.yaml:6:16: workspace /w: exclude: "/abs" must be a name or a path inside the workspace`,
				`c.yaml:6:16: workspace /w: exclude: "../up" must be a name`,
				"c.yaml:7:18: workspace /w: max_files: must not be negative"}},
		{"unknown field", "workspaces:\n  dirs:\n    - {path: /w, agents: [a], excludes: [x]}\n", []string{"c.yaml:3: field excludes not found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tc.src), "c.yaml")
			if err == nil {
				t.Fatalf("Parse succeeded, want %q", tc.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("error:\n%s\nwant %d lines: %q", err, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d: %q\nwant prefix %q", i, lines[i], w)
				}
			}
		})
	}
}
