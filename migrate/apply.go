package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
)

// txPrefix opens each file's transaction in a batch. Error positions are
// reported in characters of the whole batch; buildBatch records where each
// body starts so they map back to the file.
const txPrefix = "BEGIN;\n"

// Durability. A file's commit in a batch need not wait for its WAL flush:
// a crash can only lose a suffix of files, each together with its tracking
// row (WAL is sequential). The last file of every batch commits under the
// session's own synchronous_commit (raised to on when that is off or
// local), and its commit flushes, and replicates where synchronous
// replication is set up, every earlier commit of the batch: a commit waits
// for WAL up to its own record. Nothing is reported applied before that.
//
// The setting is written after the file's body, so that a file's own SET,
// SET LOCAL or RESET ALL cannot weaken it.

// durableSetting is the synchronous_commit meshctl's durable commits use:
// the session's own when it flushes locally (on, remote_write,
// remote_apply: never weaker than what the server was configured for),
// else on.
func durableSetting(server string) string {
	switch server {
	case "on", "remote_write", "remote_apply":
		return server
	}
	return "on"
}

func syncCommitSQL(setting string) string {
	return "SET LOCAL synchronous_commit = " + setting + ";\n"
}

// flushSQL makes every commit so far durable with a transaction that
// writes WAL of its own (a commit without WAL, such as BEGIN; SELECT
// txid_current(); COMMIT, does not wait for any flush): it inserts a row
// into the tracking table in a subtransaction that it rolls back, so
// nobody ever sees the row, and commits under the durable setting. It
// needs nothing but the INSERT privilege every run needs.
func (r *Runner) flushSQL(setting string) string {
	return "BEGIN;\n" + syncCommitSQL(setting) + "SAVEPOINT meshctl_flush;\n" +
		"INSERT INTO " + r.tableIdent() + " (filename, sha256) VALUES (E' meshctl durability probe', '');\n" +
		"ROLLBACK TO SAVEPOINT meshctl_flush;\nCOMMIT;"
}

// flush makes the files committed so far durable.
func (s *session) flush(ctx context.Context) error {
	if _, err := s.conn.PgConn().Exec(ctx, s.r.flushSQL(s.durable)).ReadAll(); err != nil {
		s.rollback(ctx)
		return dbErr("flushing the applied files to disk", err)
	}
	return nil
}

// fileStartSQL marks when a file's transaction starts. now() cannot be
// used: PostgreSQL sets it once per query message, so in a batch every
// file would measure from the batch's start.
const fileStartSQL = "SELECT set_config('meshctl.file_start', clock_timestamp()::text, true);\n"

// durationSQL is the body's server-side run time: from fileStartSQL to the
// moment the tracking row is written. A file may reset the setting (RESET
// ALL): the duration is then unknown (NULL), and nothing else depends on it.
const durationSQL = "extract(epoch from clock_timestamp() - nullif(current_setting('meshctl.file_start', true), '')::timestamptz) * 1000"

// scsSQL re-asserts standard_conforming_strings: a file that turns it off
// would otherwise change how the server reads the next query message,
// which meshctl's lexer reads with it on. (A query message is parsed whole
// on arrival, so the files of one batch are read alike.)
const scsSQL = "SET standard_conforming_strings = on;\n"

// sessionSQL re-asserts, after every file, the session settings meshctl
// relies on, so that a file's SET or RESET ALL cannot carry over to the
// next file.
func (r *Runner) sessionSQL() string { return scsSQL + r.timeoutsSQL() }

// timeoutsSQL re-asserts the timeouts; also after every statement of a
// non-transactional file (whose own SET standard_conforming_strings holds
// for its later statements, as it would in psql; lint reads them so).
// Without a statement timeout of the runner's own, statement_timeout is
// RESET to the session's default (the role's, the database's, the
// server's), never SET to 0: that would switch off a timeout the
// operator configured, and undo nothing a file's own SET did.
func (r *Runner) timeoutsSQL() string {
	st := "RESET statement_timeout;\n"
	if d := r.cfg.statementTimeout; d > 0 {
		// At least 1 ms: SET statement_timeout = 0 would disable it.
		st = fmt.Sprintf("SET statement_timeout = %d;\n", max(d.Milliseconds(), 1))
	}
	return fmt.Sprintf("SET lock_timeout = %d;\n", r.cfg.lockTimeout.Milliseconds()) + st
}

// applyBatch runs consecutive transactional files as one simple-protocol
// query: for each file BEGIN; body; [create tracking table]; tracking
// INSERT; COMMIT. Each file is still its own transaction, committed with
// its tracking row; on an error PostgreSQL skips the rest of the query, so
// the files before the failing one stay committed, the failing one rolls
// back, and later ones never start. One round trip covers the whole batch.
// It returns the files committed, also when it fails.
func (s *session) applyBatch(ctx context.Context, files []*File, tableExists bool) ([]FileResult, error) {
	done, err := s.runBatch(ctx, files, tableExists)
	var cl *ConnectionLostError
	if err != nil && len(done) > 0 && !errors.As(err, &cl) {
		// The last committed file was committed asynchronously: make it
		// durable before it is reported, also when the run was interrupted.
		fctx, cancel := ctx, context.CancelFunc(func() {})
		if ctx.Err() != nil {
			fctx, cancel = cleanupCtx(ctx)
		}
		ferr := s.flush(fctx)
		cancel()
		if ferr != nil {
			names := make([]string, len(done))
			for i, d := range done {
				names[i] = d.Filename
			}
			return nil, errors.Join(err, &DurabilityError{Files: names, Err: ferr})
		}
	}
	return done, err
}

func (s *session) runBatch(ctx context.Context, files []*File, tableExists bool) ([]FileResult, error) {
	var done []FileResult
	for attempt := 0; ; {
		b := s.buildBatch(files, tableExists)
		start := time.Now()
		results, err := s.conn.PgConn().Exec(ctx, b.sql).ReadAll()
		elapsed := time.Since(start)
		if err != nil && ctx.Err() == nil && s.conn.PgConn().IsClosed() {
			// The server's answers for the files that committed may never
			// have arrived: ask the database, from a new connection.
			more, lost := s.r.afterLostConnection(ctx, s, files, err)
			return append(done, more...), lost
		}
		committed, rolledBack, known := committedFiles(results, b.commitAt)
		if !known {
			// The results did not line up with the batch's statements
			// (cannot happen while the lexer cuts files as the server
			// does): the tracking table says which files committed.
			s.rollback(ctx)
			var terr error
			if committed, terr = s.committedInTable(ctx, files); terr != nil {
				return done, errors.Join(err, terr)
			}
			rolledBack = false
		}
		for k, d := range committed {
			fr := FileResult{Filename: files[k].Name, DurationMS: d, Duration: time.Duration(d * float64(time.Millisecond))}
			if len(files) == 1 {
				fr.Duration, fr.DurationMS = elapsed, ms(elapsed)
			}
			done = append(done, fr)
		}
		if err == nil && !rolledBack && len(committed) == len(files) {
			return done, nil
		}
		if err == nil {
			// No error reached us, yet a file did not commit: its COMMIT
			// was answered with ROLLBACK.
			s.rollback(ctx)
			return done, &FileError{File: files[len(committed)].Name, Message: "its COMMIT was answered with ROLLBACK (the transaction had failed)"}
		}
		s.rollback(ctx)
		if len(committed) > 0 {
			tableExists = true
		}
		failed := len(committed)
		if failed >= len(files) {
			// Everything committed; the error came after (cannot happen
			// with a well-formed batch, but never blame a committed file).
			return done, dbErr("finishing the batch", err)
		}
		if lockNotAvailable(err) && attempt < s.r.cfg.lockRetries {
			if werr := s.backoff(ctx, files[failed].Name, attempt, err); werr != nil {
				return done, werr
			}
			files = files[failed:]
			attempt++
			continue
		}
		// A syntax error rejects the whole query before anything runs; its
		// position names the file at fault, and the files before it are
		// sent again on their own.
		if k := b.segmentAt(err); k > failed {
			more, err2 := s.runBatch(ctx, files[failed:k], tableExists)
			done = append(done, more...)
			if err2 != nil {
				return done, err2
			}
			failed = k
		}
		return done, s.txFileError(ctx, files[failed], err, b.bodyStart[failed], b.failedStatement(results, failed, files[failed]))
	}
}

// segmentAt returns the index of the file whose segment holds the error
// position, or -1.
func (b batch) segmentAt(err error) int {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Position <= 0 {
		return -1
	}
	p := int(pe.Position) - 1
	for k := 0; k+1 < len(b.segStart); k++ {
		if p >= b.segStart[k] && p < b.segStart[k+1] {
			return k
		}
	}
	return -1
}

type batch struct {
	sql                 string
	segStart, bodyStart []int // character offsets of each file's segment and body
	// commitAt is the index, among the query's results, of each file's
	// own COMMIT: every statement of the batch that is not empty yields
	// exactly one result, in order, up to the first error. bodyAt is
	// the index of the result of each file's first statement.
	commitAt, bodyAt []int
}

// failedStatement returns the index in f.Statements() of the statement
// that failed (file k of b), read from the results that came back before
// the error: a statement that fails before sending rows yields no result,
// one that fails while sending them yields a result carrying the error.
// It returns afterBody when the failure is in the runner's SQL after f's
// body (the tracking row), and -1 when the results cannot say.
func (b batch) failedStatement(results []*pgconn.Result, k int, f *File) int {
	n := len(results)
	if n > 0 && results[n-1].Err != nil {
		n--
	}
	n -= b.bodyAt[k] // among f's non-empty statements
	if n < 0 {
		return -1
	}
	for i, st := range f.Statements() {
		if st.Empty() {
			continue
		}
		if n == 0 {
			return i
		}
		n--
	}
	return afterBody
}

// afterBody: the failure is in the runner's SQL after the file's body.
const afterBody = -2

// resultCount is the number of results the server returns for sql: one
// per statement that is not empty.
func resultCount(stmts []Statement) int {
	n := 0
	for _, st := range stmts {
		if !st.Empty() {
			n++
		}
	}
	return n
}

// ownResults counts the results of the runner's own SQL.
func ownResults(sql string) int {
	stmts, _ := splitStatements(sql)
	return resultCount(stmts)
}

// buildBatch writes the query for consecutive transactional files. All
// but the last commit with synchronous_commit off; the last commits under
// durable, which flushes them all (see durableSetting).
func (s *session) buildBatch(files []*File, tableExists bool) batch {
	r := s.r
	var b strings.Builder
	out := batch{}
	chars, results := 0, 0
	write := func(s string) {
		b.WriteString(s)
		chars += utf8.RuneCountInString(s)
		results += ownResults(s)
	}
	for k, f := range files {
		out.segStart = append(out.segStart, chars)
		write(txPrefix)
		write(fileStartSQL)
		out.bodyStart = append(out.bodyStart, chars)
		out.bodyAt = append(out.bodyAt, results)
		b.WriteString(f.Body)
		chars += utf8.RuneCountInString(f.Body)
		results += resultCount(f.Statements())
		// The newline ends a trailing line comment; the ';' ends a last
		// statement written without one (an empty statement otherwise,
		// which yields no result).
		b.WriteString("\n;\n")
		chars += 3
		if !tableExists {
			// Created after the body, inside the same transaction: on an
			// empty database the first file may itself CREATE SCHEMA "mesh".
			write(r.ensureTableSQL())
			tableExists = true
		}
		if k == len(files)-1 {
			write(syncCommitSQL(s.durable))
		} else {
			write(syncCommitSQL("off"))
		}
		write(s.rowSQL(f, HowExecuted, durationSQL, false) + ";\n")
		out.commitAt = append(out.commitAt, results)
		write("COMMIT;\n")
		write(r.sessionSQL())
	}
	out.segStart = append(out.segStart, chars)
	out.sql = b.String()
	return out
}

// committedFiles reads, from the results of a batch, the server-side
// duration of each committed file. A file's own COMMIT is found by its
// position (commitAt), never by the shape of the results around it: a
// file's ROLLBACK TO SAVEPOINT also answers "ROLLBACK", and its own
// INSERT ... RETURNING can look like the tracking row's. The result
// before the COMMIT is the tracking INSERT ... RETURNING duration_ms.
// rolledBack reports a file's COMMIT answered with ROLLBACK (its
// transaction had failed without an error reaching the client): that
// file is not applied. known is false when a result at a COMMIT's
// position is something else: the count disagreed with the server.
func committedFiles(results []*pgconn.Result, commitAt []int) (durations []float64, rolledBack, known bool) {
	for _, at := range commitAt {
		if at >= len(results) || results[at].Err != nil {
			break
		}
		switch results[at].CommandTag.String() {
		case "COMMIT":
		case "ROLLBACK":
			return durations, true, true
		default:
			return durations, false, false
		}
		var d float64
		if ins := results[at-1]; ins.CommandTag.Insert() && len(ins.Rows) == 1 && len(ins.Rows[0]) == 1 {
			d, _ = strconv.ParseFloat(string(ins.Rows[0][0]), 64)
		}
		durations = append(durations, d)
	}
	return durations, false, true
}

// committedInTable reads which of a batch's files committed from the
// tracking table (the connection outside any transaction): each file was
// pending before the batch, under the lock, so a row with its sha256
// means its transaction committed. The durations are unknown (0).
func (s *session) committedInTable(ctx context.Context, files []*File) ([]float64, error) {
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = literal(f.Name)
	}
	rows, err := s.rawRows(ctx, "SELECT filename, sha256 FROM "+s.r.tableIdent()+" WHERE filename IN ("+strings.Join(names, ", ")+")")
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" {
		return nil, nil // no table: the first file, which creates it, did not commit
	}
	if err != nil {
		return nil, dbErr("reading which files of the batch committed", err)
	}
	have := map[string]string{}
	for _, row := range rows {
		have[string(row[0])] = string(row[1])
	}
	var out []float64
	for _, f := range files {
		if have[f.Name] != f.SHA256 {
			break
		}
		out = append(out, 0)
	}
	return out, nil
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
// while executing (no position) are located by the failed result's place
// among the batch's results (failed: the statement's index, -1 if the
// results do not say); only when that fails is the file replayed
// statement by statement inside a transaction that is rolled back (which
// repeats effects no rollback undoes, such as nextval).
func (s *session) txFileError(ctx context.Context, f *File, err error, bodyStart, failed int) error {
	// A cancelled context reaches the server as a cancel request (see
	// dbconn), so the error is 57014 or a network error: either way it is
	// the interruption, not the file, and the file rolled back.
	if ctx.Err() != nil {
		return &InterruptedError{File: f.Name, Err: ctx.Err()}
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return &FileError{File: f.Name, Message: err.Error()}
	}
	fe := &FileError{File: f.Name, SQLState: pe.Code, Message: s.r.message(pe.Message), Detail: s.r.detail(pe.Detail), Hint: pe.Hint}
	bodyChars := utf8.RuneCountInString(f.Body)
	if pe.Position > 0 {
		p := int(pe.Position) - 1 - bodyStart
		// Up to the "\n;\n" written after the body, the error is the
		// file's: e.g. an unclosed parenthesis found at that ';'.
		if p >= 0 && p <= bodyChars+3 {
			off := runeOffset(f.Body, min(p, bodyChars))
			fe.Line, fe.Col = lineCol(f.Body, off)
			fe.Statement = statementAt(f.Statements(), off)
			return fe
		}
		fe.InTracking = true
		return fe
	}
	if pe.Code == "55P03" || s.conn.PgConn().IsClosed() {
		return fe
	}
	switch {
	case failed >= 0:
		st := f.Statements()[failed]
		fe.Statement, fe.Line, fe.Col = failed+1, st.Line, st.Col
		return fe
	case failed == afterBody:
		fe.InTracking = true
		return fe
	}
	idx, dpe := s.locate(ctx, f)
	switch {
	case idx < 0:
		fe.InTracking = true
	default:
		st := f.Statements()[idx]
		fe.Statement = idx + 1
		fe.Line, fe.Col = st.Line, st.Col
		if dpe != nil && dpe.Position > 0 {
			fe.Line, fe.Col = lineCol(f.Body, st.Offset+runeOffset(st.Text, int(dpe.Position)-1))
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
	for i, st := range f.Statements() {
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
	if err := s.ensureTrackingTables(ctx); err != nil {
		return FileResult{}, err
	}
	first, resuming := 0, prior != nil && s.r.cfg.resume
	if resuming {
		first = prior.StatementsDone
		// Before the progress row is touched: a refused or failed replay
		// leaves the recorded failure as it was.
		if err := s.replaySession(ctx, f, first); err != nil {
			return FileResult{}, err
		}
	}
	if err := s.progress(ctx, f, first, 0, 0, ""); err != nil {
		return FileResult{}, err
	}
	start := time.Now()
	n := 0
	for i := first; i < len(f.Statements()); i++ {
		if f.Statements()[i].Empty() {
			continue
		}
		if resuming && i == first {
			there, err := s.resumedStatementInEffect(ctx, f, i)
			if err != nil {
				return FileResult{}, err
			}
			if there {
				n++
				continue
			}
		}
		if err := s.execNoTxStatement(ctx, f, i); err != nil {
			return FileResult{}, err
		}
		n++
		if err := s.progress(ctx, f, i+1, 0, 0, ""); err != nil {
			return FileResult{}, err
		}
		s.r.emit(Event{Kind: EventStatementDone, File: f.Name, Statement: i + 1})
	}
	d := time.Since(start)
	if err := s.recordNoTx(ctx, f, d); err != nil {
		return FileResult{}, err
	}
	return FileResult{Filename: f.Name, NoTransaction: true, Duration: d, DurationMS: ms(d), Statements: n}, nil
}

// ensureTrackingTables creates the tracking table and the progress table
// of no-transaction files, if missing, in a transaction of their own: a
// no-transaction file's statements run outside any transaction, and its
// progress must be recordable after each one.
func (s *session) ensureTrackingTables(ctx context.Context) error {
	setup := scsSQL + "BEGIN;\n"
	if !s.info.tableExists {
		setup += s.r.ensureTableSQL()
	}
	if !s.info.partialExists {
		setup += s.r.partialDDL()
	}
	if _, err := s.conn.PgConn().Exec(ctx, setup+"COMMIT;").ReadAll(); err != nil {
		s.rollback(ctx)
		return dbErr("creating the tracking tables", err)
	}
	s.info.tableExists, s.info.partialExists = true, true
	return nil
}

// resumedStatementInEffect reports whether statement i, the one a
// resumed file stopped at, took effect before meshctl could record it (a
// CONCURRENTLY build that finished, say); if so it is marked done.
func (s *session) resumedStatementInEffect(ctx context.Context, f *File, i int) (bool, error) {
	there, err := s.effectThere(ctx, f, i)
	if err != nil {
		if perr := s.progress(ctx, f, i, i+1, f.Statements()[i].Line, err.Error()); perr != nil {
			return false, errors.Join(err, perr)
		}
		return false, err
	}
	if !there {
		return false, nil
	}
	if err := s.progress(ctx, f, i+1, 0, 0, ""); err != nil {
		return false, err
	}
	s.r.emit(Event{Kind: EventStatementDone, File: f.Name, Statement: i + 1, Message: "already in effect"})
	return true, nil
}

// execNoTxStatement runs statement i of a no-transaction file on its own
// and turns a failure into the error that says how far the file got: a
// lost connection, an interruption, or the statement's own error, each
// with its progress recorded for status and --resume.
func (s *session) execNoTxStatement(ctx context.Context, f *File, i int) error {
	r, pc, st := s.r, s.conn.PgConn(), f.Statements()[i]
	// A CONCURRENTLY build waits, by design, for every transaction that
	// could see the table; lock_timeout would cancel it and leave an
	// invalid index, so it runs without one (statement_timeout still
	// applies). Separate calls: a multi-statement query is an implicit
	// transaction block, where CONCURRENTLY is refused.
	cic := shapeOf(st.tokens).concurrently
	// Only a CONCURRENTLY build can leave an invalid index behind;
	// the ones already there are someone else's (a failed or running
	// build) and must not be reported as this file's to drop.
	var invalidBefore []string
	if cic {
		invalidBefore = s.invalidIndexes(ctx)
		if _, err := pc.Exec(ctx, "SET lock_timeout = 0").ReadAll(); err != nil {
			return dbErr("clearing lock_timeout", err)
		}
	}
	stopWatch := s.watch(ctx, f, i+1)
	err := s.execRetry(ctx, f.Name, st.Text)
	stopWatch()
	if err != nil && ctx.Err() == nil && pc.IsClosed() {
		_, lost := r.afterLostConnection(ctx, s, []*File{f}, err)
		if cl, ok := lost.(*ConnectionLostError); ok {
			cl.NoTransaction, cl.Statement = true, i+1
		}
		return lost
	}
	if cic {
		if _, rerr := pc.Exec(ctx, fmt.Sprintf("SET lock_timeout = %d", r.cfg.lockTimeout.Milliseconds())).ReadAll(); rerr != nil && err == nil {
			return dbErr("restoring lock_timeout", rerr)
		}
	}
	if err == nil {
		return s.checkNoTxBlockClosed(ctx, f, i)
	}
	if ctx.Err() != nil {
		// Interrupted, not failed: record how far the file got (with a
		// context that still works) so status shows it and --resume
		// continues at this statement.
		cctx, cancel := cleanupCtx(ctx)
		defer cancel()
		ie := &InterruptedError{File: f.Name, NoTransaction: true, Statement: i + 1, Err: ctx.Err()}
		if cic {
			ie.InvalidIndexes = newInvalid(invalidBefore, s.invalidIndexes(cctx))
		}
		if perr := s.progress(cctx, f, i, 0, 0, ""); perr != nil {
			return errors.Join(ie, perr)
		}
		return ie
	}
	fe := r.noTxFileError(f, i, err)
	if cic {
		fe.InvalidIndexes = newInvalid(invalidBefore, s.invalidIndexes(ctx))
	}
	msg := fe.Message
	if fe.SQLState != "" {
		msg = fe.SQLState + ": " + msg
	}
	if perr := s.progress(ctx, f, i, i+1, fe.Line, msg); perr != nil {
		return errors.Join(fe, perr)
	}
	return fe
}

// checkNoTxBlockClosed enforces, after statement i of a no-transaction
// file succeeded, that the connection is outside any transaction block.
// Lint refuses transaction control in such files; this is the defence
// behind it: progress is recorded after each statement, and a record
// written inside the file's own transaction block would roll back with a
// later failure while the file's progress claimed otherwise. The block is
// rolled back (statement i's effect with it), and the failure recorded at
// statement i, so nothing after it counts as done.
func (s *session) checkNoTxBlockClosed(ctx context.Context, f *File, i int) error {
	if st := s.conn.PgConn().TxStatus(); st == 'I' {
		return nil
	}
	s.rollback(ctx)
	st := f.Statements()[i]
	fe := &FileError{File: f.Name, Statement: i + 1, Line: st.Line, Col: st.Col, NoTransaction: true,
		Message: "the statement left a transaction block open, which a no-transaction file must not do (it was rolled back)"}
	if perr := s.progress(ctx, f, i, i+1, fe.Line, fe.Message); perr != nil {
		return errors.Join(fe, perr)
	}
	return fe
}

// noTxFileError is the FileError of statement i of a no-transaction file,
// with PostgreSQL's fields and the error position mapped to the file.
func (r *Runner) noTxFileError(f *File, i int, err error) *FileError {
	st := f.Statements()[i]
	fe := &FileError{File: f.Name, Statement: i + 1, Line: st.Line, Col: st.Col, NoTransaction: true, Message: err.Error()}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		fe.SQLState, fe.Message, fe.Detail, fe.Hint = pe.Code, r.message(pe.Message), r.detail(pe.Detail), pe.Hint
		if pe.Position > 0 {
			fe.Line, fe.Col = lineCol(f.Body, st.Offset+runeOffset(st.Text, int(pe.Position)-1))
		}
	}
	return fe
}

// recordNoTx records a finished no-transaction file and drops its
// progress row in one durable transaction, then restores the session.
func (s *session) recordNoTx(ctx context.Context, f *File, d time.Duration) error {
	r := s.r
	done := "BEGIN;\n" + syncCommitSQL(s.durable) + s.rowSQL(f, HowExecuted, fmt.Sprintf("%g", ms(d)), false) + ";\n" +
		"DELETE FROM " + r.partialIdent() + " WHERE filename = " + literal(f.Name) + ";\nCOMMIT;\n" + r.sessionSQL()
	if _, err := s.conn.PgConn().Exec(ctx, done).ReadAll(); err != nil {
		s.rollback(ctx)
		return dbErr("recording "+f.Name, err)
	}
	return nil
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
		s.r.partialIdent(), literal(f.Name), literal(f.SHA256), done, nullInt(failed), nullInt(line), nullable(msg)) + ";\n" + s.r.timeoutsSQL()
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

// invalidIndexes lists the database's invalid indexes (nil if it cannot).
func (s *session) invalidIndexes(ctx context.Context) []string {
	rows, err := s.rawRows(ctx, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE NOT i.indisvalid ORDER BY 1`)
	if err != nil {
		return nil
	}
	var out []string
	for _, row := range rows {
		out = append(out, string(row[0]))
	}
	return out
}

// rawRows runs the runner's own query q on the session's connection as
// one simple-protocol message and returns the rows of its last result.
// Between the statements of a no-transaction file, the file may have
// turned standard_conforming_strings off, and pgx then refuses every
// simple-protocol Query and Exec of its own; the raw form reads the same
// with the setting on or off as long as q writes its values as literal()
// (E'...') strings, which every caller must.
func (s *session) rawRows(ctx context.Context, q string) ([][][]byte, error) {
	results, err := s.conn.PgConn().Exec(ctx, q).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(results) == 0 {
		return nil, nil
	}
	return results[len(results)-1].Rows, nil
}

// newInvalid returns the names in after that are not in before.
func newInvalid(before, after []string) []string {
	var out []string
	for _, n := range after {
		if !slices.Contains(before, n) {
			out = append(out, n)
		}
	}
	return out
}
