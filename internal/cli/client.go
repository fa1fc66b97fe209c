package cli

import (
	"github.com/gatehouse-dev/gatehouse/internal/daemon"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
)

// DefaultURL is where clients look for the daemon when GATEHOUSE_URL is
// unset.
const DefaultURL = "http://" + daemon.DefaultListen

// client returns a client for the daemon named by GATEHOUSE_URL, with
// GATEHOUSE_TOKEN or, on the daemon's own machine, the admin token from
// the state directory.
func (e *Env) client() *httpapi.Client {
	url := e.Getenv("GATEHOUSE_URL")
	if url == "" {
		url = DefaultURL
	}
	token := e.Getenv("GATEHOUSE_TOKEN")
	if token == "" {
		token, _ = daemon.ReadAdminToken(daemon.StateDir(e.Getenv))
	}
	return httpapi.NewClient(url, token)
}
