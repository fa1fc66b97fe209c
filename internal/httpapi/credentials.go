package httpapi

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
)

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
	var req client.SecretRequest
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
