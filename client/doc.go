// Package client is the Go client of the Gatehouse daemon's HTTP API, for
// agents written in Go (and for the gatehouse CLI, which uses it for
// every call it makes).
//
// An agent runs its commands through the gateway instead of exec'ing
// them: each is decided by policy, perhaps held for a reviewer, run by
// the daemon in its own process group, and journaled.
//
//	c, err := client.FromEnv() // GATEHOUSE_URL, GATEHOUSE_TOKEN
//	if err != nil {
//		return err
//	}
//	a, err := c.Run(ctx, gatehouse.RunRequest{Shell: true, Command: "go test ./...", Cwd: dir},
//		client.RunOptions{Stdout: os.Stdout, Stderr: os.Stderr})
//	switch {
//	case gatehouse.ErrorCode(err) == gatehouse.EREFUSED:
//		// policy, a reviewer or a halt said no: it never ran
//	case err != nil:
//		// the gateway failed (unreachable, bad token, bad request)
//	default:
//		// it ran: a.ExitCode, a.Signal, a.Status
//	}
//
// A harness that carries out its own tool calls (writes a file, fetches a
// URL) asks first with Request, does the work only if the answer is
// "running", and reports the outcome with Complete.
//
// # Errors
//
// Every error a method returns is a *gatehouse.Error (use errors.As, or
// gatehouse.ErrorCode for its code) with one of the stable codes of the
// domain package: the daemon's own (EINVALID, EUNAUTHORIZED, EFORBIDDEN,
// ENOTFOUND, ECONFLICT, ETOOLARGE, EUNAVAILABLE), EREFUSED for an action the
// gateway refused, and EUNAVAILABLE when the daemon cannot be reached, its
// answer is malformed, a stream broke, or ctx was done (then
// errors.Is(err, context.Canceled) or context.DeadlineExceeded holds too).
// A command that ran and failed is not an error: its action says how it
// ended.
//
// The wire format — the JSON bodies, the NDJSON frames of a run and the
// stdin frames of a run with input — is documented in docs/API.md; the
// types in this package (Frame, ErrorResponse, AgentToken, …) are that
// format, shared with the daemon's server.
package client
