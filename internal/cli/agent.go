package cli

import (
	"context"
	"encoding/json"

	"github.com/gatehouse-dev/gatehouse"
)

var agentCmd = &command{
	name:    "agent",
	summary: "register, list and revoke agents",
	help: `Usage: gatehouse agent add NAME [-o text|json]
       gatehouse agent ls [-o table|json]
       gatehouse agent rm NAME

add registers an agent and prints its token once: only a hash of it is
stored, so keep it. Give the token to the agent as GATEHOUSE_TOKEN.
-o json prints {"name":…,"token":…,"created_at":…}.

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

func writeJSON(e *Env, v any) int {
	enc := json.NewEncoder(e.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fail(e, err)
	}
	return exitOK
}
