package cli

import (
	"github.com/gatehouse-dev/gatehouse/client"
	"github.com/gatehouse-dev/gatehouse/internal/daemon"
)

// client returns a client for the daemon named by GATEHOUSE_URL, with
// GATEHOUSE_TOKEN or, on the daemon's own machine, the admin token from
// the state directory.
func (e *Env) client() *client.Client {
	url := e.Getenv("GATEHOUSE_URL")
	if url == "" {
		url = client.DefaultURL
	}
	token := e.Getenv("GATEHOUSE_TOKEN")
	if token == "" {
		token, _ = daemon.ReadAdminToken(daemon.StateDir(e.Getenv))
	}
	return client.New(url, token)
}
