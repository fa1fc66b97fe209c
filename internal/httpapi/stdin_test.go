package httpapi

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
)

func TestDecodeRun(t *testing.T) {
	big := `{"argv":["echo","` + strings.Repeat("x", maxBody) + `"]}`
	tests := []struct {
		name  string
		body  string
		code  string // "" for success
		stdin bool
		rest  string // what follows the object, for stdin
	}{
		{"object", `{"argv":["true"],"cwd":"/"}`, "", false, ""},
		{"object and white space", "{\"argv\":[\"true\"]}\n \t\r\n", "", false, ""},
		{"empty", ``, gatehouse.EINVALID, false, ""},
		{"unknown field", `{"argv":["true"],"stdn":true}`, gatehouse.EINVALID, false, ""},
		{"trailing garbage", `{"argv":["true"]} x`, gatehouse.EINVALID, false, ""},
		{"a second object", `{"argv":["true"]}{"argv":["false"]}`, gatehouse.EINVALID, false, ""},
		{"frames without the stdin flag", `{"argv":["cat"]}` + "\n" + `{"type":"stdin","data":"aGk="}`, gatehouse.EINVALID, false, ""},
		{"garbage far behind", `{"argv":["true"]}` + strings.Repeat(" ", 100<<10) + "x", gatehouse.EINVALID, false, ""},
		{"too large", big, gatehouse.ETOOLARGE, false, ""},
		{"too much white space", `{"argv":["true"]}` + strings.Repeat(" ", maxBody+1), gatehouse.ETOOLARGE, false, ""},
		{"stdin, nothing after", `{"argv":["cat"],"stdin":true}`, "", true, ""},
		{"stdin, frames after", `{"argv":["cat"],"stdin":true}` + "\n" + `{"type":"stdin","data":"aGk="}` + "\n", "", true, "\n" + `{"type":"stdin","data":"aGk="}` + "\n"},
		{"stdin flag is strict too", `{"argv":["cat"],"stdin":"yes"}`, gatehouse.EINVALID, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/v1/run", strings.NewReader(tt.body))
			req, rest, err := decodeRun(r)
			if got := gatehouse.ErrorCode(err); got != tt.code {
				t.Fatalf("error %v, want code %q", err, tt.code)
			}
			if err != nil {
				return
			}
			if req.Stdin != tt.stdin || (rest != nil) != tt.stdin {
				t.Fatalf("stdin %v, rest %v", req.Stdin, rest != nil)
			}
			if rest != nil {
				b, _ := io.ReadAll(rest)
				if string(b) != tt.rest {
					t.Errorf("rest %q, want %q", b, tt.rest)
				}
			}
		})
	}
}

func TestCopyFrames(t *testing.T) {
	frame := func(data string) string {
		return `{"type":"stdin","data":"` + base64.StdEncoding.EncodeToString([]byte(data)) + `"}` + "\n"
	}
	huge := strings.Repeat("y", client.MaxStdinFrame+1)
	tests := []struct {
		name string
		body string
		out  string
		err  string // substring; "" for none
	}{
		{"none", "", "", ""},
		{"some", "\n" + frame("hello ") + frame("world\n"), "hello world\n", ""},
		{"blank lines and no final newline", "\n\n" + strings.TrimSuffix(frame("x"), "\n"), "x", ""},
		{"empty data", `{"type":"stdin"}` + "\n" + frame("z"), "z", ""},
		{"the largest frame", frame(huge[1:]), huge[1:], ""},
		{"a frame too large", frame(huge), "", "over the limit"},
		{"a line too long", `{"type":"stdin","data":"` + strings.Repeat("A", maxStdinLine) + `"}`, "", "over the limit"},
		{"another type", frame("a") + `{"type":"stdout","data":"eA=="}` + "\n", "a", `unexpected frame of type "stdout"`},
		{"an action", `{"type":"stdin","data":"eA==","action":{}}` + "\n", "", "only type and data"},
		{"unknown field", `{"type":"stdin","data":"eA==","eof":true}` + "\n", "", "malformed stdin frame"},
		{"not base64", `{"type":"stdin","data":"%%%"}` + "\n", "", "malformed stdin frame"},
		{"not JSON", "hello\n", "", "malformed stdin frame"},
		{"two values on a line", frame("a")[:len(frame("a"))-1] + `{"type":"stdin"}` + "\n", "", "more than one JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := copyFrames(&out, strings.NewReader(tt.body))
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want one saying %q", err, tt.err)
			}
			if out.String() != tt.out {
				t.Errorf("copied %q, want %q", clip(out.String()), clip(tt.out))
			}
		})
	}
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
