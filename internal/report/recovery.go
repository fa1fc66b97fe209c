package report

import (
	"github.com/gatehouse-dev/gatehouse"
)

// The sections built from what recovery journals: the files actions
// changed in workspaces (their effects), the credentials the gateway put
// into their processes, and the plan to take them back.

// FileChanged is one recorded change of a file by an action.
type FileChanged struct {
	Action string `json:"action"`
	Agent  string `json:"agent"`
	gatehouse.FileChange
	// Restorable: the content before the change is kept (or there was
	// none), so a rollback can put it back.
	Restorable bool `json:"restorable"`
	// Ambiguous: another action ran in the same workspace at the same
	// time; the change may be its.
	Ambiguous bool `json:"ambiguous,omitempty"`
}

// filesChanged lists every recorded file change, in the order of the
// actions, then as each action's effects list them.
func filesChanged(in *Input) []FileChanged {
	out := []FileChanged{}
	for _, a := range in.Actions {
		if a.Effects == nil {
			continue
		}
		for _, c := range a.Effects.Changes {
			out = append(out, FileChanged{Action: a.ID, Agent: a.Agent, FileChange: c,
				Restorable: restorable(c.Before), Ambiguous: len(a.Effects.Ambiguous) > 0})
		}
	}
	return out
}

// restorable reports whether the state before a change can be put back:
// nothing was there, it is not a regular file, or its content is kept.
func restorable(before *gatehouse.FileState) bool {
	return before == nil || before.Type != gatehouse.FileRegular || before.Stored
}

// credentials sums up the credentials the actions received.
func credentials(in *Input) []gatehouse.CredentialUse {
	out := gatehouse.CredentialUses(in.Actions)
	if out == nil {
		out = []gatehouse.CredentialUse{}
	}
	return out
}

// rollbackPlan is what `gatehouse rollback` would do for the report's
// actions: the file restores, the undo commands to run by hand, and what
// cannot be taken back.
func rollbackPlan(in *Input) *gatehouse.RollbackPlan {
	return gatehouse.PlanRollback(in.Actions)
}
