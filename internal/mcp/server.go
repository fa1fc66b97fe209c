// Package mcp is Gatehouse's MCP adapter: an MCP server (the official Go
// SDK) whose tools — run_command, read_file, write_file, list_directory,
// http_request — are each an action through the gateway: decided by
// policy, reviewed, halted and journaled. run_command is executed by the
// daemon like gatehouse run; the other tools are external actions that
// this process carries out only once the gateway allows them, then
// reports. Refusals come back as tool errors (isError results with the
// reason), never as protocol errors.
package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
)

// Options are what the server says about its agent's calls.
type Options struct {
	Session string // recorded as the actions' session
	Model   string
	Cwd     string // default working directory; relative paths resolve against it
	Version string
}

// maxRead bounds what read_file and http_request return.
const maxRead = 1 << 20

// NewServer returns an MCP server whose tools act through cl (an agent's
// client of the daemon).
func NewServer(cl *client.Client, opts Options) *sdk.Server {
	if opts.Cwd == "" {
		opts.Cwd, _ = os.Getwd()
	}
	t := &tools{cl: cl, opts: opts}
	s := sdk.NewServer(&sdk.Implementation{Name: "gatehouse", Version: opts.Version}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "run_command", Description: "Run a shell command through the Gatehouse gateway (decided by policy, journaled). Returns its output and exit code."}, t.runCommand)
	sdk.AddTool(s, &sdk.Tool{Name: "read_file", Description: "Read a text file (at most 1 MiB), if the gateway allows it."}, t.readFile)
	sdk.AddTool(s, &sdk.Tool{Name: "write_file", Description: "Write a file (creating or replacing it), if the gateway allows it."}, t.writeFile)
	sdk.AddTool(s, &sdk.Tool{Name: "list_directory", Description: "List a directory's entries, if the gateway allows it."}, t.listDirectory)
	sdk.AddTool(s, &sdk.Tool{Name: "http_request", Description: "Make an HTTP request, if the gateway allows it. Returns the status and up to 1 MiB of the body."}, t.httpRequest)
	return s
}

type tools struct {
	cl   *client.Client
	opts Options
}

// RunCommandIn is run_command's input.
type RunCommandIn struct {
	Command        string `json:"command" jsonschema:"the shell command, run with /bin/sh -c"`
	Cwd            string `json:"cwd,omitempty" jsonschema:"working directory (default: the server's)"`
	Intent         string `json:"intent,omitempty" jsonschema:"why you run it, for the journal and reviewers"`
	TimeoutSeconds int    `json:"timeout_seconds,omitempty" jsonschema:"kill it after this many seconds"`
	System         string `json:"system,omitempty" jsonschema:"the system it acts on (e.g. github): the credentials the gateway grants you for it are put into its environment, never shown to you"`
}

// RunCommandOut is run_command's result.
type RunCommandOut struct {
	Action   string `json:"action"`
	ExitCode int    `json:"exit_code"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
}

func (t *tools) runCommand(ctx context.Context, _ *sdk.CallToolRequest, in RunCommandIn) (*sdk.CallToolResult, RunCommandOut, error) {
	var stdout, stderr bytes.Buffer
	req := gatehouse.RunRequest{Shell: true, Command: in.Command, Cwd: t.abs(in.Cwd), Intent: in.Intent, System: in.System,
		Session: t.opts.Session, Model: t.opts.Model, TimeoutMS: int64(in.TimeoutSeconds) * 1000}
	a, err := t.cl.Run(ctx, req, client.RunOptions{Stdout: &capped{w: &stdout}, Stderr: &capped{w: &stderr}})
	if err != nil {
		return nil, RunCommandOut{}, refusal(a, err)
	}
	out := RunCommandOut{Action: a.ID, ExitCode: -1, Stdout: stdout.String(), Stderr: stderr.String()}
	if a.ExitCode != nil {
		out.ExitCode = *a.ExitCode
	}
	if a.Error != "" {
		out.Stderr += "\ngatehouse: " + a.Error
	}
	return nil, out, nil
}

// PathIn is the input of the file tools.
type PathIn struct {
	Path string `json:"path" jsonschema:"the file or directory"`
}

// WriteFileIn is write_file's input.
type WriteFileIn struct {
	Path    string `json:"path" jsonschema:"the file to write"`
	Content string `json:"content" jsonschema:"its new content"`
}

// HTTPRequestIn is http_request's input.
type HTTPRequestIn struct {
	Method  string            `json:"method,omitempty" jsonschema:"GET (default), POST, PUT, PATCH, DELETE, HEAD"`
	URL     string            `json:"url" jsonschema:"the URL"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
}

// HTTPRequestOut is http_request's result.
type HTTPRequestOut struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

func (t *tools) readFile(ctx context.Context, _ *sdk.CallToolRequest, in PathIn) (*sdk.CallToolResult, any, error) {
	p := t.abs(in.Path)
	var text string
	err := t.external(ctx, gatehouse.KindFileRead, "read_file", "read_file "+p, in, func(*gatehouse.Action) (string, error) {
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxRead))
		text = string(b)
		return fmt.Sprintf("%d bytes", len(b)), err
	})
	if err != nil {
		return nil, nil, err
	}
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: text}}}, nil, nil
}

func (t *tools) writeFile(ctx context.Context, _ *sdk.CallToolRequest, in WriteFileIn) (*sdk.CallToolResult, any, error) {
	p := t.abs(in.Path)
	err := t.external(ctx, gatehouse.KindFileWrite, "write_file", "write_file "+p, map[string]any{"path": p, "bytes": len(in.Content)}, func(*gatehouse.Action) (string, error) {
		return fmt.Sprintf("%d bytes written", len(in.Content)), os.WriteFile(p, []byte(in.Content), 0o644)
	})
	if err != nil {
		return nil, nil, err
	}
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: fmt.Sprintf("wrote %d bytes to %s", len(in.Content), p)}}}, nil, nil
}

func (t *tools) listDirectory(ctx context.Context, _ *sdk.CallToolRequest, in PathIn) (*sdk.CallToolResult, any, error) {
	p := t.abs(in.Path)
	var names []string
	err := t.external(ctx, gatehouse.KindFileRead, "list_directory", "list_directory "+p, in, func(*gatehouse.Action) (string, error) {
		ents, err := os.ReadDir(p)
		for _, e := range ents {
			n := e.Name()
			if e.IsDir() {
				n += "/"
			}
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Sprintf("%d entries", len(names)), err
	})
	if err != nil {
		return nil, nil, err
	}
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: strings.Join(names, "\n")}}}, nil, nil
}

func (t *tools) httpRequest(ctx context.Context, _ *sdk.CallToolRequest, in HTTPRequestIn) (*sdk.CallToolResult, HTTPRequestOut, error) {
	method := strings.ToUpper(in.Method)
	if method == "" {
		method = http.MethodGet
	}
	var out HTTPRequestOut
	err := t.external(ctx, gatehouse.KindHTTP, "http_request", "http_request "+method+" "+in.URL, in, func(a *gatehouse.Action) (string, error) {
		req, err := http.NewRequestWithContext(ctx, method, in.URL, strings.NewReader(in.Body))
		if err != nil {
			return "", err
		}
		for k, v := range in.Headers {
			req.Header.Set(k, v)
		}
		// The action's trace context, so that the server's spans join the
		// action's trace (gatehouse log --trace finds it); set after the
		// caller's headers, which may not replace it.
		if tp := a.Traceparent(); tp != "" {
			req.Header.Set("traceparent", tp)
			req.Header.Del("tracestate")
		}
		resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxRead))
		out = HTTPRequestOut{Status: resp.StatusCode, Body: string(b)}
		return fmt.Sprintf("HTTP %d, %d bytes", resp.StatusCode, len(b)), err
	})
	return nil, out, err
}

// external asks the gateway for an action this process carries out
// itself, does it only if allowed, and reports the outcome.
// do is given the action, as journaled once allowed: its traceparent
// goes with what it sends.
func (t *tools) external(ctx context.Context, kind gatehouse.Kind, tool, command string, input any, do func(a *gatehouse.Action) (string, error)) error {
	raw, _ := json.Marshal(input)
	a, err := t.cl.Request(ctx, gatehouse.ExternalRequest{Kind: kind, Tool: tool, Command: command, Input: raw,
		Session: t.opts.Session, Model: t.opts.Model, Cwd: t.opts.Cwd, Client: map[string]string{"harness": "gatehouse-mcp"}}, nil)
	if err != nil {
		return refusal(a, err)
	}
	if a.Status != gatehouse.StatusRunning {
		return fmt.Errorf("gatehouse: action %s is %s, not running", a.ID, a.Status)
	}
	start := time.Now()
	resp, doErr := do(a)
	d := float64(time.Since(start).Microseconds()) / 1000
	out := gatehouse.ExternalOutcome{ID: a.ID, Response: resp, DurationMS: &d}
	if doErr != nil {
		out.Failed, out.Error = true, doErr.Error()
	}
	if _, err := t.cl.Complete(context.WithoutCancel(ctx), out); err != nil {
		return fmt.Errorf("gatehouse: the outcome could not be journaled: %s", gatehouse.ErrorMessage(err))
	}
	return doErr
}

func (t *tools) abs(p string) string {
	if p == "" {
		return t.opts.Cwd
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(t.opts.Cwd, p)
	}
	return filepath.Clean(p)
}

// refusal turns a gateway error into the tool error the agent reads: the
// reason and the action for one the gateway refused, else the message and
// the code.
func refusal(a *gatehouse.Action, err error) error {
	if gatehouse.ErrorCode(err) == gatehouse.EREFUSED && a != nil {
		return fmt.Errorf("gatehouse: %s (action %s)", gatehouse.ErrorMessage(err), a.ID)
	}
	return fmt.Errorf("gatehouse: %s (%s)", gatehouse.ErrorMessage(err), gatehouse.ErrorCode(err))
}

// capped keeps at most maxRead bytes of a stream for the tool result.
type capped struct{ w *bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := maxRead - c.w.Len(); room > 0 {
		if len(p) > room {
			c.w.Write(p[:room])
		} else {
			c.w.Write(p)
		}
	}
	return len(p), nil
}
