package gatehouse

import (
	"regexp"
	"time"
)

// Role is what a principal may do.
type Role string

const (
	RoleAdmin    Role = "admin"    // manages agents and reviewers, reads the journal, reviews
	RoleAgent    Role = "agent"    // runs actions
	RoleReviewer Role = "reviewer" // reads the journal, approves or denies pending actions
)

// CanReview reports whether r may approve or deny actions. Agents never
// can.
func (r Role) CanReview() bool { return r == RoleAdmin || r == RoleReviewer }

// Principal is who a request comes from, established by its token and
// never by what the client claims.
type Principal struct {
	Name string
	Role Role
}

// Agent is a registered identity with a token — an agent, or a reviewer —
// as projected from agent.* events. Agents and reviewers share one
// namespace, so a name is never both. The token itself is never stored;
// only its SHA-256 (TokenHash).
type Agent struct {
	Name      string     `json:"name"`
	Role      Role       `json:"role"` // RoleAgent or RoleReviewer
	TokenHash string     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	// Workspaces are the directories given at agent add --workspace;
	// the configuration file may give it more.
	Workspaces []string `json:"workspaces,omitempty"`
	Seq        []int64  `json:"seq"`
}

// Active reports whether the agent's token works.
func (a *Agent) Active() bool { return a.RevokedAt == nil }

var agentName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$`)

// ValidateAgentName returns EINVALID unless name is 1–63 letters, digits,
// '.', '_' or '-', starting with a letter or digit.
func ValidateAgentName(name string) error {
	if name == "admin" {
		return Errorf(EINVALID, `"admin" is the admin token's name; choose another`)
	}
	if !agentName.MatchString(name) {
		return Errorf(EINVALID, "invalid agent name %q: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}
