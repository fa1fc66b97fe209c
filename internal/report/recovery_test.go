package report

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

func TestRecoverySections(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	started := t0.Add(time.Second)
	kept := &gatehouse.FileState{Type: gatehouse.FileRegular, Mode: "0644", SHA256: "aa", Stored: true}
	lost := &gatehouse.FileState{Type: gatehouse.FileRegular, Mode: "0644", SHA256: "bb"}
	in := &Input{Actions: []*gatehouse.Action{
		{ID: "A1", Time: t0, Agent: "ci", Command: "edit", Status: gatehouse.StatusSucceeded, StartedAt: &started,
			Effects: &gatehouse.Effects{Workspaces: []string{"/w"}, Changes: []gatehouse.FileChange{
				{Workspace: "/w", Path: "new.txt", Op: gatehouse.ChangeOp("created"), After: kept},
				{Workspace: "/w", Path: "big.bin", Op: gatehouse.ChangeOp("modified"), Before: lost, After: kept},
			}}},
		{ID: "A2", Time: t0.Add(time.Minute), Agent: "ci", System: "github", Command: "gh pr list", Status: gatehouse.StatusSucceeded, StartedAt: &started,
			Credentials: []gatehouse.CredentialRef{{Secret: "GITHUB_TOKEN", Env: "GH_TOKEN"}}},
	}}
	r := Build(in)
	if len(r.Omitted) != 0 {
		t.Errorf("Omitted = %v, want none", r.Omitted)
	}
	if len(r.FilesChanged) != 2 || r.FilesChanged[0].Action != "A1" || !r.FilesChanged[0].Restorable || r.FilesChanged[1].Restorable {
		t.Errorf("FilesChanged = %+v: want new.txt restorable (nothing before), big.bin not (content not kept)", r.FilesChanged)
	}
	if len(r.Credentials) != 1 || r.Credentials[0].Secret != "GITHUB_TOKEN" || r.Credentials[0].LastAction != "A2" {
		t.Errorf("Credentials = %+v, want GITHUB_TOKEN last used by A2", r.Credentials)
	}
	if r.RollbackPlan == nil || len(r.RollbackPlan.Files) != 2 {
		t.Fatalf("RollbackPlan = %+v, want the two files restored", r.RollbackPlan)
	}
}
