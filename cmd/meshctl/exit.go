package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/claudemesh/meshctl/internal/dbconn"
	"github.com/claudemesh/meshctl/migrate"
)

// Exit codes. This table is the one place meshctl's exit codes are defined;
// the README's exit-code table mirrors it. Pipelines branch on these, so a
// code's meaning never changes once released.
const (
	ExitOK               = 0 // success; for checks: nothing to report
	ExitError            = 1 // operational error: database unreachable, SQL failed, I/O error
	ExitUsage            = 2 // bad flags, arguments or input files given by the caller
	ExitPending          = 3 // migrate status --exit-code: migrations are pending
	ExitDrift            = 4 // migrate: applied files changed, files missing, a failed or out-of-order file
	ExitLocked           = 5 // migrate: the migration lock was not acquired within --lock-wait
	ExitTamper           = 6 // audit verify: the chain shows tampering
	ExitVectorsFailed    = 7 // vectors verify: at least one vector gave the wrong verdict
	ExitVectorsMalformed = 8 // vectors verify: a vector file is malformed
)

// exitError carries an exit code with the error that explains it.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode attaches an exit code to err. A nil err still yields the code
// (for results such as "tamper found" that are not failures of meshctl).
func withCode(code int, err error) error {
	if err == nil {
		err = errors.New("")
	}
	return &exitError{code: code, err: err}
}

// usageError marks a mistake in how meshctl was called.
func usageError(format string, args ...any) error {
	return withCode(ExitUsage, fmt.Errorf(format, args...))
}

// exitCode maps an error returned by a verb to its exit code. Typed errors
// from the domain packages are matched here and nowhere else.
func exitCode(err error) int {
	var ee *exitError
	var ce *dbconn.Error
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ce):
		if ce.Kind == dbconn.KindMissingDSN || ce.Kind == dbconn.KindBadDSN {
			return ExitUsage // the caller's input, like a bad flag
		}
		return ExitError
	case errors.Is(err, context.Canceled):
		return ExitError
	}
	return ExitError
}

// errorJSON is the one shape of a failure under --json, on stdout:
//
//	{"error": {"code": "db_unreachable", "message": "...", "exit": 1}}
//
// message is the line printed on stderr; code is a stable word a pipeline
// can branch on more finely than the exit code; exit is the exit code.
type errorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Exit    int    `json:"exit"`
}

// envelope returns err's --json form, or nil when err carries no message
// (a bare exit code after a report).
func envelope(err error) *errorJSON {
	msg := errorLine(err)
	if msg == "" {
		return nil
	}
	return &errorJSON{Code: errorCode(err), Message: msg, Exit: exitCode(err)}
}

// exitNames are the codes' words, for errors no finer word fits.
var exitNames = map[int]string{
	ExitError: "error", ExitUsage: "usage", ExitPending: "pending", ExitDrift: "drift", ExitLocked: "locked",
	ExitTamper: "tamper", ExitVectorsFailed: "vectors_failed", ExitVectorsMalformed: "vectors_malformed",
}

// errorCode names err's class for errorJSON.
func errorCode(err error) string {
	var ce *dbconn.Error
	var ie *migrate.InterruptedError
	switch {
	case errors.Is(err, context.Canceled), errors.As(err, &ie):
		return "interrupted"
	case errors.As(err, &ce):
		switch ce.Kind {
		case dbconn.KindMissingDSN:
			return "db_missing_url"
		case dbconn.KindBadDSN:
			return "db_bad_url"
		case dbconn.KindUnreachable:
			return "db_unreachable"
		case dbconn.KindTimeout:
			return "db_timeout"
		case dbconn.KindAuth:
			return "db_auth"
		case dbconn.KindNoDatabase:
			return "db_no_database"
		case dbconn.KindTLS:
			return "db_tls"
		case dbconn.KindNotPostgres:
			return "db_not_postgres"
		}
		return "db_connect"
	}
	if name, ok := exitNames[exitCode(err)]; ok {
		return name
	}
	return "error"
}

// reportError prints err as one line on stderr (nothing for a bare code).
func reportError(w io.Writer, err error) {
	if msg := errorLine(err); msg != "" {
		fmt.Fprintf(w, "meshctl: %s\n", termSafe(msg))
	}
}

// errorLine is the one-line message for err that reportError prints after
// "meshctl: ", and that --json output carries as "error"; "" for nil or a
// bare code.
func errorLine(err error) string {
	if err == nil {
		return ""
	}
	// One line, also for joined errors.
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
	if errors.Is(err, context.Canceled) {
		// The bare "context canceled" says nothing; the migrate runner's
		// interruption says what stayed applied.
		msg = "interrupted"
		var ie *migrate.InterruptedError
		if errors.As(err, &ie) {
			msg = ie.Error()
		}
	}
	return msg
}
