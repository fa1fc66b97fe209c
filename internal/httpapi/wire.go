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
	Name      string `json:"name"`
	Token     string `json:"token"`
	CreatedAt string `json:"created_at"`
}

type addAgentRequest struct {
	Name string `json:"name"`
}

// statusOf maps error codes to HTTP statuses: the one table.
func statusOf(code string) int {
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
