package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/checkpoint"
	"github.com/gatehouse-dev/gatehouse/internal/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

var verifyCmd = &command{
	name:    "verify",
	summary: "check that the journal is intact",
	help: `Usage: gatehouse verify [--store FILE|URL] [--checkpoint FILE [--public-key FILE]] [-o text|json]

Walks the journal from its first event, checking each event's hash and its
link to the one before, then rebuilds every action and agent from the
events and compares them with what log, show and agent ls read.

Exits 0 and prints the number of events if all is intact. Exits 1 naming
the first event that was altered, deleted, inserted or reordered, and each
action or agent row that differs from the journal.

With --checkpoint (see gatehouse checkpoint), verify first checks the
checkpoint's signature — an altered or forged checkpoint is refused — then
also that the journal still holds the event it names with the hash it
recorded: a journal cut off before it ("truncated"), or rewritten with
fresh hashes up to it ("rewritten"), fails, which the chain alone cannot
show.

By default the daemon verifies its own journal (admin token). With --store,
verify opens the store itself, read-only: a SQLite file, while its daemon
is stopped or beside it; or a PostgreSQL database (postgres://…), beside
the replicas that use it, reading one consistent snapshot of it.

Flags:
  --store FILE|URL    verify this SQLite file or PostgreSQL database directly
                      instead of asking the daemon
  --checkpoint FILE   also check the journal against this signed checkpoint
  --public-key FILE   the key the checkpoint must be signed with (PEM public or
                      private key); default the public half of STATE/checkpoint.key
  -o FORMAT           text (default) or json
`,
	run: runVerify,
}

func runVerify(ctx context.Context, c *command, e *Env, args []string) int {
	fs := newFlags(c)
	path := fs.String("store", "", "")
	cpPath := fs.String("checkpoint", "", "")
	pubPath := fs.String("public-key", "", "")
	out := outputFlag(fs, "text", "json")
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(c, e, "unexpected argument %q", pos[0])
	}
	if code, ok := checkFormat(c, e, *out, "text", "json"); !ok {
		return code
	}
	if *pubPath != "" && *cpPath == "" {
		return usageError(c, e, "--public-key is for checking a --checkpoint")
	}
	var anchor *gatehouse.Anchor
	if *cpPath != "" {
		a, err := readCheckpoint(e, *cpPath, *pubPath)
		if err != nil {
			return fail(e, err)
		}
		anchor = &a
	}
	var rep *gatehouse.VerifyReport
	var err error
	switch {
	case *path != "":
		rep, err = verifyFile(ctx, *path, anchor)
	case anchor != nil:
		rep, err = e.client().VerifyAnchored(ctx, *anchor)
	default:
		rep, err = e.client().Verify(ctx)
	}
	if err != nil {
		return fail(e, err)
	}
	if *out == "json" {
		if code := writeJSON(e, rep); code != exitOK {
			return code
		}
	} else {
		writeReport(e, rep)
	}
	if !rep.OK() {
		return exitFailure
	}
	return exitOK
}

func verifyFile(ctx context.Context, path string, anchor *gatehouse.Anchor) (*gatehouse.VerifyReport, error) {
	check := func(s gatehouse.Store) (*gatehouse.VerifyReport, error) {
		if anchor != nil {
			return gatehouse.VerifyAnchored(ctx, s, *anchor)
		}
		return gatehouse.Verify(ctx, s)
	}
	if postgres.IsURL(path) {
		s, err := postgres.OpenReadOnly(ctx, path)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		var rep *gatehouse.VerifyReport
		err = s.Snapshot(ctx, func(snap gatehouse.Store) error {
			rep, err = check(snap)
			return err
		})
		return rep, err
	}
	s, err := sqlite.OpenReadOnly(ctx, path)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return check(s)
}

// readCheckpoint reads a checkpoint file and checks its signature with
// the public key at pubPath (or the state directory's key).
func readCheckpoint(e *Env, path, pubPath string) (gatehouse.Anchor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return gatehouse.Anchor{}, err
	}
	cp, err := checkpoint.Parse(b)
	if err != nil {
		return gatehouse.Anchor{}, err
	}
	pub, err := checkpointPublicKey(e, pubPath)
	if err != nil {
		return gatehouse.Anchor{}, err
	}
	if err := cp.Verify(pub); err != nil {
		return gatehouse.Anchor{}, gatehouse.Errorf(gatehouse.EINVALID, "%s: %s: refused", path, gatehouse.ErrorMessage(err))
	}
	return cp.Anchor(), nil
}

func writeReport(e *Env, r *gatehouse.VerifyReport) {
	if r.OK() {
		fmt.Fprintf(e.Stdout, "ok: %d events, %d actions, %d agents; the chain is whole and the projection matches\n", r.Events, r.Actions, r.Agents)
		if c := r.Checkpoint; c != nil {
			fmt.Fprintf(e.Stdout, "ok: checkpoint: %s\n", c.Detail)
		}
		return
	}
	if c := r.Checkpoint; c != nil && !c.OK {
		fmt.Fprintf(e.Stdout, "FAIL: checkpoint: %s: %s\n", c.Reason, c.Detail)
	}
	if r.Chain != nil {
		fmt.Fprintf(e.Stdout, "FAIL: %v\n", r.Chain)
	}
	for _, d := range r.Projection {
		fmt.Fprintf(e.Stdout, "FAIL: %s\n", d)
	}
	fmt.Fprintf(e.Stdout, "%d events read; the journal is damaged\n", r.Events)
}
