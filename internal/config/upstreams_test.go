package config_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/config"
)

func TestUpstreams(t *testing.T) {
	src := `
upstreams:
  - name: github
    url: https://api.example.com/mcp
    headers: {Authorization: "Bearer s3cret"}
  - name: fs
    command: [npx, -y, "@modelcontextprotocol/server-filesystem", /srv/project]
    env: {NODE_OPTIONS: --no-warnings}
    cwd: /srv/project
  - name: my-server_2
    command: [/usr/local/bin/mcp-thing]
`
	f, err := config.Parse([]byte(src), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := config.Upstreams{
		{Name: "github", URL: "https://api.example.com/mcp", Headers: map[string]string{"Authorization": "Bearer s3cret"}},
		{Name: "fs", Command: []string{"npx", "-y", "@modelcontextprotocol/server-filesystem", "/srv/project"},
			Env: map[string]string{"NODE_OPTIONS": "--no-warnings"}, Cwd: "/srv/project"},
		{Name: "my-server_2", Command: []string{"/usr/local/bin/mcp-thing"}},
	}
	if !reflect.DeepEqual(f.Upstreams, want) {
		t.Errorf("upstreams:\n got %+v\nwant %+v", f.Upstreams, want)
	}
	if u, ok := f.Upstreams.Lookup("fs"); !ok || !u.Stdio() || u.Cwd != "/srv/project" {
		t.Errorf("Lookup(fs) = %+v, %v", u, ok)
	}
	if u, ok := f.Upstreams.Lookup("github"); !ok || u.Stdio() {
		t.Errorf("Lookup(github) = %+v, %v", u, ok)
	}
	if _, ok := f.Upstreams.Lookup("nope"); ok {
		t.Error("Lookup(nope) found one")
	}
}

func TestUpstreamErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // each a line of the error, in order
	}{
		{"no name", "upstreams:\n  - url: http://x/mcp\n",
			[]string{"c.yaml:2:5: upstreams[0]: name: is required"}},
		{"bad names", "upstreams:\n  - {name: -x, url: http://x}\n  - {name: a__b, url: http://x}\n  - {name: a_, url: http://x}\n  - {name: a/b, url: http://x}\n  - {name: " + strings.Repeat("n", 65) + ", url: http://x}\n",
			[]string{`c.yaml:2:12: upstreams[0]: name: "-x" is not a valid name`, `c.yaml:3:12: upstreams[1]: name: "a__b" is not a valid name`,
				`c.yaml:4:12: upstreams[2]: name: "a_" is not a valid name`, `c.yaml:5:12: upstreams[3]: name: "a/b" is not a valid name`,
				`c.yaml:6:12: upstreams[4]: name: "nnnn`}},
		{"duplicate", "upstreams:\n  - {name: gh, url: http://a}\n  - {name: gh, command: [x]}\n",
			[]string{`c.yaml:3:12: upstream "gh": the name is used twice (first at upstreams[0])`}},
		{"neither", "upstreams:\n  - name: gh\n",
			[]string{`c.yaml:2:5: upstream "gh": needs command (a program to start) or url`}},
		{"both", "upstreams:\n  - name: gh\n    command: [x]\n    url: http://a\n",
			[]string{`c.yaml:4:10: upstream "gh": has both command and url`}},
		{"empty program", "upstreams:\n  - {name: gh, command: [\"\"]}\n",
			[]string{`c.yaml:2:25: upstream "gh": command: the program must not be empty`}},
		{"command not a list", "upstreams:\n  - {name: gh, command: npx server}\n",
			[]string{"c.yaml:2: cannot unmarshal !!str `npx server` into []string"}},
		{"relative cwd", "upstreams:\n  - name: gh\n    command: [x]\n    cwd: srv\n",
			[]string{`c.yaml:4:10: upstream "gh": cwd: "srv" is not an absolute path`}},
		{"bad env name", "upstreams:\n  - name: gh\n    command: [x]\n    env: {\"A=B\": x, OK: y}\n",
			[]string{`c.yaml:4:10: upstream "gh": env: "A=B" is not a variable name`}},
		{"headers on a command", "upstreams:\n  - name: gh\n    command: [x]\n    headers: {A: b}\n",
			[]string{`c.yaml:4:14: upstream "gh": headers: are for url upstreams`}},
		{"env on a url", "upstreams:\n  - name: gh\n    url: http://a\n    env: {A: b}\n",
			[]string{`c.yaml:3:10: upstream "gh": env and cwd are for command upstreams`}},
		{"url scheme", "upstreams:\n  - {name: gh, url: \"ftp://a/mcp\"}\n",
			[]string{`c.yaml:2:21: upstream "gh": url: must be http:// or https://, not "ftp"`}},
		{"url without host", "upstreams:\n  - {name: gh, url: \"http:///mcp\"}\n",
			[]string{`c.yaml:2:21: upstream "gh": url: has no host`}},
		{"url unparsable", "upstreams:\n  - {name: gh, url: \"http://a b/?token=s3cret\"}\n",
			[]string{`c.yaml:2:21: upstream "gh": url: not a URL: invalid character " " in host name`}},
		{"url with password", "upstreams:\n  - {name: gh, url: \"https://u:s3cret@a/mcp\"}\n",
			[]string{`c.yaml:2:21: upstream "gh": url: must not hold a user or password`}},
		{"bad header", "upstreams:\n  - name: gh\n    url: http://a\n    headers: {\"Bad Name\": x, Mcp-Session-Id: y, X-Token: \"s3cret\\nInjected: 1\"}\n",
			[]string{`c.yaml:4:14: upstream "gh": headers: "Bad Name" is not a header name`,
				`c.yaml:4:14: upstream "gh": headers: Mcp-Session-Id is set by the MCP transport itself`,
				`c.yaml:4:14: upstream "gh": headers: X-Token: the value holds a line break or NUL`}},
		{"unknown field", "upstreams:\n  - name: gh\n    url: http://a\n    header: {A: b}\n",
			[]string{"c.yaml:4: field header not found in type config.Upstream"}},
		{"not a list", "upstreams: {name: gh}\n",
			[]string{"c.yaml:1: cannot unmarshal !!map into config.Upstreams"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tc.src), "c.yaml")
			if err == nil {
				t.Fatalf("Parse = nil error, want %q", tc.want)
			}
			if gatehouse.ErrorCode(err) != gatehouse.EINVALID {
				t.Errorf("code %q, want EINVALID", gatehouse.ErrorCode(err))
			}
			lines := strings.Split(gatehouse.ErrorMessage(err), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("%d problems, want %d:\n%s", len(lines), len(tc.want), strings.Join(lines, "\n"))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("problem %d:\n got %s\nwant %s…", i, lines[i], w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error quotes a secret: %s", err)
			}
		})
	}
}
