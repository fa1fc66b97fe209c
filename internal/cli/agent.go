package cli

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

var agentCmd = &command{
	name:    "agent",
	summary: "register, list and revoke agents",
	help: `Usage: gatehouse agent add NAME [--workspace DIR]... [-o text|json]
       gatehouse agent ls [-o table|json]
       gatehouse agent rm NAME

add registers an agent and prints its token once: only a hash of it is
stored, so keep it. Give the token to the agent as GATEHOUSE_TOKEN.
-o json prints {"name":…,"token":…,"created_at":…,"workspaces":[…]}.

--workspace DIR (repeatable) gives the agent a workspace: a directory on
the daemon's machine whose changes the gateway records before and after
each of the agent's actions that may write in it, so that gatehouse diff
shows them and gatehouse rollback puts them back (docs/ROLLBACK.md). A
relative DIR is taken from the current directory. It must exist and not
be inside or around another workspace. The workspaces are journaled with
the agent; the configuration file can give agents workspaces too.

ls lists the agents, revoked ones included.

rm revokes an agent: its token stops working at once. The agent's actions
stay in the journal.

NAME is 1-63 letters, digits, '.', '_' or '-'. These commands need the
admin token (GATEHOUSE_TOKEN, or admin.token in the state directory).
`,
	run: runAgent,
}

func runAgent(ctx context.Context, c *command, e *Env, args []string) int {
	return runIdentity(ctx, c, e, args, gatehouse.RoleAgent)
}

// listFlag collects a repeatable flag's values.
type listFlag []string

func (f *listFlag) String() string     { return strings.Join(*f, ",") }
func (f *listFlag) Set(s string) error { *f = append(*f, s); return nil }

func writeJSON(e *Env, v any) int {
	enc := json.NewEncoder(e.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fail(e, err)
	}
	return exitOK
}
