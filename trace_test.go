package gatehouse_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

func TestParseTraceID(t *testing.T) {
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, tc := range []struct {
		in, want string // want "" means EINVALID
	}{
		{id, id},
		{"4BF92F3577B34DA6A3CE929D0E0E4736", id},
		{"  " + id + "\n", id},
		{"00-" + id + "-00f067aa0ba902b7-01", id},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-00", id},
		{"", ""},
		{"4bf92f3577b34da6a3ce929d0e0e473", ""},   // 31 digits
		{"4bf92f3577b34da6a3ce929d0e0e47360", ""}, // 33
		{"4bf92f3577b34da6a3ce929d0e0e473g", ""},
		{"00000000000000000000000000000000", ""}, // all zero is invalid
		{"00-" + id + "-0000000000000000-01", ""},
		{"00-" + id + "-00f067aa0ba902b7", ""},
		{"0-" + id + "-00f067aa0ba902b7-01", ""},
		{"00-" + id + "-00f067aa0ba902b-01", ""},
		{"trace-a1", ""},
	} {
		got, err := gatehouse.ParseTraceID(tc.in)
		switch {
		case tc.want == "" && gatehouse.ErrorCode(err) != gatehouse.EINVALID:
			t.Errorf("ParseTraceID(%q) = %q, %v; want EINVALID", tc.in, got, err)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("ParseTraceID(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestTraceparent(t *testing.T) {
	a := &gatehouse.Action{ID: "01JD0000000000000000000000", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"}
	tp := a.Traceparent()
	if len(tp) != 55 || tp[:36] != "00-4bf92f3577b34da6a3ce929d0e0e4736-" || tp[52:] != "-01" {
		t.Fatalf("Traceparent() = %q", tp)
	}
	if got, err := gatehouse.ParseTraceID(tp); err != nil || got != a.TraceID {
		t.Errorf("ParseTraceID(Traceparent()) = %q, %v", got, err)
	}
	if tp[36:52] != a.SpanID() {
		t.Errorf("span in %q is not SpanID() %q", tp, a.SpanID())
	}
	// The span id is a function of the action id alone.
	b := &gatehouse.Action{ID: a.ID, TraceID: "0af7651916cd43dd8448eb211c80319c"}
	c := &gatehouse.Action{ID: "01JD0000000000000000000001", TraceID: a.TraceID}
	if a.SpanID() != b.SpanID() || a.SpanID() == c.SpanID() {
		t.Errorf("SpanID: %s %s %s", a.SpanID(), b.SpanID(), c.SpanID())
	}
	if (&gatehouse.Action{ID: "x", TraceID: "not-a-trace"}).Traceparent() != "" {
		t.Error("Traceparent of an action without a valid trace id is not empty")
	}
}
