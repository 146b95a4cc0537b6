package migrate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// session is one pinned connection for the length of an operation.
type session struct {
	r      *Runner
	conn   *pgx.Conn
	own    bool
	pid    uint32
	locked bool
	// info and extras: the tracking tables, the role's privileges on them,
	// and where meshctl's extras go (set by probe).
	info   trackingInfo
	extras extrasMode
	// durable is the synchronous_commit of commits that must be durable
	// (see durableSetting); backendStart identifies this backend with pid.
	durable, backendStart string
}

func (r *Runner) open(ctx context.Context) (*session, error) {
	s := &session{r: r, conn: r.conn}
	if s.conn == nil {
		c, err := r.connect(ctx)
		if err != nil {
			return nil, err
		}
		s.conn, s.own = c, true
	}
	// The lexer that splits and lints files reads strings as PostgreSQL
	// does with standard_conforming_strings on (the default since 9.1). A
	// database or role that turns it off would make the server end a
	// string elsewhere, so lint could miss a statement (even a COMMIT).
	// The session's own synchronous_commit is read once, before any file
	// can change it, for the commits that must be durable.
	q := scsSQL + "SELECT current_setting('synchronous_commit'), backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()"
	results, err := s.conn.PgConn().Exec(ctx, q).ReadAll()
	if err != nil {
		s.close(ctx)
		return nil, dbErr("setting standard_conforming_strings", err)
	}
	s.durable = "on"
	if rows := results[len(results)-1].Rows; len(rows) == 1 {
		s.durable, s.backendStart = durableSetting(string(rows[0][0])), string(rows[0][1])
	}
	return s, nil
}

func (s *session) close(ctx context.Context) {
	if s.locked {
		// A fresh context: the caller's may be cancelled, and an unlock
		// that is not sent would hold the lock until the session ends.
		uctx, cancel := cleanupCtx(ctx)
		// Raw: a failed no-transaction file may have left
		// standard_conforming_strings off, and pgx would then refuse to
		// send its own simple-protocol query.
		_, _ = s.rawRows(uctx, fmt.Sprintf("SELECT pg_advisory_unlock(%d)", s.r.cfg.lockKey))
		cancel()
		s.locked = false
	}
	if s.own {
		cctx, cancel := cleanupCtx(ctx)
		_ = s.conn.Close(cctx)
		cancel()
	}
}

// cleanupCtx is for work that must happen even when ctx is cancelled
// (unlock, rollback, close): ctx's values without its cancellation, bounded
// so that a dead server cannot hang the exit.
func cleanupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
}

// checkPinned refuses a connection that does not own its backend. A pid
// that changes between statements proves a transaction pooler, but an idle
// one (PgBouncer) hands the same server connection back every time, so that
// alone never trips. Instead a second connection opens a transaction and
// holds it while this one asks for its pid again: a session of its own
// (direct, or a session-mode pool) keeps its backend and never shares it,
// while a transaction pooler gives the second connection the backend this
// one just released, or moves this one elsewhere.
func (s *session) checkPinned(ctx context.Context) error {
	p1, err := s.backendPID(ctx, s.conn)
	if err != nil {
		return err
	}
	if s.pid != 0 && p1 != s.pid {
		return &PoolerError{}
	}
	s.pid = p1
	other, q, err := s.otherBackend(ctx)
	if err != nil {
		// Inconclusive (max_connections reached, a full session pool):
		// the pid checks around the lock remain.
		s.r.emit(Event{Kind: EventWarning, Message: "could not check for a transaction pooler with a second connection (" + err.Error() + "); relying on the backend pid alone"})
		return nil
	}
	defer closeQuietly(ctx, other)
	if q == p1 {
		return &PoolerError{}
	}
	p2, err := s.backendPID(ctx, s.conn)
	if err != nil {
		return err
	}
	if p2 != p1 {
		return &PoolerError{}
	}
	return nil
}

// pinCheckWait bounds how long the second connection of checkPinned may
// wait for a backend: a full session pool would queue it for minutes.
const pinCheckWait = 3 * time.Second

// otherBackend opens a second connection, begins a transaction there and
// returns the connection, still in that transaction (so it holds its
// backend), and the backend's pid. The caller closes it.
func (s *session) otherBackend(ctx context.Context) (*pgx.Conn, uint32, error) {
	octx, cancel := context.WithTimeout(ctx, pinCheckWait)
	defer cancel()
	other, err := s.connectAgain(octx)
	if err != nil {
		return nil, 0, err
	}
	var pid uint32
	if _, err = other.Exec(octx, "BEGIN", pgx.QueryExecModeSimpleProtocol); err == nil {
		err = other.QueryRow(octx, "SELECT pg_backend_pid()", pgx.QueryExecModeSimpleProtocol).Scan(&pid)
	}
	if err != nil {
		closeQuietly(ctx, other)
		return nil, 0, err
	}
	return other, pid, nil
}

func closeQuietly(ctx context.Context, c *pgx.Conn) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	_ = c.Close(cctx)
	cancel()
}

func (s *session) backendPID(ctx context.Context, c *pgx.Conn) (uint32, error) {
	var pid uint32
	if err := c.QueryRow(ctx, "SELECT pg_backend_pid()", pgx.QueryExecModeSimpleProtocol).Scan(&pid); err != nil {
		return 0, dbErr("checking for a transaction pooler", err)
	}
	return pid, nil
}

// connectAgain opens a second connection to the same database, the way the
// session's own was opened.
func (s *session) connectAgain(ctx context.Context) (*pgx.Conn, error) {
	if s.r.connect != nil {
		return s.r.connect(ctx)
	}
	return pgx.ConnectConfig(ctx, s.conn.Config())
}

// setTimeouts applies lock_timeout and statement_timeout to the session so
// they cover every statement of every file.
func (s *session) setTimeouts(ctx context.Context) error {
	if _, err := s.conn.PgConn().Exec(ctx, s.r.sessionSQL()).ReadAll(); err != nil {
		return dbErr("setting timeouts", err)
	}
	return nil
}

func dbErr(op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return &DBError{Op: op, SQLState: pe.Code, Message: pe.Message}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &DBError{Op: op, Message: err.Error()}
}

func (s *session) rollback(ctx context.Context) {
	if s.conn.PgConn().IsClosed() || s.conn.PgConn().TxStatus() == 'I' {
		return
	}
	rctx, cancel := cleanupCtx(ctx)
	defer cancel()
	_, _ = s.conn.PgConn().Exec(rctx, "ROLLBACK").ReadAll()
}
