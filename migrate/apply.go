package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
)

// txPrefix opens the one-round-trip batch of a transactional file. Error
// positions are reported relative to the whole batch, so its length in
// characters is subtracted to find the position in the file.
const txPrefix = "BEGIN;\n"

// durationSQL is the body's server-side run time: now() is the start of the
// transaction, clock_timestamp() the moment the tracking row is written.
const durationSQL = "extract(epoch from clock_timestamp() - now()) * 1000"

// applyTx runs a transactional file as one simple-protocol batch:
// BEGIN; body; [create tracking table]; tracking INSERT; COMMIT. One round
// trip, and the tracking row commits or rolls back with the file.
func (s *session) applyTx(ctx context.Context, f *File, tableExists bool) (FileResult, error) {
	r := s.r
	var b strings.Builder
	b.Grow(len(f.Body) + 512)
	b.WriteString(txPrefix)
	b.WriteString(f.Body)
	// The newline ends a trailing line comment; the ';' ends a last
	// statement written without one.
	b.WriteString("\n;\n")
	if !tableExists {
		// Created after the body, inside the same transaction: on an empty
		// database the first file may itself CREATE SCHEMA "mesh".
		b.WriteString(r.ensureTableSQL())
	}
	b.WriteString(r.insertSQL(f, HowExecuted, durationSQL))
	b.WriteString(";\nCOMMIT;")
	batch := b.String()
	for attempt := 0; ; attempt++ {
		start := time.Now()
		_, err := s.conn.PgConn().Exec(ctx, batch).ReadAll()
		d := time.Since(start)
		if err == nil {
			return FileResult{Filename: f.Name, Duration: d, DurationMS: ms(d)}, nil
		}
		s.rollback(ctx)
		if lockNotAvailable(err) && attempt < r.cfg.lockRetries {
			if werr := s.backoff(ctx, f.Name, attempt, err); werr != nil {
				return FileResult{}, werr
			}
			continue
		}
		return FileResult{}, s.txFileError(ctx, f, err)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func lockNotAvailable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "55P03"
}

func (s *session) backoff(ctx context.Context, file string, attempt int, err error) error {
	d := s.r.cfg.retryBackoff << attempt
	s.r.emit(Event{Kind: EventRetry, File: file, Duration: d, Message: err.Error()})
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// txFileError maps a failed batch back to the file: the error position (in
// characters of the batch) becomes line:column of the file. Errors raised
// while executing (no position) are located by replaying the file
// statement by statement inside a transaction that is rolled back.
func (s *session) txFileError(ctx context.Context, f *File, err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &FileError{File: f.Name, Message: err.Error()}
	}
	fe := &FileError{File: f.Name, SQLState: pe.Code, Message: pe.Message, Detail: pe.Detail, Hint: pe.Hint}
	bodyChars := utf8.RuneCountInString(f.Body)
	if pe.Position > 0 {
		p := int(pe.Position) - 1 - len(txPrefix)
		if p >= 0 && p <= bodyChars {
			off := runeOffset(f.Body, p)
			fe.Line, fe.Col = LineCol(f.Body, off)
			fe.Statement = statementAt(f.Statements, off)
			return fe
		}
		fe.InTracking = true
		return fe
	}
	if pe.Code == "55P03" || s.conn.PgConn().IsClosed() {
		return fe
	}
	idx, dpe := s.locate(ctx, f)
	switch {
	case idx < 0:
		fe.InTracking = true
	default:
		st := f.Statements[idx]
		fe.Statement = idx + 1
		fe.Line, fe.Col = st.Line, st.Col
		if dpe != nil && dpe.Position > 0 {
			fe.Line, fe.Col = LineCol(f.Body, st.Offset+runeOffset(st.Text, int(dpe.Position)-1))
		}
	}
	return fe
}

// locate replays f's statements one by one in a transaction that is always
// rolled back, and returns the index of the first that fails (-1: none).
func (s *session) locate(ctx context.Context, f *File) (int, *pgconn.PgError) {
	pc := s.conn.PgConn()
	if _, err := pc.Exec(ctx, "BEGIN").ReadAll(); err != nil {
		return -1, nil
	}
	defer s.rollback(ctx)
	for i, st := range f.Statements {
		if st.Empty() {
			continue
		}
		if _, err := pc.Exec(ctx, st.Text).ReadAll(); err != nil {
			var pe *pgconn.PgError
			errors.As(err, &pe)
			return i, pe
		}
	}
	return -1, nil
}

// runeOffset returns the byte offset of the n-th character of s.
func runeOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

func statementAt(stmts []Statement, off int) int {
	for i, st := range stmts {
		if off >= st.Offset && off < st.Offset+len(st.Text) {
			return i + 1
		}
	}
	return len(stmts)
}

func (r *Runner) partialDDL() string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (filename text PRIMARY KEY, sha256 text NOT NULL, statements_done integer NOT NULL, "+
		"failed_statement integer, failed_line integer, error text, updated_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'));\n", r.partialIdent())
}

// applyNoTx runs a marked file statement by statement, each its own call
// on the pinned connection (so CREATE INDEX CONCURRENTLY works). Progress
// is recorded after every statement in the _partial table, so a failure or
// a killed process leaves a visible, resumable record instead of a silent
// half-applied file.
func (s *session) applyNoTx(ctx context.Context, f *File, prior *Failure) (FileResult, error) {
	r := s.r
	pc := s.conn.PgConn()
	setup := "BEGIN;\n" + r.ensureTableSQL() + r.partialDDL() + "COMMIT;"
	if _, err := pc.Exec(ctx, setup).ReadAll(); err != nil {
		s.rollback(ctx)
		return FileResult{}, dbErr("creating the tracking tables", err)
	}
	first := 0
	if prior != nil && r.cfg.resume {
		first = prior.StatementsDone
	}
	if err := s.progress(ctx, f, first, 0, 0, ""); err != nil {
		return FileResult{}, err
	}
	start := time.Now()
	n := 0
	for i := first; i < len(f.Statements); i++ {
		st := f.Statements[i]
		if st.Empty() {
			continue
		}
		if err := s.execRetry(ctx, f.Name, st.Text); err != nil {
			fe := &FileError{File: f.Name, Statement: i + 1, Line: st.Line, Col: st.Col, NoTransaction: true, Message: err.Error()}
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				fe.SQLState, fe.Message, fe.Detail, fe.Hint = pe.Code, pe.Message, pe.Detail, pe.Hint
				if pe.Position > 0 {
					fe.Line, fe.Col = LineCol(f.Body, st.Offset+runeOffset(st.Text, int(pe.Position)-1))
				}
			} else if ctx.Err() != nil {
				return FileResult{}, ctx.Err()
			}
			fe.InvalidIndexes = s.invalidIndexes(ctx)
			msg := fe.Message
			if fe.SQLState != "" {
				msg = fe.SQLState + ": " + msg
			}
			if perr := s.progress(ctx, f, i, i+1, fe.Line, msg); perr != nil {
				return FileResult{}, errors.Join(fe, perr)
			}
			return FileResult{}, fe
		}
		n++
		if err := s.progress(ctx, f, i+1, 0, 0, ""); err != nil {
			return FileResult{}, err
		}
		r.emit(Event{Kind: EventStatementDone, File: f.Name, Statement: i + 1})
	}
	d := time.Since(start)
	done := "BEGIN;\n" + r.insertSQL(f, HowExecuted, fmt.Sprintf("%g", ms(d))) + ";\n" +
		"DELETE FROM " + r.partialIdent() + " WHERE filename = " + literal(f.Name) + ";\nCOMMIT;"
	if _, err := pc.Exec(ctx, done).ReadAll(); err != nil {
		s.rollback(ctx)
		return FileResult{}, dbErr("recording "+f.Name, err)
	}
	return FileResult{Filename: f.Name, NoTransaction: true, Duration: d, DurationMS: ms(d), Statements: n}, nil
}

func (s *session) execRetry(ctx context.Context, file, sql string) error {
	for attempt := 0; ; attempt++ {
		_, err := s.conn.PgConn().Exec(ctx, sql).ReadAll()
		if err == nil {
			return nil
		}
		s.rollback(ctx)
		if !lockNotAvailable(err) || attempt >= s.r.cfg.lockRetries {
			return err
		}
		if werr := s.backoff(ctx, file, attempt, err); werr != nil {
			return werr
		}
	}
}

// progress upserts the _partial row of a non-transactional file.
func (s *session) progress(ctx context.Context, f *File, done, failed, line int, msg string) error {
	q := fmt.Sprintf("INSERT INTO %s (filename, sha256, statements_done, failed_statement, failed_line, error, updated_at) "+
		"VALUES (%s, %s, %d, %s, %s, %s, now() AT TIME ZONE 'UTC') ON CONFLICT (filename) DO UPDATE SET "+
		"sha256 = excluded.sha256, statements_done = excluded.statements_done, failed_statement = excluded.failed_statement, "+
		"failed_line = excluded.failed_line, error = excluded.error, updated_at = excluded.updated_at",
		s.r.partialIdent(), literal(f.Name), literal(f.SHA256), done, nullInt(failed), nullInt(line), nullable(msg))
	if _, err := s.conn.PgConn().Exec(ctx, q).ReadAll(); err != nil {
		return dbErr("recording progress of "+f.Name, err)
	}
	return nil
}

func nullInt(n int) string {
	if n == 0 {
		return "NULL"
	}
	return fmt.Sprint(n)
}

func (s *session) invalidIndexes(ctx context.Context) []string {
	rows, err := s.conn.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE NOT i.indisvalid ORDER BY 1`)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if rows.Scan(&n) == nil {
			out = append(out, n)
		}
	}
	return out
}
