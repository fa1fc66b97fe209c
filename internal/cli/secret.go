package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gatehouse-dev/gatehouse/internal/gateway"
)

var secretCmd = &command{
	name:    "secret",
	summary: "set, list and remove the secrets the gateway holds",
	help: `Usage: gatehouse secret set NAME
       gatehouse secret ls [-o table|json]
       gatehouse secret rm NAME

set reads the value from standard input, never from the command line
(where ps and shell history would show it). From a terminal it prompts on
stderr and does not echo; from a pipe or a file it reads to the end and
drops one trailing newline (echo adds one). The value must be 8 bytes to
64 KiB without a NUL byte: a shorter one could not be redacted reliably
from output. The daemon seals it with AES-256-GCM under the key in its key
file (secrets.key, or serve --secrets-key), kept apart from the database,
and journals that NAME was set and by whom, never the value. Setting NAME
again replaces its value.

ls lists the secrets: name, when it was first and last set, and the id of
the key that seals it (after a key rotation, set again those still sealed
with the old key). Never a value.

rm removes a secret; actions granted it fail without running until it is
set again.

Which actions receive a secret is the configuration's credentials section
(docs/CREDENTIALS.md); gatehouse creds shows it. NAME is 1-64 letters,
digits, '_', '.' or '-', starting with a letter. These commands need the
admin token.
`,
	run: runSecret,
}

func runSecret(ctx context.Context, c *command, e *Env, args []string) int {
	if len(args) == 0 {
		return usageError(c, e, "missing subcommand: set, ls or rm")
	}
	sub, args := args[0], args[1:]
	formats := []string{"text"}
	switch sub {
	case "set", "rm", "remove":
	case "ls", "list":
		formats = []string{"table", "json"}
	default:
		return usageError(c, e, "unknown subcommand %q: use set, ls or rm", sub)
	}
	fs := newFlags(c)
	out := outputFlag(fs, formats...)
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if code, ok := checkFormat(c, e, *out, formats...); !ok {
		return code
	}
	cl := e.client()
	switch sub {
	case "set":
		if len(pos) != 1 {
			return usageError(c, e, "set takes one NAME; the value comes from standard input")
		}
		value, err := readSecretValue(e, pos[0])
		if err != nil {
			return fail(e, err)
		}
		sec, err := cl.SetSecret(ctx, pos[0], value)
		clear(value)
		if err != nil {
			return fail(e, err)
		}
		fmt.Fprintf(e.Stdout, "secret %s set (sealed with key %s)\n", sec.Name, sec.KeyID)
	case "rm", "remove":
		if len(pos) != 1 {
			return usageError(c, e, "rm takes one NAME")
		}
		if err := cl.RemoveSecret(ctx, pos[0]); err != nil {
			return fail(e, err)
		}
		fmt.Fprintf(e.Stdout, "secret %s removed\n", pos[0])
	default:
		if len(pos) != 0 {
			return usageError(c, e, "ls takes no arguments")
		}
		list, err := cl.Secrets(ctx)
		if err != nil {
			return fail(e, err)
		}
		if *out == "json" {
			return writeJSON(e, list)
		}
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tCREATED (UTC)\tUPDATED (UTC)\tKEY")
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.CreatedAt.UTC().Format(time.DateTime), s.UpdatedAt.UTC().Format(time.DateTime), s.KeyID)
		}
		tw.Flush()
	}
	return exitOK
}

// readSecretValue reads a secret's value from stdin: a line without echo
// from a terminal, else everything to the end without one trailing
// newline.
func readSecretValue(e *Env, name string) ([]byte, error) {
	if f, ok := e.Stdin.(*os.File); ok {
		if t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			return readNoEcho(e, f, t, name)
		}
	}
	b, err := io.ReadAll(io.LimitReader(e.Stdin, gateway.MaxSecretSize+3))
	if err != nil {
		return nil, fmt.Errorf("reading the value from standard input: %w", err)
	}
	b = dropNewline(b)
	if len(b) > gateway.MaxSecretSize {
		return nil, fmt.Errorf("the value on standard input is over %d bytes", gateway.MaxSecretSize)
	}
	return b, nil
}

func dropNewline(b []byte) []byte {
	if bytes.HasSuffix(b, []byte("\r\n")) {
		return b[:len(b)-2]
	}
	return bytes.TrimSuffix(b, []byte("\n"))
}

// readNoEcho prompts on stderr and reads one line from the terminal f
// with echo off, restoring the terminal's state after.
func readNoEcho(e *Env, f *os.File, t *unix.Termios, name string) ([]byte, error) {
	fd := int(f.Fd())
	saved := *t
	t.Lflag &^= unix.ECHO
	t.Lflag |= unix.ICANON | unix.ECHONL
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return nil, fmt.Errorf("turning off the terminal's echo: %w", err)
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, &saved)
	fmt.Fprintf(e.Stderr, "value of %s (not echoed): ", name)
	line, err := bufio.NewReaderSize(f, gateway.MaxSecretSize+2).ReadBytes('\n')
	if err != nil && (err != io.EOF || len(line) == 0) {
		return nil, fmt.Errorf("reading the value from the terminal: %w", err)
	}
	return dropNewline(line), nil
}
