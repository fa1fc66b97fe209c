package executor

import (
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// signalName returns the name of sig ("SIGKILL"); a signal without a name
// (real-time signals) is "SIG" followed by its number, which SignalNumber
// also understands.
func signalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return "SIG" + strconv.Itoa(int(sig))
}

// SignalNumber returns the number of the signal named name, as Result.Signal
// names it ("SIGKILL" is 9); the "SIG" prefix is optional and case does
// not matter. It returns 0 if name is not a signal. A shell reports a
// process ended by signal N with the exit status 128+N.
func SignalNumber(name string) int {
	name = strings.ToUpper(name)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if n := unix.SignalNum(name); n != 0 {
		return int(n)
	}
	if n, err := strconv.Atoi(name[3:]); err == nil && n > 0 && n < 65 {
		return n
	}
	return 0
}
