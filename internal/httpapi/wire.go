package httpapi

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse"
)

// ErrorBody is the JSON body of every error response, and of an error
// frame.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type errorResponse struct {
	Error ErrorBody `json:"error"`
}

// Frame types of the POST /v1/run stream.
const (
	FramePending  = "pending"  // Action: the action waits for review (sent again on attach)
	FrameStarted  = "started"  // Action: the action as journaled before its process started
	FrameStdout   = "stdout"   // Data: a chunk of standard output
	FrameStderr   = "stderr"   // Data: a chunk of standard error
	FrameFinished = "finished" // Action: the action as journaled at its end; the last frame
	FrameError    = "error"    // Error: the gateway failed after the stream began; the last frame
)

// Frame is one line of the POST /v1/run response.
type Frame struct {
	Type   string            `json:"type"`
	Action *gatehouse.Action `json:"action,omitempty"`
	Data   []byte            `json:"data,omitempty"` // base64 in JSON
	Error  *ErrorBody        `json:"error,omitempty"`
}

// AgentToken is the answer to POST /v1/agents: the token is shown once.
type AgentToken struct {
	Name       string         `json:"name"`
	Role       gatehouse.Role `json:"role"`
	Token      string         `json:"token"`
	CreatedAt  string         `json:"created_at"`
	Workspaces []string       `json:"workspaces,omitempty"`
}

type addAgentRequest struct {
	Name       string         `json:"name"`
	Role       gatehouse.Role `json:"role,omitempty"`       // agent (default) or reviewer
	Workspaces []string       `json:"workspaces,omitempty"` // absolute directories, for agents
}

// ReviewRequest is the body of POST /v1/actions/{id}/approve and /deny.
type ReviewRequest struct {
	Reason   string        `json:"reason,omitempty"`
	Remember *RememberWire `json:"remember,omitempty"`
}

// RememberWire asks an approval to add a learned rule.
type RememberWire struct {
	Match   string `json:"match"`           // exact, prefix or glob
	TTL     string `json:"ttl"`             // a Go duration, e.g. 24h
	Scope   string `json:"scope,omitempty"` // agent (default) or all
	Pattern string `json:"pattern,omitempty"`
}

// ReplayRequest is the body of POST /v1/policy/replay.
type ReplayRequest struct {
	Policy string `json:"policy"` // the candidate policy's YAML
	Since  string `json:"since"`  // a duration before now or an RFC 3339 time
}

// StatusOf maps error codes to HTTP statuses: the one table, shared by the
// API and the console.
func StatusOf(code string) int {
	switch code {
	case gatehouse.EINVALID:
		return http.StatusBadRequest
	case gatehouse.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case gatehouse.EFORBIDDEN, gatehouse.EREFUSED:
		return http.StatusForbidden
	case gatehouse.ENOTFOUND:
		return http.StatusNotFound
	case gatehouse.ECONFLICT:
		return http.StatusConflict
	case gatehouse.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case gatehouse.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// maxBody bounds every request body.
const maxBody = 1 << 20

// ResumeRequest is the body of POST /v1/resume.
type ResumeRequest struct {
	Scope gatehouse.Scope `json:"scope"`
}
