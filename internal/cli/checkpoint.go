package cli

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/checkpoint"
	"github.com/gatehouse-dev/gatehouse/internal/daemon"
	"github.com/gatehouse-dev/gatehouse/internal/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

var checkpointCmd = &command{
	name:    "checkpoint",
	summary: "sign the journal's head, to keep elsewhere",
	help: `Usage: gatehouse checkpoint [--key FILE] [--store FILE|URL] [-o FILE]
       gatehouse checkpoint --public-key [--key FILE]

Writes a checkpoint: the journal's head — the newest event's sequence
number and hash, the number of events, its time — signed with an ed25519
key. Keep checkpoints somewhere the journal's host cannot write (another
machine, a ticket, a log store): later,
  gatehouse verify --checkpoint FILE --public-key PUB
shows whether the journal still holds that event with that hash. The hash
chain alone cannot show that the newest events were cut off, or that the
whole store was rewritten with fresh hashes; a checkpoint can, for every
event up to it. Take them regularly (from cron, say).

The key is STATE/checkpoint.key unless --key names another; the default one
is generated on first use (mode 0600). Keep a copy of its public key
elsewhere too (--public-key prints it): a checkpoint is checked against the
public key you give verify, never one it names itself.

By default the daemon is asked for its head (admin token); with --store,
the store is read directly, read-only: a SQLite file or a PostgreSQL
database (postgres://…).

Flags:
  --key FILE     the private key (PEM, PKCS #8); default STATE/checkpoint.key,
                 created if missing
  --store FILE|URL
                 read the head from this SQLite file or PostgreSQL database
                 instead of the daemon
  -o FILE        write the checkpoint to FILE instead of standard output
  --public-key   print the key's public key (PEM) and exit
`,
	run: runCheckpoint,
}

func runCheckpoint(ctx context.Context, c *command, e *Env, args []string) int {
	fs := newFlags(c)
	keyPath := fs.String("key", "", "")
	store := fs.String("store", "", "")
	outPath := fs.String("o", "", "")
	printPub := fs.Bool("public-key", false, "")
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(c, e, "unexpected argument %q", pos[0])
	}
	key, err := checkpointKey(e, *keyPath)
	if err != nil {
		return fail(e, err)
	}
	if *printPub {
		e.Stdout.Write(checkpoint.PublicPEM(key.Public().(ed25519.PublicKey)))
		return exitOK
	}
	var head gatehouse.Event
	if *store != "" {
		var s gatehouse.Store
		if postgres.IsURL(*store) {
			s, err = postgres.OpenReadOnly(ctx, *store)
		} else {
			s, err = sqlite.OpenReadOnly(ctx, *store)
		}
		if err != nil {
			return fail(e, err)
		}
		head, err = s.Head(ctx)
		s.Close()
		if err != nil {
			return fail(e, err)
		}
	} else {
		h, err := e.client().Head(ctx)
		if err != nil {
			return fail(e, err)
		}
		head = gatehouse.Event{Seq: h.Seq, Hash: h.Hash, Time: h.Time}
	}
	cp := checkpoint.New(head, time.Now())
	if err := cp.Sign(key); err != nil {
		return fail(e, err)
	}
	if *outPath == "" {
		e.Stdout.Write(cp.Marshal())
		return exitOK
	}
	if err := os.WriteFile(*outPath, cp.Marshal(), 0o644); err != nil {
		return fail(e, err)
	}
	fmt.Fprintf(e.Stdout, "checkpoint of event %d (%s) signed with key %s, written to %s\n", cp.Seq, cp.Hash[:16], cp.KeyID, *outPath)
	return exitOK
}

// checkpointKey loads the signing key: the one named, which must exist,
// or the state directory's, created on first use.
func checkpointKey(e *Env, path string) (ed25519.PrivateKey, error) {
	if path != "" {
		return checkpoint.LoadPrivateKey(path)
	}
	path = filepath.Join(daemon.StateDir(e.Getenv), checkpoint.KeyFile)
	key, created, err := checkpoint.LoadOrCreateKey(path)
	if err == nil && created {
		fmt.Fprintf(e.Stderr, "gatehouse: generated a checkpoint key in %s; keep a copy of its public key elsewhere (gatehouse checkpoint --public-key)\n", path)
	}
	return key, err
}

// checkpointPublicKey is the public key verify checks a checkpoint with:
// the file named, else the state directory's key if there is one.
func checkpointPublicKey(e *Env, path string) (ed25519.PublicKey, error) {
	if path != "" {
		return checkpoint.LoadPublicKey(path)
	}
	path = filepath.Join(daemon.StateDir(e.Getenv), checkpoint.KeyFile)
	pub, err := checkpoint.LoadPublicKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "no public key to check the checkpoint with: give --public-key FILE")
	}
	return pub, err
}
