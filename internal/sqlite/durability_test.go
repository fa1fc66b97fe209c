package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

// TestDurableAfterKill appends from a child process, kills it with
// SIGKILL in mid-stream, and checks that every event the child was told
// is appended is in the journal, and that the journal is whole.
func TestDurableAfterKill(t *testing.T) {
	if path := os.Getenv("GATEHOUSE_SQLITE_TEST_CHILD"); path != "" {
		appendForever(path)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "g.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestDurableAfterKill$")
	cmd.Env = append(os.Environ(), "GATEHOUSE_SQLITE_TEST_CHILD="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked int64
	sc := bufio.NewScanner(stdout)
	for n := 0; n < 300 && sc.Scan(); n++ {
		seq, err := strconv.ParseInt(strings.TrimPrefix(sc.Text(), "seq "), 10, 64)
		if err != nil {
			t.Fatalf("child said %q", sc.Text())
		}
		acked = max(acked, seq)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if acked == 0 {
		t.Fatal("the child appended nothing")
	}

	s := MustOpenPath(t, path)
	n := checkChain(t, s)
	if int64(n) < acked {
		t.Errorf("journal has %d events; the child was told %d were durable", n, acked)
	}
	if diff := verify(t, s); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}
	t.Logf("acknowledged %d events, found %d", acked, n)
}

// appendForever is the child of TestDurableAfterKill: it records actions
// from several goroutines and prints the last seq of each Append that
// returned.
func appendForever(path string) {
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("01JKILL%02d%09d", c, i)
				a := actionSpec{ID: id, Agent: "a", Command: "true", At: time.Now(), Status: gatehouse.StatusSucceeded}
				first, last := a.Events(nopTB{})
				for _, es := range [][]gatehouse.Event{first, last} {
					got, err := s.Append(context.Background(), es...)
					if err != nil {
						fmt.Fprintln(os.Stderr, err)
						os.Exit(1)
					}
					mu.Lock()
					fmt.Printf("seq %d\n", got[len(got)-1].Seq)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
}

// nopTB lets the test helpers run outside a test, in the child.
type nopTB struct{ testing.TB }

func (nopTB) Helper()                           {}
func (nopTB) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (nopTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
