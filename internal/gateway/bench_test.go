package gateway_test

import (
	"context"
	"io"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gateway"
)

// BenchmarkRunTrue is the gateway's own share of the overhead (no HTTP):
// gateway.Run of /bin/true — decide, journal write-ahead (synced), exec,
// journal the end (synced) — next to a direct fork/exec, alternately.
func BenchmarkRunTrue(b *testing.B) {
	f := newFixture(b, gateway.Config{})
	ctx := context.Background()
	req := gateway.RunRequest{Argv: []string{"/bin/true"}, Cwd: f.dir}
	sink := gateway.Sink{Stdout: io.Discard, Stderr: io.Discard}
	var direct, run []time.Duration
	for range b.N {
		t0 := time.Now()
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := f.gw.Run(ctx, f.agent, req, sink); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		direct = append(direct, t1.Sub(t0))
		run = append(run, t2.Sub(t1))
	}
	b.ReportMetric(msMedian(direct), "direct-median-ms")
	b.ReportMetric(msMedian(run), "gateway-median-ms")
	b.ReportMetric(0, "ns/op")
}

func msMedian(d []time.Duration) float64 {
	slices.Sort(d)
	return float64(d[len(d)/2]) / float64(time.Millisecond)
}
