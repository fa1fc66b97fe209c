package snapshot_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/cas"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// BenchmarkRecord10k is the target of issue 7: snapshot and effect
// recording in a workspace of 10,000 files (100 directories of 100, each
// file a few hundred bytes to a few KiB) when an action changes one to
// three of them. Each iteration is one action: Begin (the snapshot
// before), the change (not timed), End (the snapshot after, the changed
// content hashed and stored with an fsync, the effects built). It reports
// the median and the 90th percentile of Begin+End, and the CPU time per
// action. inotify is the default (snapshots follow the kernel's events
// between full walks); walk makes every snapshot a full walk (NoWatch), as
// on a file system inotify does not serve, and as every 30 s anyway.
//
//	go test -run XXX -bench Record10k -benchtime 300x ./internal/snapshot
func BenchmarkRecord10k(b *testing.B) {
	b.Run("inotify", benchRecord)
	b.Run("walk", benchRecord)
}

func benchRecord(b *testing.B) {
	f := newFixture(b)
	rng := rand.New(rand.NewPCG(1, 2))
	var files []string
	for d := 0; d < 100; d++ {
		for i := 0; i < 100; i++ {
			rel := fmt.Sprintf("pkg%02d/file%03d.go", d, i)
			files = append(files, rel)
			f.write(rel, strings.Repeat(fmt.Sprintf("// line of %s\n", rel), 10+rng.IntN(200)), 0o644)
		}
	}
	f.open(func(o *snapshot.Options, w *snapshot.Workspace) {
		c, err := cas.Open(filepath.Join(f.state, "cas"), cas.Options{Budget: 1 << 30, MaxFileSize: 16 << 20})
		if err != nil {
			b.Fatal(err)
		}
		o.CAS = c
	})
	// The baseline (hashing and storing every file) is paid once, at
	// start; wait for it.
	r, err := f.m.Begin(ctx, action("warm", f.ws))
	must(b, err)
	r.End(ctx)
	// Let the files hashed just now stop being "racy" (hashed again while
	// within two seconds of their last change), as they would be in a
	// workspace not written to every second.
	time.Sleep(2100 * time.Millisecond)
	r, _ = f.m.Begin(ctx, action("warm2", f.ws))
	r.End(ctx)

	cpu0 := cpuTime()
	durs := make([]time.Duration, 0, b.N)
	var begins []time.Duration
	changed := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		r, err := f.m.Begin(ctx, action(fmt.Sprint("A", i), f.ws))
		if err != nil {
			b.Fatal(err)
		}
		begin := time.Since(start)
		b.StopTimer()
		n := 1 + i%3
		for j := 0; j < n; j++ {
			rel := files[rng.IntN(len(files))]
			if err := os.WriteFile(filepath.Join(f.ws, rel), []byte(fmt.Sprintf("// changed by action %d, %d\n", i, j)), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start = time.Now()
		fx := r.End(ctx)
		durs = append(durs, begin+time.Since(start))
		begins = append(begins, begin)
		changed += len(fx.Changes)
		if len(fx.Changes) == 0 || len(fx.Changes) > n+2 {
			b.Fatalf("action %d changed %d files, recorded %d", i, n, len(fx.Changes))
		}
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(durs[len(durs)/2]), "median-ms")
	b.ReportMetric(ms(durs[len(durs)*9/10]), "p90-ms")
	b.ReportMetric(float64(changed)/float64(b.N), "changes/action")
	// CPU time (user and system, all threads) per action, including the
	// untimed file changes: what the machine's load does not inflate.
	b.ReportMetric(ms(cpu/time.Duration(b.N)), "cpu-ms/action")
	sort.Slice(begins, func(i, j int) bool { return begins[i] < begins[j] })
	b.ReportMetric(ms(begins[len(begins)/2]), "begin-median-ms")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
