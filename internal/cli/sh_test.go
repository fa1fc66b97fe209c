package cli

import (
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSh(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		command string
		options []string
		rest    []string
		err     string // substring of the error; "" for none
	}{
		{"plain", []string{"-c", "echo hi"}, "echo hi", nil, nil, ""},
		{"name and args", []string{"-c", `echo "$0" "$@"`, "me", "a", "b c"}, `echo "$0" "$@"`, nil, []string{"me", "a", "b c"}, ""},
		{"operands look like options", []string{"-c", "echo $1", "sh", "-e", "--", "-x"}, "echo $1", nil, []string{"sh", "-e", "--", "-x"}, ""},
		{"Codex's -lc", []string{"-lc", "ls"}, "ls", nil, nil, ""},
		{"-l -c", []string{"-l", "-c", "ls"}, "ls", nil, nil, ""},
		{"bash long options", []string{"--login", "--noprofile", "--norc", "-c", "ls"}, "ls", nil, nil, ""},
		{"interactive ignored", []string{"-i", "-c", "ls"}, "ls", nil, nil, ""},
		{"set options passed on", []string{"-e", "-x", "-c", "ls"}, "ls", []string{"-e", "-x"}, nil, ""},
		{"combined", []string{"-ec", "ls"}, "ls", []string{"-e"}, nil, ""},
		{"login and set options", []string{"-lec", "ls"}, "ls", []string{"-e"}, nil, ""},
		{"options after -c", []string{"-c", "-e", "ls"}, "ls", []string{"-e"}, nil, ""},
		{"-o NAME", []string{"-o", "pipefail", "-c", "ls"}, "ls", []string{"-o", "pipefail"}, nil, ""},
		{"-euo NAME", []string{"-euo", "pipefail", "-c", "ls"}, "ls", []string{"-eu", "-o", "pipefail"}, nil, ""},
		{"unset options", []string{"+x", "+o", "noglob", "-c", "ls"}, "ls", []string{"+x", "+o", "noglob"}, nil, ""},
		{"-- ends options", []string{"-c", "--", "-not-an-option"}, "-not-an-option", nil, nil, ""},
		{"- ends options", []string{"-c", "-", "ls"}, "ls", nil, nil, ""},
		{"empty command string", []string{"-c", ""}, "", nil, nil, ""},

		{"nothing", nil, "", nil, nil, "only the -c form"},
		{"a script", []string{"script.sh"}, "", nil, nil, "only the -c form"},
		{"-c without a command", []string{"-c"}, "", nil, nil, "-c requires an argument"},
		{"-c and only options", []string{"-e", "-c", "-x"}, "", nil, nil, "-c requires an argument"},
		{"stdin", []string{"-s"}, "", nil, nil, "-s"},
		{"+c", []string{"+c", "ls"}, "", nil, nil, "unsupported option +c"},
		{"bash -O", []string{"-O", "extglob", "-c", "ls"}, "", nil, nil, "unsupported option -O"},
		{"restricted", []string{"-r", "-c", "ls"}, "", nil, nil, "unsupported option -r"},
		{"o not last", []string{"-oe", "x", "-c", "ls"}, "", nil, nil, "unsupported option -o"},
		{"-o after the command is an operand", []string{"-c", "ls", "-o"}, "ls", nil, []string{"-o"}, ""},
		{"-o at the end", []string{"-c", "-o"}, "", nil, nil, "-o requires an option name"},
		{"unknown long option", []string{"--posix", "-c", "ls"}, "", nil, nil, "unsupported option --posix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := parseSh(tt.args)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want one saying %q", err, tt.err)
			case err != nil:
				return
			}
			if inv.command != tt.command || !slices.Equal(inv.options, tt.options) || !slices.Equal(inv.args, tt.rest) {
				t.Errorf("got command %q options %q args %q, want %q %q %q", inv.command, inv.options, inv.args, tt.command, tt.options, tt.rest)
			}
		})
	}
}

func TestArgs(t *testing.T) {
	tests := []struct {
		argv, want []string
	}{
		{[]string{"gatehouse", "run", "--", "ls"}, []string{"run", "--", "ls"}},
		{[]string{"/usr/local/bin/gatehouse-sh", "-c", "ls"}, []string{"sh", "-c", "ls"}},
		{[]string{"gatehouse-sh"}, []string{"sh"}},
		{[]string{"/opt/gatehouse-shell", "-c", "ls"}, []string{"-c", "ls"}},
		{nil, nil},
	}
	for _, tt := range tests {
		if got := Args(tt.argv); !slices.Equal(got, tt.want) {
			t.Errorf("Args(%q) = %q, want %q", tt.argv, got, tt.want)
		}
	}
}

func TestStdinKind(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	file, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	// A pseudo-terminal: what a harness that gives its commands a TTY
	// (pexpect, node-pty) hands over.
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()

	tests := []struct {
		name string
		in   io.Reader
		want int
	}{
		{"none", nil, stdinNull},
		{"/dev/null", null, stdinNull},
		{"a pipe", pr, stdinOther},
		{"a file", file, stdinOther},
		{"a reader", strings.NewReader("x"), stdinOther},
		{"a terminal", tty, stdinTerminal},
	}
	for _, tt := range tests {
		if got := stdinKind(tt.in); got != tt.want {
			t.Errorf("%s: stdinKind = %d, want %d", tt.name, got, tt.want)
		}
	}
}
