package gatehouse

import (
	"errors"
	"fmt"
)

// Error codes. They are part of the public contract (HTTP bodies, CLI
// output, journal records refer to them): the list is append-only and a
// code is never renamed.
const (
	EINVALID      = "EINVALID"      // the request is malformed or fails validation
	ENOTFOUND     = "ENOTFOUND"     // the named thing does not exist
	ECONFLICT     = "ECONFLICT"     // the request conflicts with current state (e.g. a duplicate name)
	EUNAUTHORIZED = "EUNAUTHORIZED" // no token, or a bad or revoked one
	EFORBIDDEN    = "EFORBIDDEN"    // the token is valid but may not do this
	ETOOLARGE     = "ETOOLARGE"     // the request body is over the limit
	EREFUSED      = "EREFUSED"      // the action was refused by the gateway (policy)
	EUNAVAILABLE  = "EUNAVAILABLE"  // the gateway cannot serve now (journal unwritable, shutting down, unreachable)
	EINTERNAL     = "EINTERNAL"     // a bug or unexpected failure; details are logged, not shown
)

// Error is the error type that crosses package boundaries. Code is one of
// the E* constants; Message is safe to show to a user; Op names the
// operation that failed (e.g. "sqlite.Append") and Err is the underlying
// cause, both for logs only.
type Error struct {
	Code    string
	Message string
	Op      string
	Err     error
}

func (e *Error) Error() string {
	switch {
	case e.Op != "" && e.Err != nil:
		return fmt.Sprintf("%s: %s: %v", e.Op, e.msg(), e.Err)
	case e.Err != nil:
		return fmt.Sprintf("%s: %v", e.msg(), e.Err)
	case e.Op != "":
		return e.Op + ": " + e.msg()
	}
	return e.msg()
}

func (e *Error) msg() string {
	if e.Message != "" {
		return e.Message
	}
	return e.Code
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error that records op and the cause err under code.
// Message is what a user sees; err is only logged.
func WrapError(code, op string, err error, message string) *Error {
	return &Error{Code: code, Op: op, Err: err, Message: message}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err. Errors without a
// code, and EINTERNAL errors, are reported only as "internal error": their
// details may hold paths or values that are not for the client.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != "" && e.Code != EINTERNAL {
		return e.msg()
	}
	return "internal error"
}
