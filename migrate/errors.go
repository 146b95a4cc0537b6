package migrate

import (
	"fmt"
	"strings"
	"time"
)

// Remedy is a way out of the state an error leaves, in the library's
// words. Errors list theirs in a Remedies field and never name a command
// line: a CLI phrases each as its own command (meshctl's cmd does), a
// broker logs it, a test asserts it.
type Remedy string

const (
	RemedyFixAndRerun    Remedy = "fix-and-rerun"   // change the failed file, then Up again
	RemedyRerun          Remedy = "rerun"           // Up again: it continues where it stopped
	RemedyResume         Remedy = "resume"          // Up with Resume(): continue at the failed statement
	RemedyRetryFile      Remedy = "retry-file"      // Up with RetryFile(): run the file again from its start
	RemedyResolveApplied Remedy = "resolve-applied" // RepairResolve(file, true): it was completed by hand
	RemedyDropIndexes    Remedy = "drop-indexes"    // drop the invalid indexes listed, then resume or retry
	RemedyStatus         Remedy = "status"          // Status shows which files are applied
	RemedyWaitForLock    Remedy = "wait-for-lock"   // wait for the holder, or allow a longer lock wait
	RemedyGrant          Remedy = "grant"           // have the missing privilege granted
	RemedyLint           Remedy = "lint"            // Lint lists every finding
	RemedyCheckFolder    Remedy = "check-folder"    // the folder given is not a migration folder
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
	// DropStatement, for an invalid index found by a resume, is the
	// statement that drops it.
	DropStatement string
}

// Remedies are the ways out of the state the failure left.
func (e *FileError) Remedies() []Remedy {
	switch {
	case e.DropStatement != "":
		return []Remedy{RemedyDropIndexes, RemedyResume}
	case e.SQLState == "42501":
		return []Remedy{RemedyGrant}
	case e.InTracking:
		return []Remedy{RemedyRerun}
	case e.NoTransaction:
		r := []Remedy{RemedyResume, RemedyRetryFile, RemedyResolveApplied}
		if len(e.InvalidIndexes) > 0 {
			r = append([]Remedy{RemedyDropIndexes}, r...)
		}
		return r
	}
	return []Remedy{RemedyFixAndRerun}
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
	case e.DropStatement != "":
		b.WriteString("; drop it with " + e.DropStatement)
	case e.SQLState == "42501":
		b.WriteString("; the database role lacks the privilege the message names")
	case e.InTracking:
		b.WriteString("; the runner could not record the file, so it was rolled back")
	case e.NoTransaction:
		if e.Statement > 1 {
			fmt.Fprintf(&b, "; statement #%d failed and the ones before it stay applied", e.Statement)
		} else {
			b.WriteString("; its first statement failed")
		}
		if len(e.InvalidIndexes) > 0 {
			b.WriteString("; invalid indexes left behind (drop them before retrying): " + strings.Join(e.InvalidIndexes, ", "))
		}
	default:
		b.WriteString("; the file was rolled back completely")
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
	return msg
}

// Remedies: wait for the holder, or allow a longer wait.
func (e *LockError) Remedies() []Remedy { return []Remedy{RemedyWaitForLock} }

// DriftError means the database history disagrees with the files in a way
// the runner will not paper over (under Strict, or a failed
// non-transactional file without Resume or RetryFile). Nothing was
// written.
type DriftError struct {
	Kind   DriftKind
	Reason string
	Files  []string
}

// DriftKind says which disagreement a DriftError is.
type DriftKind string

const (
	DriftChanged       DriftKind = "changed"        // applied files changed (strict)
	DriftOutOfOrder    DriftKind = "out-of-order"   // pending files sort before the newest applied one (strict)
	DriftMissing       DriftKind = "missing-file"   // applied files are missing from the folder (strict)
	DriftFailed        DriftKind = "failed"         // a non-transactional file stopped part-way
	DriftResumeChanged DriftKind = "resume-changed" // Resume asked of a failed file that changed since
)

// Remedies are the ways out of each kind of drift.
func (e *DriftError) Remedies() []Remedy {
	switch e.Kind {
	case DriftFailed:
		return []Remedy{RemedyResume, RemedyRetryFile, RemedyResolveApplied}
	case DriftResumeChanged:
		return []Remedy{RemedyRetryFile}
	}
	return nil // the CLI names the repair for each (accept, forget, rename the files)
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
		msg += fmt.Sprintf(" (and %d more)", len(e.Findings)-1)
	}
	return msg
}

// Remedies: Lint lists every finding.
func (e *LintError) Remedies() []Remedy { return []Remedy{RemedyLint} }

// PoolerError means the connection does not keep a backend of its own: it
// moved between statements, or another connection was given the same one
// (a transaction-mode pooler such as PgBouncer), so a session lock would
// not protect anything.
type PoolerError struct{}

func (e *PoolerError) Error() string {
	return "the connection does not keep its own PostgreSQL backend (a transaction-mode pooler such as PgBouncer?): a session lock cannot protect migrations there; connect directly to PostgreSQL or through a session-mode pool"
}

// TargetError names a file (the target of To, or the last file of a
// bootstrap) that is not in the source.
type TargetError struct {
	Option string // "to" or "through"
	Name   string
	Last   string // the last file of the source, for an example
}

func (e *TargetError) Error() string {
	msg := fmt.Sprintf("%s file %q is not a migration file in the folder", e.Option, e.Name)
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
// recorded as interrupted: continue with Resume or RetryFile.
type InterruptedError struct {
	File           string
	NoTransaction  bool
	Statement      int      // 1-based statement that was running (non-transactional files); 0 if none
	InvalidIndexes []string // left behind by an interrupted CONCURRENTLY build
	Err            error    // the context's error
}

func (e *InterruptedError) Error() string {
	if !e.NoTransaction {
		return "interrupted while applying " + e.File + ": it was rolled back completely; files before it stay applied"
	}
	msg := fmt.Sprintf("interrupted while applying %s (no-transaction) at statement #%d: the statements before it stay applied", e.File, e.Statement)
	if len(e.InvalidIndexes) > 0 {
		msg += "; invalid indexes left behind (drop them before retrying): " + strings.Join(e.InvalidIndexes, ", ")
	}
	return msg
}

// Remedies are the ways on from the interruption.
func (e *InterruptedError) Remedies() []Remedy {
	if !e.NoTransaction {
		return []Remedy{RemedyRerun}
	}
	if len(e.InvalidIndexes) > 0 {
		return []Remedy{RemedyDropIndexes, RemedyResume, RemedyRetryFile}
	}
	return []Remedy{RemedyResume, RemedyRetryFile}
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

// ResumeSessionError refuses to resume a failed non-transactional file in
// a new session: its statement Statement, before the one it stopped at,
// changed the session in a way that cannot be re-created safely (What:
// set_config, DISCARD, a temporary object, ...), or running it again to
// restore the session failed (Err). Nothing of the file was run.
type ResumeSessionError struct {
	File            string
	Statement, Line int
	What            string
	Err             error
}

func (e *ResumeSessionError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s:%d: cannot resume: running statement #%d again to restore the session state failed: %v", e.File, e.Line, e.Statement, e.Err)
	}
	return fmt.Sprintf("%s:%d: cannot resume: statement #%d (%s) changed the session in a way a new session cannot re-create, and the statements after it may depend on it", e.File, e.Line, e.Statement, e.What)
}

func (e *ResumeSessionError) Unwrap() error { return e.Err }

// Remedies: run the file again from its start, or record it completed by
// hand.
func (e *ResumeSessionError) Remedies() []Remedy {
	return []Remedy{RemedyRetryFile, RemedyResolveApplied}
}
