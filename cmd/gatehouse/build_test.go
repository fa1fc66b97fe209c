package main

import (
	"errors"
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

// TestShellName builds the binary and runs it through a symlink named
// gatehouse-sh, as SHELL=/path/gatehouse-sh makes a harness do: it must be
// gatehouse sh. No daemon listens, so it refuses as gatehouse sh does — 126
// and one line — which gatehouse itself (a usage error, 2) would not.
func TestShellName(t *testing.T) {
	dir := t.TempDir()
	bin := dir + "/gatehouse"
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.Symlink(bin, dir+"/gatehouse-sh"); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dir+"/gatehouse-sh", "-c", "touch "+dir+"/ran")
	cmd.Env = []string{"GATEHOUSE_URL=http://127.0.0.1:1", "GATEHOUSE_TOKEN=gat_x", "PATH=/usr/bin:/bin"}
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 126 {
		t.Fatalf("gatehouse-sh -c: %v, want exit 126\n%s", err, out)
	}
	if want := "gatehouse: cannot reach the gateway at http://127.0.0.1:1 (EUNAVAILABLE)\n"; string(out) != want {
		t.Errorf("output %q, want %q", out, want)
	}
	if _, err := os.Stat(dir + "/ran"); err == nil {
		t.Errorf("the command ran without the gateway")
	}
}
