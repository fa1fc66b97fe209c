package client

import (
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// The HTTP protocol's own types: the frames of the streaming endpoints,
// the error envelope, and the bodies that exist only on the wire. The
// requests and answers of the gateway itself (RunRequest, HaltRequest,
// Action, …) are the domain package's; the daemon's server decodes and
// encodes these same types, so the wire format is defined once.

// Frame types. The response of POST /v1/run, of POST
// /v1/actions/{id}/attach and of POST /v1/external is a stream of frames,
// one JSON object a line; the request body of a run with "stdin": true
// continues, after the request object, with stdin frames.
const (
	FramePending  = "pending"  // Action: the action waits for review (sent again on attach)
	FrameStarted  = "started"  // Action: the action as journaled before its process started
	FrameStdout   = "stdout"   // Data: a chunk of standard output
	FrameStderr   = "stderr"   // Data: a chunk of standard error
	FrameFinished = "finished" // Action: the action as journaled at its end; the last frame
	FrameError    = "error"    // Error: the gateway failed after the stream began; the last frame
	FrameStdin    = "stdin"    // Data: a chunk of the command's standard input (client to gateway)
)

// Frame is one line of a stream.
type Frame struct {
	Type   string            `json:"type"`
	Action *gatehouse.Action `json:"action,omitempty"`
	Data   []byte            `json:"data,omitempty"` // base64 in JSON
	Error  *ErrorBody        `json:"error,omitempty"`
}

// MaxStdinFrame bounds the data of one stdin frame (before base64). The
// client sends smaller ones; the gateway refuses a larger one.
const MaxStdinFrame = 256 << 10

// ErrorBody is the code and message of an error: in every error response
// (inside ErrorResponse) and in an error frame.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ErrorResponse is the JSON body of every error response.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// AgentToken is the answer to POST /v1/agents: the new identity and its
// token, which is shown only here.
type AgentToken struct {
	Name       string         `json:"name"`
	Role       gatehouse.Role `json:"role"`
	Token      string         `json:"token"`
	CreatedAt  string         `json:"created_at"`
	Workspaces []string       `json:"workspaces,omitempty"`
}

// AddAgentRequest is the body of POST /v1/agents.
type AddAgentRequest struct {
	Name       string         `json:"name"`
	Role       gatehouse.Role `json:"role,omitempty"`       // agent (default) or reviewer
	Workspaces []string       `json:"workspaces,omitempty"` // absolute directories, for agents
}

// SecretRequest is the body of PUT /v1/secrets/{name}. Value is base64
// in JSON, so that any bytes survive the trip.
type SecretRequest struct {
	Value []byte `json:"value"`
}

// ResumeRequest is the body of POST /v1/resume.
type ResumeRequest struct {
	Scope gatehouse.Scope `json:"scope"`
}

// Head is the answer to GET /v1/head: the journal's newest event, as a
// checkpoint signs it. Count is the number of events up to it (equal to
// Seq).
type Head struct {
	Seq   int64     `json:"seq"`
	Hash  string    `json:"hash"`
	Count int64     `json:"count"`
	Time  time.Time `json:"time"`
}
