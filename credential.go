package gatehouse

import (
	"slices"
	"strings"
	"time"
)

// Grant gives agents a secret for their actions on some systems: the
// configuration's credentials section. An action gets the secret, in the
// environment variable Env, when its agent is one of Agents and its
// System one of Systems — System is the agent's claim (run --system),
// which is why policy, not the grant, decides what may run with it.
type Grant struct {
	Secret  string   `json:"secret"`
	Env     string   `json:"env"`
	Agents  []string `json:"agents"`
	Systems []string `json:"systems"`
}

// Applies reports whether g gives its secret to an action of agent on
// system. An action that names no system gets no grant.
func (g *Grant) Applies(agent, system string) bool {
	return system != "" && slices.Contains(g.Agents, agent) && slices.Contains(g.Systems, system)
}

// CredentialRef is a credential an action is given: which secret, in
// which environment variable. Names only: never a value.
type CredentialRef struct {
	Secret string `json:"secret"`
	Env    string `json:"env"`
}

// GrantsFor returns the credentials grants give an action of agent on
// system, by environment variable. The configuration's validation makes
// sure no two grants put different secrets in one variable for the same
// agent and system.
func GrantsFor(grants []Grant, agent, system string) []CredentialRef {
	var out []CredentialRef
	for i := range grants {
		g := &grants[i]
		if !g.Applies(agent, system) {
			continue
		}
		ref := CredentialRef{Secret: g.Secret, Env: g.Env}
		if !slices.Contains(out, ref) {
			out = append(out, ref)
		}
	}
	slices.SortFunc(out, func(a, b CredentialRef) int { return strings.Compare(a.Env, b.Env) })
	return out
}

// Injected returns the credentials a's process received: those recorded
// on it (Credentials, fixed when it was requested) if it started, none if
// it never did. External actions never receive any.
func (a *Action) Injected() []CredentialRef {
	if a.StartedAt == nil || a.External {
		return nil
	}
	return a.Credentials
}

// CredentialUse is how one credential was used by one agent on one
// system over a set of actions: the "credentials in play" of a report.
type CredentialUse struct {
	Agent   string `json:"agent"`
	System  string `json:"system"`
	Secret  string `json:"secret"`
	Env     string `json:"env"`
	Actions int    `json:"actions"` // actions that received it
	// First and Last are the start times of the first and last of them;
	// LastAction is the last one's id.
	First      time.Time `json:"first"`
	Last       time.Time `json:"last"`
	LastAction string    `json:"last_action"`
}

// CredentialUses sums up which credentials the given actions received
// (see Injected), one entry per agent, system, secret and variable,
// ordered by agent, system, secret, env.
func CredentialUses(actions []*Action) []CredentialUse {
	type key struct{ agent, system, secret, env string }
	m := map[key]*CredentialUse{}
	for _, a := range actions {
		for _, c := range a.Injected() {
			k := key{a.Agent, a.System, c.Secret, c.Env}
			u := m[k]
			if u == nil {
				u = &CredentialUse{Agent: a.Agent, System: a.System, Secret: c.Secret, Env: c.Env, First: *a.StartedAt}
				m[k] = u
			}
			u.Actions++
			if a.StartedAt.Before(u.First) {
				u.First = *a.StartedAt
			}
			if !a.StartedAt.Before(u.Last) {
				u.Last, u.LastAction = *a.StartedAt, a.ID
			}
		}
	}
	out := make([]CredentialUse, 0, len(m))
	for _, u := range m {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b CredentialUse) int {
		return strings.Compare(a.Agent+"\x00"+a.System+"\x00"+a.Secret+"\x00"+a.Env,
			b.Agent+"\x00"+b.System+"\x00"+b.Secret+"\x00"+b.Env)
	})
	return out
}

// CredentialHolding is one credential an agent holds for a system by the
// configuration in force, and when an action of it last received it:
// what `gatehouse creds` lists.
type CredentialHolding struct {
	Agent  string `json:"agent"`
	System string `json:"system"`
	Secret string `json:"secret"`
	Env    string `json:"env"`
	// SecretSet reports whether the gateway holds the secret now; an
	// action granted one that is not set fails without running.
	SecretSet bool `json:"secret_set"`
	// LastUsed is the start of the newest action that received it, and
	// LastAction that action's id; nil and "" if none did.
	LastUsed   *time.Time `json:"last_used"`
	LastAction string     `json:"last_action,omitempty"`
}

// CredentialReach is what a scan found that an agent's own process can
// reach — for hooked agents, whose harness runs with its own environment
// and files: the names of credential-like environment variables that are
// set, and readable files that commonly hold credentials. Names and paths
// only: a scan never reads a value or a file's content.
type CredentialReach struct {
	Env   []string        `json:"env"`
	Files []ReachableFile `json:"files"`
}

// ReachableFile is a readable file that may hold credentials; Kind says
// for what ("aws", "kubernetes", "ssh", "docker", "netrc", "gcloud",
// "dotenv", …).
type ReachableFile struct {
	Path string `json:"path"`
	Kind string `json:"kind"`
}

// Limits on a CredentialReach a harness reports.
const (
	MaxReachEnv   = 512
	MaxReachFiles = 512
)
