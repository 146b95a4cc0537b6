package migrate

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"time"

	"github.com/claudemesh/meshctl/meshfmt"
	"github.com/jackc/pgx/v5"
)

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

// Source returns the files the runner works on.
func (r *Runner) Source() *Source { return r.src }

// Table returns the tracking table as schema.name.
func (r *Runner) Table() string { return r.cfg.schema + "." + r.cfg.table }

func (r *Runner) emit(e Event) {
	if r.cfg.onEvent != nil {
		r.cfg.onEvent(e)
	}
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
// *FileError, *LockError, *DriftError, *LintError, *PoolerError, *ResumeSessionError or
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
	return res, r.applyAll(ctx, s, plan, st.TableExists, res)
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

// applyAll applies plan's files in order: runs of consecutive
// transactional files as batches (each file still its own transaction),
// non-transactional files statement by statement. Every file that
// committed is appended to res, even when a later one fails.
func (r *Runner) applyAll(ctx context.Context, s *session, plan *plan, tableExists bool, res *UpResult) error {
	total := len(plan.todo)
	for i := 0; i < total; {
		f := plan.todo[i]
		if f.NoTransaction {
			if err := r.applyOneNoTx(ctx, s, plan, i, res); err != nil {
				return err
			}
			tableExists = true
			i++
			continue
		}
		j, size := i, 0
		for j < total && !plan.todo[j].NoTransaction && j-i < r.cfg.batchFiles &&
			(j == i || size+len(plan.todo[j].Body) <= r.cfg.batchBytes) {
			size += len(plan.todo[j].Body)
			r.emit(Event{Kind: EventFileStart, File: plan.todo[j].Name, Index: j + 1, Total: total})
			j++
		}
		done, err := s.applyBatch(ctx, plan.todo[i:j], tableExists)
		if len(done) > 0 {
			tableExists, s.info.tableExists = true, true
		}
		for k, fr := range done {
			res.Applied = append(res.Applied, fr)
			r.emit(Event{Kind: EventFileDone, File: fr.Filename, Duration: fr.Duration, Index: i + k + 1, Total: total})
		}
		if err != nil {
			return err
		}
		i = j
	}
	return nil
}

// applyOneNoTx applies the non-transactional file plan.todo[i]. When the
// connection is lost in meshctl's own statements around the file (its
// setup, progress, the final row), the row may have committed: the
// tracking table, read from a new connection, says.
func (r *Runner) applyOneNoTx(ctx context.Context, s *session, plan *plan, i int, res *UpResult) error {
	f, total := plan.todo[i], len(plan.todo)
	r.emit(Event{Kind: EventFileStart, File: f.Name, NoTransaction: true, Index: i + 1, Total: total})
	fr, err := s.applyNoTx(ctx, f, plan.partial[f.Name])
	var cl *ConnectionLostError
	if err != nil && !errors.As(err, &cl) && ctx.Err() == nil && s.conn.PgConn().IsClosed() {
		done, lost := r.afterLostConnection(ctx, s, []*File{f}, err)
		if errors.As(lost, &cl) {
			cl.NoTransaction = true
		}
		for _, d := range done {
			d.NoTransaction = true
			res.Applied = append(res.Applied, d)
			r.emit(Event{Kind: EventFileDone, File: f.Name, NoTransaction: true, Index: i + 1, Total: total})
		}
		return lost
	}
	if err != nil {
		return err
	}
	res.Applied = append(res.Applied, fr)
	r.emit(Event{Kind: EventFileDone, File: f.Name, Duration: fr.Duration, NoTransaction: true, Index: i + 1, Total: total})
	return nil
}
