package migrate

import (
	"fmt"
	"strings"
	"time"
)

// FileError is a migration file that failed. For a transactional file
// nothing of it remains (the transaction rolled back, no tracking row, no
// dirty marker): fix the file and rerun. For a non-transactional file the
// statements before Statement stay applied and the failure is recorded.
type FileError struct {
	File           string
	Line, Col      int // of the failing statement or error position; 0 if unknown
	Statement      int // 1-based index of the failing statement; 0 if unknown
	SQLState       string
	Message        string
	Detail         string
	Hint           string
	NoTransaction  bool
	InvalidIndexes []string // left behind by a failed CONCURRENTLY build
	InTracking     bool     // the failure was in the runner's own bookkeeping SQL
	Advice         string   // what to do, when it is not the usual for the kind of file
}

func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	b.WriteString(": ")
	if e.SQLState != "" {
		fmt.Fprintf(&b, "ERROR %s: ", e.SQLState)
	}
	b.WriteString(e.Message)
	if e.Detail != "" {
		b.WriteString(" (detail: " + e.Detail + ")")
	}
	if e.Hint != "" {
		b.WriteString(" (hint: " + e.Hint + ")")
	}
	switch {
	case e.Advice != "":
		b.WriteString("; " + e.Advice)
	case e.SQLState == "42501":
		b.WriteString("; the database role lacks the privilege the message names: have it granted, or run the file as a role that has it")
	case e.InTracking:
		b.WriteString("; the runner could not record the file, so it was rolled back")
	case e.NoTransaction:
		if e.Statement > 1 {
			fmt.Fprintf(&b, "; statement #%d failed and the ones before it stay applied", e.Statement)
		} else {
			b.WriteString("; its first statement failed")
		}
		b.WriteString(": if the cause is outside the file (a lock, the data), remove it and run `meshctl migrate up --resume` (continues at that statement, the file unchanged); " +
			"to change the file, make it safe to run again from the start and run `meshctl migrate up --retry-file`; " +
			"if you completed it by hand, `meshctl migrate repair resolve --applied " + e.File + "`")
		if len(e.InvalidIndexes) > 0 {
			b.WriteString("; invalid indexes left behind (drop them before retrying): " + strings.Join(e.InvalidIndexes, ", "))
		}
	default:
		b.WriteString("; the file was rolled back completely: fix it and rerun `meshctl migrate up`")
	}
	return b.String()
}

// LockError means the migration lock was not acquired within the wait.
type LockError struct {
	Waited time.Duration
	Holder *LockHolder // nil when the holder could not be seen
}

func (e *LockError) Error() string {
	msg := fmt.Sprintf("migration lock not acquired within %s", e.Waited.Round(time.Millisecond))
	if e.Holder != nil {
		msg += "; held by " + e.Holder.String()
	}
	return msg + "; wait for that run to finish or raise --lock-wait"
}

// DriftError means the database history disagrees with the files in a way
// the runner will not paper over (under --strict, or a failed
// non-transactional file without --resume/--retry-file). Nothing was
// written.
type DriftError struct {
	Reason string
	Files  []string
}

func (e *DriftError) Error() string {
	return e.Reason + ": " + strings.Join(e.Files, ", ")
}

// LintError means a pending file has error-level lint findings; nothing was
// sent to the database.
type LintError struct {
	Findings []Finding
}

func (e *LintError) Error() string {
	f := e.Findings[0]
	msg := fmt.Sprintf("%s:%d: %s (%s); %s", f.File, f.Line, f.Message, f.Rule, f.Fix)
	if len(e.Findings) > 1 {
		msg += fmt.Sprintf(" (and %d more; see meshctl migrate lint)", len(e.Findings)-1)
	}
	return msg
}

// PoolerError means the connection does not keep a backend of its own: it
// moved between statements, or another connection was given the same one
// (a transaction-mode pooler such as PgBouncer), so a session lock would
// not protect anything.
type PoolerError struct{}

func (e *PoolerError) Error() string {
	return "the connection does not keep its own PostgreSQL backend (a transaction-mode pooler such as PgBouncer?): a session lock cannot protect migrations there; connect directly to PostgreSQL or through a session-mode pool"
}

// TargetError names a file (--to, --through) that is not in the source.
type TargetError struct {
	Flag, Name string
	Last       string // the last file of the source, for an example
}

func (e *TargetError) Error() string {
	msg := fmt.Sprintf("%s %q is not a migration file in the folder", e.Flag, e.Name)
	if e.Last != "" {
		msg += fmt.Sprintf("; give the name of one, such as %s", e.Last)
	}
	return msg
}

// lastName is the name of the source's last file ("" when empty).
func (s *Source) lastName() string {
	if len(s.Files) == 0 {
		return ""
	}
	return s.Files[len(s.Files)-1].Name
}

// DBError is a failure of the runner's own SQL (reading or creating the
// tracking table, taking the lock).
type DBError struct {
	Op       string
	SQLState string
	Message  string
}

func (e *DBError) Error() string {
	msg := e.Op + ": " + e.Message
	if e.SQLState == "42501" {
		msg += "; the database role lacks the privilege the message names"
	}
	return msg
}

// OptionError is an invalid option value (a bad --table, negative retries).
type OptionError struct{ Msg string }

func (e *OptionError) Error() string { return e.Msg }

// InterruptedError means the caller's context was cancelled (Ctrl-C,
// SIGTERM) while File was being applied. The server was told to stop the
// running statement before Up returned. A transactional file rolled back
// completely; files before it stay applied and are in UpResult.Applied. A
// non-transactional file keeps the statements before Statement and is
// recorded as interrupted: rerun with --resume or --retry-file.
type InterruptedError struct {
	File           string
	NoTransaction  bool
	Statement      int      // 1-based statement that was running (non-transactional files); 0 if none
	InvalidIndexes []string // left behind by an interrupted CONCURRENTLY build
	Err            error    // the context's error
}

func (e *InterruptedError) Error() string {
	if !e.NoTransaction {
		return "interrupted while applying " + e.File + ": it was rolled back completely; files before it stay applied; rerun to continue"
	}
	msg := fmt.Sprintf("interrupted while applying %s (no-transaction) at statement #%d: the statements before it stay applied; continue with `meshctl migrate up --resume` (or run it again from the start with --retry-file)", e.File, e.Statement)
	if len(e.InvalidIndexes) > 0 {
		msg += "; invalid indexes left behind (drop them before retrying): " + strings.Join(e.InvalidIndexes, ", ")
	}
	return msg
}

func (e *InterruptedError) Unwrap() error { return e.Err }

// TrackingRowError is a tracking row that no runner can have written: a
// NULL where upstream's table has NOT NULL. meshctl cannot tell what ran.
type TrackingRowError struct {
	Table, File, Column string
}

func (e *TrackingRowError) Error() string {
	return fmt.Sprintf("tracking row %s of %s has no %s (NULL)", e.File, e.Table, e.Column)
}
