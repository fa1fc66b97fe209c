package cli

import (
	"context"
	"fmt"
)

var helpCmd = &command{
	name:    "help",
	summary: "show help for a command",
	help: `Usage: gatehouse help [COMMAND]

Without COMMAND, lists the commands. With one, prints its usage and flags.
`,
}

func init() {
	// helpCmd.run refers to commands, which refers to helpCmd: tie the knot
	// here.
	helpCmd.run = func(ctx context.Context, c *command, e *Env, args []string) int {
		switch len(args) {
		case 0:
			fmt.Fprint(e.Stdout, mainHelp())
			return exitOK
		case 1:
			c = lookup(args[0])
			if c == nil {
				fmt.Fprintf(e.Stderr, "gatehouse help: unknown command %q (see 'gatehouse help')\n", args[0])
				return exitUsage
			}
			fmt.Fprint(e.Stdout, c.help)
			return exitOK
		}
		return usageError(helpCmd, e, "too many arguments")
	}
}
