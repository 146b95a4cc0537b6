package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ConnectionLostError means the connection dropped while a batch of files
// was running, so the server's answers for the files that committed may
// never have arrived. The runner reconnected and read the tracking table:
// Committed are the files whose rows are there (made durable before they
// are reported), NotCommitted the rest of the batch. When it could not
// reconnect or read the table, Unknown lists the whole batch.
type ConnectionLostError struct {
	Committed    []string
	NotCommitted []string
	Unknown      []string
	Err          error // what broke the connection
	RecoverErr   error // why the outcome could not be read; nil when it was
	// A non-transactional file lost at Statement (1-based): the statements
	// before it stay applied; that one may or may not have taken effect.
	NoTransaction bool
	Statement     int
}

func (e *ConnectionLostError) Error() string {
	var b strings.Builder
	b.WriteString("the connection to the database was lost while applying files (" + e.Err.Error() + ")")
	if len(e.Unknown) > 0 {
		fmt.Fprintf(&b, "; whether %s committed is unknown (reading the tracking table from a new connection failed: %v)", list(e.Unknown), e.RecoverErr)
		return b.String()
	}
	if len(e.Committed) > 0 {
		fmt.Fprintf(&b, "; the tracking table shows %s committed", list(e.Committed))
	}
	if e.NoTransaction && len(e.NotCommitted) > 0 {
		if e.Statement > 0 {
			fmt.Fprintf(&b, "; %s (no-transaction) stopped at statement #%d: the statements before it stay applied, that one may or may not have taken effect", list(e.NotCommitted), e.Statement)
		} else {
			fmt.Fprintf(&b, "; %s (no-transaction) did not finish", list(e.NotCommitted))
		}
		return b.String()
	}
	if len(e.NotCommitted) > 0 {
		fmt.Fprintf(&b, "; %s did not commit (rolled back completely)", list(e.NotCommitted))
	}
	return b.String()
}

// Remedies: find out what is applied, and go on.
func (e *ConnectionLostError) Remedies() []Remedy {
	switch {
	case len(e.Unknown) > 0:
		return []Remedy{RemedyStatus}
	case e.NoTransaction && len(e.NotCommitted) > 0:
		return []Remedy{RemedyStatus, RemedyResume}
	}
	return []Remedy{RemedyRerun}
}

func (e *ConnectionLostError) Unwrap() error { return e.Err }

func list(names []string) string {
	if len(names) <= 3 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s … %s (%d files)", names[0], names[len(names)-1], len(names))
}

// DurabilityError means files committed but the transaction that makes
// them durable (flushed, replicated) failed: a server crash may still lose
// them. Files lists them.
type DurabilityError struct {
	Files []string
	Err   error
}

func (e *DurabilityError) Error() string {
	return fmt.Sprintf("%s committed but could not be confirmed durable (%v)", list(e.Files), e.Err)
}

// Remedies: Status shows which files are applied.
func (e *DurabilityError) Remedies() []Remedy { return []Remedy{RemedyStatus} }

func (e *DurabilityError) Unwrap() error { return e.Err }

// Bounds of the look at the tracking table after a lost connection.
const (
	recoverWait     = 15 * time.Second
	recoverAttempts = 5
)

// afterLostConnection reconnects (bounded), makes sure the old backend is
// gone (a backend whose client vanished may still be running the batch:
// it is terminated, which rolls back the file it was in), makes every
// commit durable, and reads which of files committed.
func (r *Runner) afterLostConnection(ctx context.Context, old *session, files []*File, cause error) ([]FileResult, error) {
	e := &ConnectionLostError{Err: cause}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recoverWait)
	defer cancel()
	committed, err := r.readOutcome(rctx, old, files)
	if err != nil {
		e.RecoverErr = err
		for _, f := range files {
			e.Unknown = append(e.Unknown, f.Name)
		}
		return nil, e
	}
	var done []FileResult
	for _, f := range files {
		if committed[f.Name] {
			e.Committed = append(e.Committed, f.Name)
			done = append(done, FileResult{Filename: f.Name})
		} else {
			e.NotCommitted = append(e.NotCommitted, f.Name)
		}
	}
	return done, e
}

func (r *Runner) readOutcome(ctx context.Context, old *session, files []*File) (map[string]bool, error) {
	var c *pgx.Conn
	var err error
	for attempt := 0; attempt < recoverAttempts; attempt++ {
		if c, err = old.connectAgain(ctx); err == nil {
			break
		}
		t := time.NewTimer(time.Duration(attempt+1) * 500 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
	if err != nil {
		return nil, err
	}
	defer closeQuietly(ctx, c)
	if old.pid != 0 && old.backendStart != "" {
		// Only that backend: same pid and the same start time.
		const alive = "SELECT pid FROM pg_stat_activity WHERE pid = $1 AND backend_start = $2::timestamptz"
		if _, err := c.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM ("+alive+") b", pgx.QueryExecModeSimpleProtocol, int64(old.pid), old.backendStart); err != nil {
			return nil, dbErr("stopping the old backend", err)
		}
		for {
			var n int
			if err := c.QueryRow(ctx, "SELECT count(*) FROM ("+alive+") b", pgx.QueryExecModeSimpleProtocol, int64(old.pid), old.backendStart).Scan(&n); err != nil {
				return nil, dbErr("waiting for the old backend to end", err)
			}
			if n == 0 {
				break
			}
			select {
			case <-ctx.Done():
				return nil, errors.New("the old backend did not end")
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	var exists bool
	if err := c.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", pgx.QueryExecModeSimpleProtocol, r.tableIdent()).Scan(&exists); err != nil {
		return nil, dbErr("reading the tracking table", err)
	}
	out := map[string]bool{}
	if !exists {
		return out, nil
	}
	// WAL is one stream: a durable commit here flushes the old backend's
	// asynchronous commits too.
	if _, err := c.PgConn().Exec(ctx, r.flushSQL(old.durable)).ReadAll(); err != nil {
		return nil, dbErr("flushing the applied files to disk", err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	rows, err := c.Query(ctx, "SELECT filename, sha256 FROM "+r.tableIdent()+" WHERE filename = ANY($1)", pgx.QueryExecModeSimpleProtocol, names)
	if err != nil {
		return nil, dbErr("reading the tracking table", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, sum string
		if err := rows.Scan(&name, &sum); err != nil {
			return nil, dbErr("reading the tracking table", err)
		}
		if f := r.src.Lookup(name); f != nil && f.SHA256 == sum {
			out[name] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("reading the tracking table", err)
	}
	return out, nil
}
