package migrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/claudemesh/meshctl/meshfmt"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultTable is upstream's tracking table.
const DefaultTable = "mesh.__cmh_migrations"

// Defaults for the lock and timeouts.
const (
	DefaultLockWait    = 60 * time.Second
	DefaultLockPoll    = 200 * time.Millisecond
	DefaultLockTimeout = 5 * time.Second
	DefaultLockRetries = 3
	// Consecutive transactional files are sent together, up to these
	// limits, each still its own transaction (see WithBatch).
	DefaultBatchFiles = 50
	DefaultBatchBytes = 1 << 20
)

// How a tracking row came to be.
const (
	HowExecuted     = "executed"
	HowBootstrapped = "bootstrapped"
)

type config struct {
	schema, table    string
	lockKey          int64
	lockWait         time.Duration
	lockPoll         time.Duration
	lockTimeout      time.Duration
	statementTimeout time.Duration
	lockRetries      int
	retryBackoff     time.Duration
	strict           bool
	version          string
	to               string
	resume, retry    bool
	onEvent          func(Event)
	batchFiles       int
	batchBytes       int
	showRowValues    bool
	watchAfter       time.Duration
	watchEvery       time.Duration
}

// maxIdent is PostgreSQL's identifier length (NAMEDATALEN - 1).
const maxIdent = 63

// partialSuffix names the table that records non-transactional progress.
const partialSuffix = "_partial"

// Option configures a Runner.
type Option func(*config) error

// WithTable sets the tracking table as schema.name (default DefaultTable).
func WithTable(name string) Option {
	return func(c *config) error {
		parts := strings.Split(name, ".")
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			return &OptionError{Msg: fmt.Sprintf("tracking table %q must be schema.name, e.g. %s", name, DefaultTable)}
		}
		// PostgreSQL silently cuts identifiers at 63 bytes; <table>_partial
		// must not be cut back onto the tracking table's own name.
		if len(parts[0]) > maxIdent || len(parts[1])+len(partialSuffix) > maxIdent {
			return &OptionError{Msg: fmt.Sprintf("tracking table %q is too long: the schema may have %d bytes and the table %d", name, maxIdent, maxIdent-len(partialSuffix))}
		}
		c.schema, c.table = parts[0], parts[1]
		return nil
	}
}

// WithLockKey sets the advisory lock key (default meshfmt.MigrationLockKey,
// upstream's, so meshctl and the broker never migrate at once).
func WithLockKey(k int64) Option { return func(c *config) error { c.lockKey = k; return nil } }

// WithLockWait bounds how long Up and Bootstrap wait for the lock.
func WithLockWait(d time.Duration) Option {
	return func(c *config) error { c.lockWait = d; return nil }
}

// WithLockPoll sets how often the lock is tried while waiting.
func WithLockPoll(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return &OptionError{Msg: "lock poll interval must be positive"}
		}
		c.lockPoll = d
		return nil
	}
}

// WithLockTimeout sets lock_timeout for every migration statement.
func WithLockTimeout(d time.Duration) Option {
	return func(c *config) error { c.lockTimeout = d; return nil }
}

// WithStatementTimeout sets statement_timeout for every migration
// statement (0: the server's setting).
func WithStatementTimeout(d time.Duration) Option {
	return func(c *config) error { c.statementTimeout = d; return nil }
}

// WithLockRetries sets how often a file or statement that failed with
// lock_not_available (55P03) is retried, with doubling backoff from
// backoff.
func WithLockRetries(n int, backoff time.Duration) Option {
	return func(c *config) error {
		if n < 0 {
			return &OptionError{Msg: "lock retries must not be negative"}
		}
		c.lockRetries, c.retryBackoff = n, backoff
		return nil
	}
}

// WithBatch sets how many consecutive transactional files (and how many
// bytes of SQL) may travel in one round trip. Each file remains its own
// transaction with its tracking row; batching only saves round trips and
// WAL flushes, at the price of progress events arriving when the batch
// returns. All but the last file of a batch commit with synchronous_commit
// off; the last commits durably (flushed, and replicated where synchronous
// replication is set up), which makes the earlier ones durable too, and
// only then are they reported. Until then other sessions may already see
// their tracking rows. files = 1 sends every file on its own, each commit
// durable.
func WithBatch(files, bytes int) Option {
	return func(c *config) error {
		if files < 1 || bytes < 1 {
			return &OptionError{Msg: fmt.Sprintf("the batch size must be at least 1, not %d", min(files, bytes))}
		}
		c.batchFiles, c.batchBytes = files, bytes
		return nil
	}
}

// WithVersion records the caller's version in each tracking row.
func WithVersion(v string) Option { return func(c *config) error { c.version = v; return nil } }

// WithProgress receives events while Up and Bootstrap run (lock waits,
// files started and finished, warnings). It is called synchronously.
func WithProgress(f func(Event)) Option { return func(c *config) error { c.onEvent = f; return nil } }

// Connector opens a new connection to the database to migrate. The caller
// decides how (DSN, application_name, TLS, timeouts); the runner closes
// the connections it opened.
type Connector func(ctx context.Context) (*pgx.Conn, error)

// Runner applies one folder of migrations to one database.
type Runner struct {
	connect Connector
	conn    *pgx.Conn // caller-owned when set by NewWithConn
	src     *Source
	cfg     config
}

// New returns a Runner that opens its connections with connect: one
// pinned connection per operation, plus short-lived ones for the pooler
// check and to find out what committed after a connection was lost. The
// source is read and checked now: a *SourceError is returned for a bad
// folder.
func New(connect Connector, fsys fs.FS, opts ...Option) (*Runner, error) {
	return newRunner(connect, nil, fsys, opts)
}

// NewWithConn returns a Runner that uses conn, which the caller owns and
// closes. The conn must not be shared while a Runner method runs. Second
// connections are opened with conn's own configuration.
func NewWithConn(conn *pgx.Conn, fsys fs.FS, opts ...Option) (*Runner, error) {
	return newRunner(nil, conn, fsys, opts)
}

func newRunner(connect Connector, conn *pgx.Conn, fsys fs.FS, opts []Option) (*Runner, error) {
	r := &Runner{connect: connect, conn: conn, cfg: config{
		schema: "mesh", table: "__cmh_migrations",
		lockKey: meshfmt.MigrationLockKey, lockWait: DefaultLockWait, lockPoll: DefaultLockPoll,
		lockTimeout: DefaultLockTimeout, lockRetries: DefaultLockRetries, retryBackoff: 500 * time.Millisecond,
		batchFiles: DefaultBatchFiles, batchBytes: DefaultBatchBytes,
		watchAfter: DefaultWatchAfter, watchEvery: DefaultWatchEvery,
	}}
	for _, o := range opts {
		if err := o(&r.cfg); err != nil {
			return nil, err
		}
	}
	src, err := LoadSource(fsys)
	if err != nil {
		return nil, err
	}
	r.src = src
	return r, nil
}

// CallOption is a choice of one Up or Plan call.
type CallOption func(*config)

// To stops after the named file (which must be in the source).
func To(file string) CallOption { return func(c *config) { c.to = file } }

// Strict refuses to apply anything while an applied file changed
// (semantically or unclassified), a tracked file is missing, or a pending
// file sorts before the newest applied one.
func Strict() CallOption { return func(c *config) { c.strict = true } }

// Resume continues a failed non-transactional file at the statement that
// failed.
func Resume() CallOption { return func(c *config) { c.resume = true } }

// RetryFile runs a failed non-transactional file again from its first
// statement.
func RetryFile() CallOption { return func(c *config) { c.retry = true } }

// with returns the runner as one call sees it: its configuration plus the
// call's choices, checked.
func (r *Runner) with(opts []CallOption) (*Runner, error) {
	if len(opts) == 0 {
		return r, nil
	}
	c := *r
	for _, o := range opts {
		o(&c.cfg)
	}
	if c.cfg.to != "" && c.src.Lookup(c.cfg.to) == nil {
		return nil, &TargetError{Option: "to", Name: c.cfg.to, Last: c.src.lastName()}
	}
	return &c, nil
}

// Source returns the files the runner works on.
func (r *Runner) Source() *Source { return r.src }

// Table returns the tracking table as schema.name.
func (r *Runner) Table() string { return r.cfg.schema + "." + r.cfg.table }

func (r *Runner) emit(e Event) {
	if r.cfg.onEvent != nil {
		r.cfg.onEvent(e)
	}
}

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
		_, _ = s.conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", pgx.QueryExecModeSimpleProtocol, s.r.cfg.lockKey)
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

// Status compares the folder with the tracking table. It takes no lock and
// writes nothing.
func (r *Runner) Status(ctx context.Context) (*Status, error) {
	s, err := r.open(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close(ctx)
	return s.status(ctx)
}

// UpResult is what Up did.
type UpResult struct {
	Applied    []FileResult  `json:"applied"`
	Warnings   []string      `json:"warnings"`
	LockWaited time.Duration `json:"-"`
	UpToDate   bool          `json:"up_to_date"` // nothing was pending; no lock was taken
}

// FileResult is one applied file.
type FileResult struct {
	Filename      string        `json:"filename"`
	NoTransaction bool          `json:"no_transaction"`
	Duration      time.Duration `json:"-"`
	DurationMS    float64       `json:"duration_ms"`
	Statements    int           `json:"statements,omitempty"` // run individually (non-transactional files)
}

// Up applies pending files in order, each in its own transaction together
// with its tracking row (or, for marked files, statement by statement).
// It returns what was applied even when it fails; the error is a
// *FileError, *LockError, *DriftError, *LintError, *PoolerError or
// *DBError.
func (r *Runner) Up(ctx context.Context, opts ...CallOption) (*UpResult, error) {
	r, err := r.with(opts)
	if err != nil {
		return &UpResult{}, err
	}
	return r.up(ctx)
}

func (r *Runner) up(ctx context.Context) (*UpResult, error) {
	res := &UpResult{}
	s, err := r.open(ctx)
	if err != nil {
		return res, err
	}
	defer s.close(ctx)
	if ok, err := s.upToDate(ctx); err != nil || ok {
		res.UpToDate = ok
		return res, err
	}
	// Look before locking: an up-to-date run never queues behind another.
	st, err := s.status(ctx)
	if err != nil {
		return res, err
	}
	plan := r.plan(st)
	if len(plan.todo) == 0 {
		res.Warnings = plan.warnings
		if err := plan.blocker(); err != nil {
			return res, err
		}
		for _, w := range plan.warnings {
			r.emit(Event{Kind: EventWarning, Message: w})
		}
		res.UpToDate = true
		return res, nil
	}
	// Only static problems stop us before the lock: a failed-looking
	// non-transactional file may be another runner's work in progress.
	var le *LintError
	if err := plan.blocker(); errors.As(err, &le) {
		res.Warnings = plan.warnings
		return res, err
	}
	// A missing privilege is named before anything is locked or run.
	if err := s.checkWrite(plan.noTransaction()); err != nil {
		res.Warnings = plan.warnings
		return res, err
	}
	// Before the lock: behind a transaction pooler the lock would be taken
	// on a server connection others get next, and held there.
	if err := s.checkPinned(ctx); err != nil {
		return res, err
	}
	waited, err := s.lock(ctx)
	res.LockWaited = waited
	if err != nil {
		return res, err
	}
	// Another runner may have applied files while we waited.
	if st, err = s.status(ctx); err != nil {
		return res, err
	}
	plan = r.plan(st)
	res.Warnings = plan.warnings
	if err := plan.blocker(); err != nil {
		return res, err
	}
	for _, w := range plan.warnings {
		r.emit(Event{Kind: EventWarning, Message: w})
	}
	if len(plan.todo) == 0 {
		res.UpToDate = true
		return res, nil
	}
	if err := s.setTimeouts(ctx); err != nil {
		return res, err
	}
	if w, err := s.prepareExtras(ctx); err != nil {
		return res, err
	} else if w != "" {
		res.Warnings = append(res.Warnings, w)
		r.emit(Event{Kind: EventWarning, Message: w})
	}
	tableExists := st.TableExists
	for i := 0; i < len(plan.todo); {
		f := plan.todo[i]
		if f.NoTransaction {
			r.emit(Event{Kind: EventFileStart, File: f.Name, NoTransaction: true, Index: i + 1, Total: len(plan.todo)})
			fr, err := s.applyNoTx(ctx, f, plan.partial[f.Name])
			var cl *ConnectionLostError
			if err != nil && !errors.As(err, &cl) && ctx.Err() == nil && s.conn.PgConn().IsClosed() {
				// Lost in meshctl's own statements around the file (its
				// setup, progress, the final row): the row may have
				// committed; the table says.
				done, lost := r.afterLostConnection(ctx, s, []*File{f}, err)
				if errors.As(lost, &cl) {
					cl.NoTransaction = true
				}
				for _, d := range done {
					d.NoTransaction = true
					res.Applied = append(res.Applied, d)
					r.emit(Event{Kind: EventFileDone, File: f.Name, NoTransaction: true, Index: i + 1, Total: len(plan.todo)})
				}
				return res, lost
			}
			if err != nil {
				return res, err
			}
			tableExists = true
			res.Applied = append(res.Applied, fr)
			r.emit(Event{Kind: EventFileDone, File: f.Name, Duration: fr.Duration, NoTransaction: true, Index: i + 1, Total: len(plan.todo)})
			i++
			continue
		}
		j, size := i, 0
		for j < len(plan.todo) && !plan.todo[j].NoTransaction && j-i < r.cfg.batchFiles &&
			(j == i || size+len(plan.todo[j].Body) <= r.cfg.batchBytes) {
			size += len(plan.todo[j].Body)
			r.emit(Event{Kind: EventFileStart, File: plan.todo[j].Name, Index: j + 1, Total: len(plan.todo)})
			j++
		}
		done, err := s.applyBatch(ctx, plan.todo[i:j], tableExists)
		if len(done) > 0 {
			tableExists, s.info.tableExists = true, true
		}
		for k, fr := range done {
			res.Applied = append(res.Applied, fr)
			r.emit(Event{Kind: EventFileDone, File: fr.Filename, Duration: fr.Duration, Index: i + k + 1, Total: len(plan.todo)})
		}
		if err != nil {
			return res, err
		}
		i = j
	}
	return res, nil
}

// lock takes the session advisory lock by polling pg_try_advisory_lock. A
// blocking pg_advisory_lock would sit in a transaction with a snapshot, and
// CREATE INDEX CONCURRENTLY run by the holder would wait for it forever.
func (s *session) lock(ctx context.Context) (time.Duration, error) {
	cfg := s.r.cfg
	start := time.Now()
	var last *LockHolder
	for {
		var got bool
		var pid uint32
		if err := s.conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1), pg_backend_pid()", pgx.QueryExecModeSimpleProtocol, cfg.lockKey).Scan(&got, &pid); err != nil {
			return time.Since(start), dbErr("taking the migration lock", err)
		}
		if got {
			s.locked = true
			if s.pid != 0 && pid != s.pid {
				return time.Since(start), &PoolerError{}
			}
			waited := time.Since(start)
			s.r.emit(Event{Kind: EventLockAcquired, Duration: waited})
			return waited, nil
		}
		holder, err := s.holder(ctx)
		if err != nil {
			return time.Since(start), err
		}
		if last == nil || holder == nil || holder.PID != last.PID {
			s.r.emit(Event{Kind: EventLockWait, Holder: holder})
		}
		if holder != nil {
			last = holder
		}
		waited := time.Since(start)
		if waited >= cfg.lockWait {
			return waited, &LockError{Waited: waited, Holder: last}
		}
		t := time.NewTimer(min(cfg.lockPoll, cfg.lockWait-waited))
		select {
		case <-ctx.Done():
			t.Stop()
			return time.Since(start), ctx.Err()
		case <-t.C:
		}
	}
}

// LockHolder describes the session holding the migration lock.
type LockHolder struct {
	PID             int        `json:"pid"`
	ApplicationName string     `json:"application_name"`
	ClientAddr      string     `json:"client_addr"`
	State           string     `json:"state"`
	BackendStart    *time.Time `json:"backend_start"`
	StateChange     *time.Time `json:"state_change"`
	Query           string     `json:"query"` // its current or last statement, string literals redacted
}

func (h *LockHolder) String() string {
	var since string
	if h.BackendStart != nil {
		since = " connected since " + h.BackendStart.UTC().Format(time.RFC3339)
	}
	app := h.ApplicationName
	if app == "" {
		app = "(no application_name)"
	}
	q := strings.Join(strings.Fields(h.Query), " ")
	if len(q) > 120 {
		q = q[:120] + "..."
	}
	return fmt.Sprintf("pid %d %s from %s, state %s%s, query: %s", h.PID, app, h.ClientAddr, h.State, since, q)
}

// holder finds who holds the lock; nil when it cannot be seen (released
// meanwhile, or no privilege to see other sessions).
func (s *session) holder(ctx context.Context) (*LockHolder, error) {
	var h LockHolder
	err := s.conn.QueryRow(ctx, `
SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local socket'),
       coalesce(a.state, ''), a.backend_start, a.state_change, left(coalesce(a.query, ''), 500)
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.classid = ($1::bigint >> 32)::oid AND l.objid = ($1::bigint & 4294967295)::oid
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
LIMIT 1`, pgx.QueryExecModeSimpleProtocol, s.r.cfg.lockKey).Scan(&h.PID, &h.ApplicationName, &h.ClientAddr, &h.State, &h.BackendStart, &h.StateChange, &h.Query)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, dbErr("looking up the lock holder", err)
	}
	h.Query = RedactLiterals(h.Query)
	return &h, nil
}

// BootstrapResult lists what Bootstrap marked (or would mark).
type BootstrapResult struct {
	Through        string   `json:"through"`
	Marked         []string `json:"marked"`          // rows written (or to be written with dry-run)
	AlreadyApplied []string `json:"already_applied"` // rows that existed; left alone
	DryRun         bool     `json:"dry_run"`
}

// Bootstrap records every file up to and including through as applied
// without running it, for a database migrated by hand. Rows are marked
// "bootstrapped". With dryRun it only reports what it would mark.
func (r *Runner) Bootstrap(ctx context.Context, through string, dryRun bool) (*BootstrapResult, error) {
	if through == "" {
		return nil, &TargetError{Option: "through", Name: "", Last: r.src.lastName()}
	}
	if r.src.Lookup(through) == nil {
		return nil, &TargetError{Option: "through", Name: through, Last: r.src.lastName()}
	}
	res := &BootstrapResult{Through: through, DryRun: dryRun}
	s, err := r.open(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close(ctx)
	if err := s.checkPinned(ctx); err != nil {
		return nil, err
	}
	if !dryRun {
		if _, err := s.lock(ctx); err != nil {
			return nil, err
		}
	}
	st, err := s.status(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]FileStatus{}
	for _, fs := range st.Files {
		byName[fs.Filename] = fs
	}
	var mark []*File
	for _, f := range r.src.Files {
		if compareNames(f.Name, through) > 0 {
			break
		}
		if fs, ok := byName[f.Name]; ok && fs.AppliedSHA256 != "" {
			res.AlreadyApplied = append(res.AlreadyApplied, f.Name)
			continue
		}
		mark = append(mark, f)
		res.Marked = append(res.Marked, f.Name)
	}
	if dryRun || len(mark) == 0 {
		return res, nil
	}
	if err := s.checkWrite(false); err != nil {
		return nil, err
	}
	if _, err := s.prepareExtras(ctx); err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("BEGIN;\n")
	b.WriteString(syncCommitSQL(s.durable))
	if !st.TableExists {
		b.WriteString(r.ensureTableSQL())
	}
	for _, f := range mark {
		b.WriteString(s.rowSQL(f, HowBootstrapped, "NULL", true))
		b.WriteString(";\n")
	}
	b.WriteString("COMMIT;")
	if _, err := s.conn.PgConn().Exec(ctx, b.String()).ReadAll(); err != nil {
		s.rollback(ctx)
		return nil, dbErr("recording bootstrapped files", err)
	}
	return res, nil
}

func (s *session) rollback(ctx context.Context) {
	if s.conn.PgConn().IsClosed() || s.conn.PgConn().TxStatus() == 'I' {
		return
	}
	rctx, cancel := cleanupCtx(ctx)
	defer cancel()
	_, _ = s.conn.PgConn().Exec(rctx, "ROLLBACK").ReadAll()
}
