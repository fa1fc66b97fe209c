package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
)

// SecretRequest is the body of PUT /v1/secrets/{name}. Value is base64
// in JSON, so that any bytes survive the trip.
type SecretRequest struct {
	Value []byte `json:"value"`
}

// credentialRoutes registers the secrets and credentials endpoints.
func (s *Server) credentialRoutes() {
	s.mux.HandleFunc("/v1/secrets", s.authed(get(s, s.gw.Secrets), http.MethodGet))
	s.mux.HandleFunc("/v1/secrets/{name}", s.authed(s.secret, http.MethodPut, http.MethodDelete))
	s.mux.HandleFunc("/v1/credentials", s.authed(s.credentials, http.MethodGet))
	s.mux.HandleFunc("/v1/credentials/scan", s.authed(s.credentialScan, http.MethodGet))
}

func (s *Server) secret(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	name := r.PathValue("name")
	if r.Method == http.MethodDelete {
		if !s.noQuery(w, r) {
			return
		}
		if err := s.gw.RemoveSecret(r.Context(), p, name); err != nil {
			s.error(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var req SecretRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.error(w, r, err)
		return
	}
	sec, err := s.gw.SetSecret(r.Context(), p, name, req.Value)
	clear(req.Value)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sec)
}

// oneParam reads the only query parameter a GET takes ("" if absent),
// refusing any other.
func (s *Server) oneParam(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	q := r.URL.Query()
	for k, v := range q {
		if k != name || len(v) != 1 {
			s.error(w, r, gatehouse.Errorf(gatehouse.EINVALID, "unknown or repeated query parameter %q", k))
			return "", false
		}
	}
	return q.Get(name), true
}

func (s *Server) credentials(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	agent, ok := s.oneParam(w, r, "agent")
	if !ok {
		return
	}
	list, err := s.gw.Credentials(r.Context(), p, agent)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(list))
}

func (s *Server) credentialScan(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	session, ok := s.oneParam(w, r, "session")
	if !ok {
		return
	}
	scan, err := s.gw.CredentialScanOf(r.Context(), p, session)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, scan)
}

// SetSecret stores a secret's value in the daemon.
func (c *Client) SetSecret(ctx context.Context, name string, value []byte) (*gatehouse.SealedSecret, error) {
	var out gatehouse.SealedSecret
	if err := c.call(ctx, http.MethodPut, "/v1/secrets/"+url.PathEscape(name), SecretRequest{Value: value}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveSecret removes a secret.
func (c *Client) RemoveSecret(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, "/v1/secrets/"+url.PathEscape(name), nil, nil)
}

// Secrets lists the secrets the daemon holds: names and times.
func (c *Client) Secrets(ctx context.Context) ([]*gatehouse.SealedSecret, error) {
	var out []*gatehouse.SealedSecret
	return out, c.call(ctx, http.MethodGet, "/v1/secrets", nil, &out)
}

// Credentials lists the credentials agents hold (agent "" for all) and
// their last use.
func (c *Client) Credentials(ctx context.Context, agent string) ([]gatehouse.CredentialHolding, error) {
	path := "/v1/credentials"
	if agent != "" {
		path += "?agent=" + url.QueryEscape(agent)
	}
	var out []gatehouse.CredentialHolding
	return out, c.call(ctx, http.MethodGet, path, nil, &out)
}

// CredentialScan returns the credential scan a hooked session reported.
func (c *Client) CredentialScan(ctx context.Context, session string) (*gateway.CredentialScan, error) {
	var out gateway.CredentialScan
	if err := c.call(ctx, http.MethodGet, "/v1/credentials/scan?session="+url.QueryEscape(session), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
