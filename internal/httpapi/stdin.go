package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
)

// A run request with "stdin": true is full duplex: after the request
// object its body goes on with stdin frames, one JSON object a line,
// {"type":"stdin","data":BASE64}, while the answer streams the other way.
// The end of the body is the command's end of file. The frames are read
// only as fast as the command reads its stdin (an io.Pipe between this
// reader and the executor's feed), so a client's input never piles up in
// the daemon.
//
// A frame that is malformed, of another type, or larger than
// client.MaxStdinFrame, and a body that breaks off (the client went away)
// cancel the run, and the command does not see end of file: it must not
// go on with an input it was not meant to have. Reading starts at once, even while the action waits for
// review, so that a client that goes away is seen.

// maxStdinLine bounds one stdin frame's line: the base64 of
// client.MaxStdinFrame bytes and the JSON around it.
const maxStdinLine = client.MaxStdinFrame/3*4 + 64

// errStdinCut is the cause of a run whose client's stdin stream broke.
type errStdinCut struct{ err error }

func (e errStdinCut) Error() string { return "the client's stdin stream broke: " + e.err.Error() }
func (e errStdinCut) Unwrap() error { return e.err }

// decodeRun decodes a run or attach request: one JSON object with no
// unknown fields, of at most maxBody bytes, then nothing but white space —
// or, if it asks for stdin, the stdin frames, returned as rest.
func decodeRun(r *http.Request) (gatehouse.RunRequest, io.Reader, error) {
	var req gatehouse.RunRequest
	if len(r.URL.RawQuery) > 0 {
		return req, nil, gatehouse.Errorf(gatehouse.EINVALID, "unexpected query parameters")
	}
	head := &io.LimitedReader{R: r.Body, N: maxBody}
	dec := json.NewDecoder(head)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		switch {
		case head.N <= 0:
			return req, nil, gatehouse.Errorf(gatehouse.ETOOLARGE, "request body is over %d bytes", maxBody)
		case errors.Is(err, io.EOF):
			return req, nil, gatehouse.Errorf(gatehouse.EINVALID, "empty request body: expected a JSON object")
		}
		return req, nil, gatehouse.Errorf(gatehouse.EINVALID, "malformed request: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	// What the decoder read ahead, then the rest of the body.
	rest := io.MultiReader(dec.Buffered(), r.Body)
	if req.Stdin {
		return req, rest, nil
	}
	// Without stdin nothing may follow: trailing data is refused, as
	// everywhere, however far it is.
	br := bufio.NewReader(io.LimitReader(rest, maxBody+1))
	for n := 0; ; n++ {
		c, err := br.ReadByte()
		if err == io.EOF {
			return req, nil, nil
		}
		if err != nil {
			return req, nil, gatehouse.Errorf(gatehouse.EINVALID, "malformed request: %v", err)
		}
		if n >= maxBody {
			return req, nil, gatehouse.Errorf(gatehouse.ETOOLARGE, "request body is over %d bytes", maxBody)
		}
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return req, nil, gatehouse.Errorf(gatehouse.EINVALID, "malformed request: trailing data after the JSON object (send \"stdin\": true to stream stdin frames)")
		}
	}
}

// stdinStream turns the stdin frames of a request body into the command's
// stdin.
type stdinStream struct {
	pr     *io.PipeReader
	pw     *io.PipeWriter
	done   chan struct{}
	closed atomic.Bool // the run is over
}

// readStdin starts reading the frames of body into a pipe whose reader is
// the command's stdin. A broken stream cancels the run with cause.
func readStdin(body io.Reader, cancel context.CancelCauseFunc) *stdinStream {
	pr, pw := io.Pipe()
	s := &stdinStream{pr: pr, pw: pw, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		err := copyFrames(pw, body)
		if err == nil {
			_ = pw.Close() // the client closed its stdin: end of file
			return
		}
		if !s.closed.Load() && !errors.Is(err, io.ErrClosedPipe) {
			// Not end of file — the command would take a cut input for
			// the whole of it — but the end of the run: the pipe stays
			// open until the command is gone.
			cancel(errStdinCut{err})
		}
		// Whatever the client still sends is read and dropped until it
		// stops (close bounds how long): a connection closed on unread
		// data is reset, and a reset can destroy the end of the answer
		// before the client has read it.
		_, _ = io.Copy(io.Discard, body)
	}()
	return s
}

// drainFor bounds how long a run's stdin is read and dropped after the run
// is over, waiting for the client to stop sending (the Go client stops as
// soon as it has the finished frame).
const drainFor = 10 * time.Second

// copyFrames writes the data of each stdin frame of body to w, until the
// body ends (nil) or something is wrong with it.
func copyFrames(w io.Writer, body io.Reader) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), maxStdinLine)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var f client.Frame
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return fmt.Errorf("malformed stdin frame: %s", strings.TrimPrefix(err.Error(), "json: "))
		}
		if dec.More() {
			return errors.New("malformed stdin frame: more than one JSON value on a line")
		}
		switch {
		case f.Type != client.FrameStdin:
			return fmt.Errorf("unexpected frame of type %q in the request: only stdin frames may follow it", f.Type)
		case f.Action != nil || f.Error != nil:
			return errors.New("malformed stdin frame: only type and data")
		case len(f.Data) > client.MaxStdinFrame:
			return fmt.Errorf("stdin frame of %d bytes is over the limit of %d", len(f.Data), client.MaxStdinFrame)
		}
		if len(f.Data) == 0 {
			continue
		}
		if _, err := w.Write(f.Data); err != nil {
			return err
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return fmt.Errorf("a stdin frame is over the limit of %d bytes", client.MaxStdinFrame)
	}
	return sc.Err()
}

// close ends the stream once the run is over: the command's side of the
// pipe is closed, what the client still sends is dropped until it stops
// or drainFor has passed, and close returns when nothing reads the body
// any more — a handler must not leave it being read. The read deadline is
// the connection's (its background read fails too, which ends its
// context): the answer to a stdin run says Connection: close, so nothing
// else uses the connection.
func (s *stdinStream) close(w http.ResponseWriter) {
	s.closed.Store(true)
	_ = s.pr.CloseWithError(io.ErrClosedPipe)
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(drainFor))
	<-s.done
}
