package executor_test

import (
	"context"
	"os/exec"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/executor"
)

// BenchmarkRunTrue measures Prepare and Run of /bin/true, to be read next
// to BenchmarkExecTrueDirect: the difference is the executor's overhead
// (pipes, readers, waitid, the group kill).
func BenchmarkRunTrue(b *testing.B) {
	e := executor.New(executor.DefaultConfig())
	ctx := context.Background()
	spec := executor.Spec{Argv: []string{"/bin/true"}, Env: []string{}}
	for b.Loop() {
		p, err := e.Prepare(spec)
		if err != nil {
			b.Fatal(err)
		}
		if r := e.Run(ctx, p); r.ExitCode != 0 || r.Err != nil {
			b.Fatalf("exit %d, %v", r.ExitCode, r.Err)
		}
	}
}

func BenchmarkExecTrueDirect(b *testing.B) {
	for b.Loop() {
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}
