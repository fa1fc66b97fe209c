package cli

import (
	"github.com/gatehouse-dev/gatehouse/client"
	"github.com/gatehouse-dev/gatehouse/internal/daemon"
)

// client returns a client for the daemon named by GATEHOUSE_URL, with
// GATEHOUSE_TOKEN or, on the daemon's own machine, the admin token from
// the state directory.
func (e *Env) client() *client.Client {
	return client.New(e.endpoint())
}

// endpoint is the daemon's URL and the token to use, as client takes
// them, for what speaks to the daemon other than through the client (the
// MCP relay).
func (e *Env) endpoint() (url, token string) {
	url = e.Getenv("GATEHOUSE_URL")
	if url == "" {
		url = client.DefaultURL
	}
	token = e.Getenv("GATEHOUSE_TOKEN")
	if token == "" {
		token, _ = daemon.ReadAdminToken(daemon.StateDir(e.Getenv))
	}
	return url, token
}
