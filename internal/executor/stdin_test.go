package executor_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/executor"
)

// zeros is an endless stdin.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// failing gives data, then fails.
type failing struct {
	data []byte
	done bool
}

func (f *failing) Read(p []byte) (int, error) {
	if f.done {
		return 0, errors.New("the client went away")
	}
	f.done = true
	return copy(p, f.data), nil
}

func TestStdin(t *testing.T) {
	t.Parallel()
	big := make([]byte, 3<<20+17) // many pipe buffers' worth, not a multiple of a chunk
	for i := range big {
		big[i] = byte(rand.IntN(256))
	}
	blocked, _ := io.Pipe() // a source that never sends anything, nor ends
	tests := []struct {
		name   string
		argv   []string
		stdin  io.Reader
		stdout string // exact, if not ""
		gave   int64  // StdinBytes, if >= 0
		exit   int
	}{
		{"no stdin is empty", sh("cat; echo end"), nil, "end\n", 0, 0},
		{"piped through", sh("tr a-z A-Z"), strings.NewReader("hello\nworld\n"), "HELLO\nWORLD\n", 12, 0},
		{"all of it, unchanged", []string{"sha256sum"}, bytes.NewReader(big), sha(big) + "  -\n", int64(len(big)), 0},
		{"counted", sh("wc -c"), bytes.NewReader(big), "3145745\n", int64(len(big)), 0},
		{"empty stdin reaches EOF", sh("cat; echo end"), strings.NewReader(""), "end\n", 0, 0},
		{"a failing source is end of file", sh("cat; echo; echo end"), &failing{data: []byte("partial")}, "partial\nend\n", 7, 0},
		// A command that never reads is not held up by what it is given,
		// endless or never coming.
		{"ignored endless stdin", sh("echo done; exit 3"), zeros{}, "done\n", -1, 3},
		{"ignored silent stdin", sh("echo done"), blocked, "done\n", 0, 0},
		// One that stops reading early ends as it would.
		{"closed early", sh("head -c 5; echo; exec 0<&-; echo closed"), zeros{}, "\x00\x00\x00\x00\x00\nclosed\n", -1, 0},
	}
	e := executor.New(testConfig())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out syncBuffer
			r := mustRun(t, e, executor.Spec{Argv: tt.argv, Stdin: tt.stdin, Stdout: &out})
			if r.Err != nil || r.ExitCode != tt.exit {
				t.Fatalf("exit %d, err %v; want exit %d", r.ExitCode, r.Err, tt.exit)
			}
			if got := string(out.Bytes()); got != tt.stdout {
				t.Errorf("stdout %q, want %q", clip(got), clip(tt.stdout))
			}
			if tt.gave >= 0 && r.StdinBytes != tt.gave {
				t.Errorf("StdinBytes %d, want %d", r.StdinBytes, tt.gave)
			}
		})
	}
}

// A command blocked reading a stdin that sends nothing is interrupted as
// any other, and Run does not wait for the Read.
func TestStdinInterrupt(t *testing.T) {
	t.Parallel()
	e := executor.New(testConfig())
	src, feed := io.Pipe()
	defer feed.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := &readySink{ready: cancel}
	p := mustPrepare(t, e, executor.Spec{Argv: sh("echo ready; exec cat"), Stdin: src, Stdout: sink})
	r := run(t, e, ctx, p)
	if !r.Interrupted || r.Signal != "SIGTERM" {
		t.Errorf("Interrupted %v, signal %q", r.Interrupted, r.Signal)
	}
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
