package cli

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/daemon"
)

var versionCmd = &command{
	name:    "version",
	summary: "print the version",
	help: `Usage: gatehouse version

Prints the version of this gatehouse binary.
`,
	run: func(ctx context.Context, c *command, e *Env, args []string) int {
		fs := newFlags(c)
		pos, code, ok := parse(c, e, fs, args)
		if !ok {
			return code
		}
		if len(pos) > 0 {
			return usageError(c, e, "unexpected argument %q", pos[0])
		}
		fmt.Fprintln(e.Stdout, "gatehouse", daemon.Version())
		return exitOK
	},
}
