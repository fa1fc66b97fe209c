package gateway

import (
	"context"
	"slices"

	"github.com/gatehouse-dev/gatehouse"
)

// Workspaces records what actions change in the agents' workspaces, and
// puts it back: internal/snapshot's Manager (adapted by the daemon).
type Workspaces interface {
	// Check validates workspace directories given at agent add and returns
	// them cleaned; EINVALID names a bad one.
	Check(dirs []string) ([]string, error)
	// Assign gives an agent workspaces (journaled at agent add) besides
	// those of the configuration.
	Assign(agent string, dirs []string)
	// Begin records the state of the workspaces a may write in, just
	// before a starts; nil if it may write in none. An error means the
	// state could not be recorded: the action is refused.
	Begin(ctx context.Context, a *gatehouse.Action) (gatehouse.Recording, error)
	// Diff renders one change as a unified diff, or says why it cannot.
	Diff(ctx context.Context, c gatehouse.FileChange) (text, note string)
	// Restore checks a rollback's file restores against the disk and,
	// unless there are problems (and not force) or commit is nil, calls
	// commit and makes them. It returns the restores with their problems
	// and whether it made them.
	Restore(ctx context.Context, files []gatehouse.FileRestore, force bool, commit func([]gatehouse.FileRestore) error) ([]gatehouse.FileRestore, bool, error)
}

// Recording is one action's record, from Begin to End or Abort.
type Recording = gatehouse.Recording

// recordBefore begins recording what a changes. If the workspaces cannot
// be snapshotted it returns the end to journal instead: the action is
// refused, since what it changed could not be known.
func (g *Gateway) recordBefore(ctx context.Context, a *gatehouse.Action) (Recording, *gatehouse.ActionFinished) {
	if g.ws == nil {
		return nil, nil
	}
	r, err := g.ws.Begin(ctx, a)
	if err != nil {
		g.log.Error("workspace snapshot failed; action refused", "action", a.ID, "err", err)
		return nil, &gatehouse.ActionFinished{Status: gatehouse.StatusFailed,
			Error: "not started: " + gatehouse.ErrorMessage(err)}
	}
	return r, nil
}

// endRecording returns the effects of a recorded action (nil if none was
// recorded).
func endRecording(ctx context.Context, r Recording) *gatehouse.Effects {
	if r == nil {
		return nil
	}
	return r.End(ctx)
}

func abortRecording(r Recording) {
	if r != nil {
		r.Abort()
	}
}

// keepRecording holds an external action's recording until its harness
// reports the outcome.
func (g *Gateway) keepRecording(id string, r Recording) {
	if r == nil {
		return
	}
	g.ext.mu.Lock()
	g.ext.recs[id] = r
	g.ext.mu.Unlock()
}

func (g *Gateway) takeRecording(id string) Recording {
	g.ext.mu.Lock()
	defer g.ext.mu.Unlock()
	r := g.ext.recs[id]
	delete(g.ext.recs, id)
	return r
}

// AddAgentWorkspaces registers an agent with the workspaces dirs (agent
// add --workspace): checked, journaled with the agent, and recorded from
// then on. EINVALID for a bad directory, or when the gateway records no
// workspaces.
func (g *Gateway) AddAgentWorkspaces(ctx context.Context, p gatehouse.Principal, name string, dirs []string) (*gatehouse.Agent, string, error) {
	if err := requireAdmin(p); err != nil {
		return nil, "", err
	}
	if len(dirs) > 0 && g.ws == nil {
		return nil, "", gatehouse.Errorf(gatehouse.EINVALID, "this gateway records no workspaces")
	}
	var clean []string
	if len(dirs) > 0 {
		var err error
		if clean, err = g.ws.Check(dirs); err != nil {
			return nil, "", err
		}
	}
	a, tok, err := g.addIdentity(ctx, p, name, gatehouse.RoleAgent, clean)
	if err == nil && len(clean) > 0 {
		g.ws.Assign(a.Name, slices.Clone(a.Workspaces))
	}
	return a, tok, err
}

// loadWorkspaces gives the workspace recorder the workspaces journaled with
// the active agents.
func (g *Gateway) loadWorkspaces(ctx context.Context) error {
	if g.ws == nil {
		return nil
	}
	agents, err := g.store.Agents(ctx)
	if err != nil {
		return err
	}
	for _, a := range agents {
		if a.Active() && len(a.Workspaces) > 0 {
			g.ws.Assign(a.Name, a.Workspaces)
		}
	}
	return nil
}
