package gatehouse

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Trace context (W3C Trace Context, https://www.w3.org/TR/trace-context/).
//
// Every action has a trace id, chosen at random when it is requested. Its
// own span — the one an OpenTelemetry exporter emits for it, and the parent
// that its process and its proxied requests are told of — has a span id
// derived from the action's id (SpanID), so that every party computes the
// same value without it being journaled.

// ValidTraceID reports whether s is a W3C trace id as the journal holds it:
// 32 lowercase hexadecimal digits, not all zero.
func ValidTraceID(s string) bool {
	return validHexID(s, 32)
}

func validHexID(s string, n int) bool {
	if len(s) != n || strings.Trim(s, "0") == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ParseTraceID reads a trace id as a user or an application gives it: the
// 32 hexadecimal digits of a trace id (in either case), or a whole
// traceparent header ("00-TRACEID-SPANID-FLAGS"), whose trace id it
// returns. It returns EINVALID for anything else.
func ParseTraceID(s string) (string, error) {
	s = strings.TrimSpace(s)
	id := strings.ToLower(s)
	if parts := strings.Split(id, "-"); len(parts) == 4 {
		if len(parts[0]) != 2 || !validHexID(parts[2], 16) || len(parts[3]) != 2 {
			return "", Errorf(EINVALID, "invalid traceparent %q: want 00-TRACEID-SPANID-FLAGS", s)
		}
		id = parts[1]
	}
	if !ValidTraceID(id) {
		return "", Errorf(EINVALID, "invalid trace id %q: want 32 hexadecimal digits or a traceparent", s)
	}
	return id, nil
}

const spanDomain = "gatehouse.span.v1\x00"

// SpanID returns the W3C span id (16 lowercase hexadecimal digits) of the
// span that stands for the action: the first 8 bytes of the SHA-256 of
// its id under a domain tag. It is a pure function of the id, so the
// gateway, the exporter and the MCP adapters agree on it.
func (a *Action) SpanID() string {
	sum := sha256.Sum256([]byte(spanDomain + a.ID))
	if strings.Trim(hex.EncodeToString(sum[:8]), "0") == "" {
		sum[7] = 1 // an all-zero span id is invalid; astronomically unlikely
	}
	return hex.EncodeToString(sum[:8])
}

// Traceparent returns the traceparent header that names the action's span
// as the parent, sampled: "00-TRACEID-SPANID-01". It is what the action's
// process gets as TRACEPARENT, what the MCP http_request tool sends as the
// traceparent header, and what the MCP proxy sets as _meta.traceparent.
// It is "" if the action has no valid trace id.
func (a *Action) Traceparent() string {
	if !ValidTraceID(a.TraceID) {
		return ""
	}
	return "00-" + a.TraceID + "-" + a.SpanID() + "-01"
}
