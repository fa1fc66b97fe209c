package config

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse"
)

// Credentials is the credentials section: which agents get which secret
// held by the gateway, in which environment variable, for their actions
// on which systems.
//
//	credentials:
//	  - secret: GITHUB_TOKEN   # set with: gatehouse secret set GITHUB_TOKEN
//	    env: GH_TOKEN          # default: the secret's name
//	    agents: [ci-bot]
//	    systems: [github]      # the action's system (run --system)
type Credentials []Credential

// Credential is one grant.
type Credential struct {
	Secret  string   `yaml:"secret"`
	Env     string   `yaml:"env"`
	Agents  []string `yaml:"agents"`
	Systems []string `yaml:"systems"`
}

var envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// reservedEnv reports whether the gateway sets name itself, so a grant
// may not use it.
func reservedEnv(name string) bool {
	return name == "PATH" || name == "TRACEPARENT" || strings.HasPrefix(name, "GATEHOUSE_")
}

// Grants returns the grants with their defaults applied.
func (cs Credentials) Grants() []gatehouse.Grant {
	out := make([]gatehouse.Grant, 0, len(cs))
	for _, c := range cs {
		env := c.Env
		if env == "" {
			env = c.Secret
		}
		out = append(out, gatehouse.Grant{Secret: c.Secret, Env: env, Agents: slices.Clone(c.Agents), Systems: slices.Clone(c.Systems)})
	}
	return out
}

// Validate checks the section, whose YAML node is n (nil if the file has
// none), and returns its problems as FILE:LINE:COL lines. Each grant
// needs a valid secret name, an environment variable that the gateway
// does not set itself (GATEHOUSE_*, TRACEPARENT, PATH), and at least one
// agent and one system; two grants must not put different secrets into
// one variable for the same agent and system.
func (cs Credentials) Validate(file string, n *yaml.Node) []string {
	var p problems
	item := func(i int) *yaml.Node {
		if n != nil && n.Kind == yaml.SequenceNode && i < len(n.Content) {
			return n.Content[i]
		}
		return n
	}
	at := func(i int, key string) *yaml.Node {
		if f := field(item(i), key); f != nil {
			return f
		}
		return item(i)
	}
	grants := cs.Grants()
	for i, c := range cs {
		pre := "credentials[" + strconv.Itoa(i) + "]"
		if c.Secret == "" {
			p.add(file, item(i), "%s.secret: required", pre)
		} else if err := gatehouse.ValidateSecretName(c.Secret); err != nil {
			p.add(file, at(i, "secret"), "%s.secret: %s", pre, gatehouse.ErrorMessage(err))
		}
		env := grants[i].Env
		switch {
		case c.Env == "" && c.Secret != "" && !envVarName.MatchString(c.Secret):
			p.add(file, item(i), "%s.env: required, since %q is not an environment variable name", pre, c.Secret)
		case c.Env != "" && !envVarName.MatchString(c.Env):
			p.add(file, at(i, "env"), "%s.env: %q is not an environment variable name", pre, c.Env)
		case reservedEnv(env):
			p.add(file, at(i, "env"), "%s.env: %s is set by the gateway itself", pre, env)
		}
		if len(c.Agents) == 0 {
			p.add(file, at(i, "agents"), "%s.agents: name at least one agent", pre)
		}
		for _, a := range c.Agents {
			if err := gatehouse.ValidateAgentName(a); err != nil {
				p.add(file, at(i, "agents"), "%s.agents: %s", pre, gatehouse.ErrorMessage(err))
			}
		}
		if len(c.Systems) == 0 {
			p.add(file, at(i, "systems"), "%s.systems: name at least one system", pre)
		}
		for _, s := range c.Systems {
			if s == "" || strings.TrimSpace(s) != s {
				p.add(file, at(i, "systems"), "%s.systems: %q is not a system name", pre, s)
			}
		}
		for j := range i {
			g, h := grants[j], grants[i]
			if g.Env != h.Env || g.Secret == h.Secret {
				continue
			}
			if overlap(g.Agents, h.Agents) && overlap(g.Systems, h.Systems) {
				p.add(file, item(i), "%s: puts %s into %s, which credentials[%d] fills with %s for the same agent and system",
					pre, h.Secret, h.Env, j, g.Secret)
			}
		}
	}
	return p
}

func overlap(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
