// Command gatehouse is the Gatehouse execution gateway: daemon and CLI in
// one binary. All of it lives in internal/cli; this file only exits with
// the code that returns. Called gatehouse-sh (a symlink), it is
// gatehouse sh.
package main

import (
	"context"
	"os"

	"github.com/gatehouse-dev/gatehouse/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), cli.OSEnv(), cli.Args(os.Args)))
}
