package config

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Upstream is an MCP server the daemon fronts (the upstreams section):
// agents reach it at /mcp/NAME, its tools under their own names, each
// tools/call decided by policy as an mcp_tool action of system NAME. It
// is either a program the daemon starts and speaks to over its stdin and
// stdout (Command, with Env and Cwd), or a streamable HTTP endpoint (URL,
// with Headers).
type Upstream struct {
	// Name is what the agent's configuration calls the server: its tools
	// reach policy as mcp__NAME__TOOL, system NAME.
	Name string `yaml:"name"`

	Command []string          `yaml:"command"` // program and arguments
	Env     map[string]string `yaml:"env"`     // set over the daemon's --env-pass variables
	Cwd     string            `yaml:"cwd"`     // absolute; default the daemon's

	URL     string            `yaml:"url"`     // http or https
	Headers map[string]string `yaml:"headers"` // sent with every request, e.g. Authorization
}

// Stdio reports whether the daemon starts the upstream as a program.
func (u *Upstream) Stdio() bool { return len(u.Command) > 0 }

// Upstreams is the upstreams section: a list, each name once.
type Upstreams []Upstream

// Lookup returns the upstream named name.
func (us Upstreams) Lookup(name string) (*Upstream, bool) {
	for i := range us {
		if us[i].Name == name {
			return &us[i], true
		}
	}
	return nil, false
}

const maxUpstreamName = 64

var upstreamName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// ValidUpstreamName reports whether name can name an upstream: letters,
// digits, '-' and '_', starting with a letter or digit, at most 64, and
// neither "__" nor a final "_", so that mcp__NAME__TOOL says where the
// name ends.
func ValidUpstreamName(name string) bool {
	return len(name) <= maxUpstreamName && upstreamName.MatchString(name) &&
		!strings.Contains(name, "__") && !strings.HasSuffix(name, "_")
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// headerName is an HTTP field name (RFC 9110 token).
var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// reservedHeaders are set by the MCP transport itself.
var reservedHeaders = []string{"Accept", "Content-Type", "Content-Length", "Host", "Transfer-Encoding", "Connection",
	"Mcp-Session-Id", "Mcp-Protocol-Version", "Last-Event-Id"}

// Validate checks the section; n is its YAML node (nil if the file has
// none), for the positions of the problems, which are returned one a line
// as FILE:LINE:COL: message. Values of env and headers may be secrets:
// no problem quotes one.
func (us Upstreams) Validate(file string, n *yaml.Node) []string {
	var p problems
	seen := map[string]int{}
	for i := range us {
		u := &us[i]
		var item *yaml.Node
		if n != nil && n.Kind == yaml.SequenceNode && i < len(n.Content) {
			item = n.Content[i]
		}
		at := func(key string) *yaml.Node {
			if v := field(item, key); v != nil {
				return v
			}
			return item
		}
		what := fmt.Sprintf("upstreams[%d]", i)
		switch {
		case u.Name == "":
			p.add(file, item, "%s: name: is required (what the agent's MCP configuration calls the server)", what)
		case !ValidUpstreamName(u.Name):
			p.add(file, at("name"), "%s: name: %q is not a valid name: use letters, digits, '-' and '_' (not \"__\", not at the end), starting with a letter or digit, at most %d", what, u.Name, maxUpstreamName)
		default:
			what = fmt.Sprintf("upstream %q", u.Name)
			if first, dup := seen[u.Name]; dup {
				p.add(file, at("name"), "%s: the name is used twice (first at upstreams[%d])", what, first)
			} else {
				seen[u.Name] = i
			}
		}
		switch {
		case len(u.Command) == 0 && u.URL == "":
			p.add(file, item, "%s: needs command (a program to start) or url (a streamable HTTP endpoint)", what)
		case len(u.Command) > 0 && u.URL != "":
			p.add(file, at("url"), "%s: has both command and url; an upstream is one or the other", what)
		case len(u.Command) > 0:
			if strings.TrimSpace(u.Command[0]) == "" {
				p.add(file, at("command"), "%s: command: the program must not be empty", what)
			}
			for _, a := range u.Command {
				if strings.IndexByte(a, 0) >= 0 {
					p.add(file, at("command"), "%s: command: NUL byte in an argument", what)
					break
				}
			}
			if u.Cwd != "" && !filepath.IsAbs(u.Cwd) {
				p.add(file, at("cwd"), "%s: cwd: %q is not an absolute path", what, u.Cwd)
			}
			for _, k := range sortedKeys(u.Env) {
				if !envName.MatchString(k) {
					p.add(file, at("env"), "%s: env: %q is not a variable name", what, k)
				} else if strings.IndexByte(u.Env[k], 0) >= 0 {
					p.add(file, at("env"), "%s: env: %s: NUL byte in the value", what, k)
				}
			}
			if u.Headers != nil {
				p.add(file, at("headers"), "%s: headers: are for url upstreams; a command gets env", what)
			}
		default:
			checkURL(&p, file, at("url"), what, u.URL)
			for _, k := range sortedKeys(u.Headers) {
				switch {
				case !headerName.MatchString(k):
					p.add(file, at("headers"), "%s: headers: %q is not a header name", what, k)
				case containsFold(reservedHeaders, k):
					p.add(file, at("headers"), "%s: headers: %s is set by the MCP transport itself", what, k)
				case strings.ContainsAny(u.Headers[k], "\r\n\x00"):
					p.add(file, at("headers"), "%s: headers: %s: the value holds a line break or NUL", what, k)
				}
			}
			if u.Env != nil || u.Cwd != "" {
				p.add(file, at("url"), "%s: env and cwd are for command upstreams; a url gets headers", what)
			}
		}
	}
	return p
}

func checkURL(p *problems, file string, n *yaml.Node, what, raw string) {
	u, err := url.Parse(raw)
	var ue *url.Error
	switch {
	case errors.As(err, &ue): // its message would quote the URL, which may hold a secret
		p.add(file, n, "%s: url: not a URL: %v", what, ue.Err)
	case err != nil:
		p.add(file, n, "%s: url: not a URL", what)
	case u.Scheme != "http" && u.Scheme != "https":
		p.add(file, n, "%s: url: must be http:// or https://, not %q", what, u.Scheme)
	case u.Host == "":
		p.add(file, n, "%s: url: has no host", what)
	case u.User != nil:
		p.add(file, n, "%s: url: must not hold a user or password (it would show in logs); use headers", what)
	case u.Fragment != "":
		p.add(file, n, "%s: url: must not have a #fragment", what)
	}
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
