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

	// 20 and up: checks whose result is a verdict on something else (a
	// dashboard, a deployed broker), kept apart from 1 so a pipeline can
	// tell "the thing checked is not fine" from "meshctl could not check".
	ExitLintFindings    = 20 // dashboards lint: at least one error finding
	ExitGateRefused     = 21 // gate ready: connection refused (nothing listening)
	ExitGateDNS         = 22 // gate ready: the host name does not resolve
	ExitGateTLS         = 23 // gate ready: TLS handshake or certificate failed
	ExitGateTimeout     = 24 // gate ready: an attempt timed out (no answer within --attempt-timeout)
	ExitGateHTTP        = 25 // gate ready: HTTP 5xx (or another non-200) without a not_ready body
	ExitGateDBDown      = 26 // gate: not_ready, the broker's database is unreachable
	ExitGateMigration   = 27 // gate: the expected migration is not applied
	ExitGateDraining    = 28 // gate ready: not_ready, the broker is draining
	ExitGateNotReady    = 29 // gate ready: not_ready for another reason (startup migration running)
	ExitGateVersion     = 30 // gate ready: the broker runs another version than --expect-version
	ExitGateSchemaDirty = 31 // gate ready --expect-schema-clean: the broker reports a dirty schema
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
	ExitLintFindings: "lint_findings", ExitGateRefused: "gate_refused", ExitGateDNS: "gate_dns", ExitGateTLS: "gate_tls",
	ExitGateTimeout: "gate_timeout", ExitGateHTTP: "gate_http", ExitGateDBDown: "gate_db_down", ExitGateMigration: "gate_migration_missing",
	ExitGateDraining: "gate_draining", ExitGateNotReady: "gate_not_ready", ExitGateVersion: "gate_version_mismatch",
	ExitGateSchemaDirty: "gate_schema_dirty",
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
	var ce *dbconn.Error
	if errors.As(err, &ce) && ce.Kind == dbconn.KindMissingDSN {
		msg += ": set --database-url or DATABASE_URL (postgres://user:password@host:5432/dbname)"
	}
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
