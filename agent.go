package gatehouse

import (
	"regexp"
	"time"
)

// Role is what a principal may do.
type Role string

const (
	RoleAdmin Role = "admin" // manages agents, reads the journal
	RoleAgent Role = "agent" // runs actions
)

// Principal is who a request comes from, established by its token and
// never by what the client claims.
type Principal struct {
	Name string
	Role Role
}

// Agent is a registered agent, as projected from agent.* events. The token
// itself is never stored; only its SHA-256 (TokenHash).
type Agent struct {
	Name      string     `json:"name"`
	TokenHash string     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	Seq       []int64    `json:"seq"`
}

// Active reports whether the agent's token works.
func (a *Agent) Active() bool { return a.RevokedAt == nil }

var agentName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$`)

// ValidateAgentName returns EINVALID unless name is 1–63 letters, digits,
// '.', '_' or '-', starting with a letter or digit.
func ValidateAgentName(name string) error {
	if !agentName.MatchString(name) {
		return Errorf(EINVALID, "invalid agent name %q: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}
