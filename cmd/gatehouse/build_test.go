package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestPureGo proves a property of the build instead of hoping for it: no
// package outside the standard library that the binary links has cgo
// files, so it builds with CGO_ENABLED=0 and needs no C toolchain or libc.
func TestPureGo(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{len .CgoFiles}}", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1") // show cgo files where a package has them
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("unexpected go list line %q", line)
		}
		if f[1] == "false" && f[2] != "0" {
			t.Errorf("%s has cgo files", f[0])
		}
		if strings.Contains(f[0], "mattn/go-sqlite3") {
			t.Errorf("the binary depends on %s", f[0])
		}
	}
}
