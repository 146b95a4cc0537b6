package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Job is one named backfill. Step does one batch inside tx: it reads up to
// limit units of work after cursor (in the job's primary-key order), writes
// what they need (unless dry), and says where the next batch starts.
type Job interface {
	Name() string
	Description() string
	// Estimate returns the units of work the whole job walks (cheap; an
	// estimate is fine).
	Estimate(ctx context.Context, conn *pgx.Conn) (int64, error)
	// Step runs one batch. It must be idempotent: a batch may run again
	// after a crash before its commit.
	Step(ctx context.Context, tx pgx.Tx, cursor string, limit int, dry bool) (Step, error)
	// MaxBatch bounds the batch size (units per transaction).
	MaxBatch() int
}

// preparer is a job that settles its parameters (from opt and the
// database) before its first batch.
type preparer interface {
	prepare(ctx context.Context, conn *pgx.Conn, opt *Options) (Job, error)
}

// Step is what one batch did.
type Step struct {
	Next    string           // cursor after this batch
	Done    bool             // nothing after Next
	Scanned int64            // units read
	Written int64            // rows written (or, dry, that would be)
	Skipped map[string]int64 // units skipped, by reason
	Sample  []string         // dry runs: a few of the rows that would be written
}

// Jobs returns every backfill, in the order --all runs them: general
// before owner-member (a new owner is subscribed to #general), and both
// before notifications.
func Jobs() []Job {
	return []Job{General{}, OwnerMember{}, Notifications{}}
}

// Lookup returns the job called name.
func Lookup(name string) (Job, error) {
	var names []string
	for _, j := range Jobs() {
		if j.Name() == name {
			return j, nil
		}
		names = append(names, j.Name())
	}
	return nil, &UnknownJobError{Name: name, Known: names}
}

// UnknownJobError is returned for a name no job has.
type UnknownJobError struct {
	Name  string
	Known []string
}

func (e *UnknownJobError) Error() string {
	return fmt.Sprintf("no backfill is called %q (known: %s)", e.Name, strings.Join(e.Known, ", "))
}

// SchemaError says the database has no claudemesh schema to backfill.
type SchemaError struct{ Missing string }

func (e *SchemaError) Error() string {
	return fmt.Sprintf("the database has no %s: it is not a claudemesh database, or it is not migrated", e.Missing)
}

// PrivilegeError names the privilege the connected role lacks, as the
// GRANT an administrator runs.
type PrivilegeError struct {
	Need  string // what for, e.g. "CREATE on schema mesh (for the state table)"
	Grant string // e.g. "GRANT USAGE ON SCHEMA mesh TO <role>"
	Err   error
}

func (e *PrivilegeError) Error() string {
	return fmt.Sprintf("permission denied: the role needs %s; as an administrator run %s (%v)", e.Need, e.Grant, e.Err)
}
func (e *PrivilegeError) Unwrap() error { return e.Err }

// Options tune a run. The zero value is usable.
type Options struct {
	DryRun  bool
	Restart bool // start from the beginning, forgetting the stored cursor
	// BatchSize fixes the batch size; 0 adapts it toward TargetBatch.
	BatchSize   int
	TargetBatch time.Duration // default 250 ms
	// MaxRate caps units scanned per second (0: none).
	MaxRate float64
	// MaxLag pauses while a streaming replica's replay lag exceeds it (0: never).
	MaxLag      time.Duration
	LockTimeout time.Duration // per batch; default 2 s
	StmtTimeout time.Duration // per batch; default 30 s
	Progress    func(Event)
	// Until (notifications) covers only messages created before it: the
	// broker wrote the notifications of later ones itself. Zero: when the
	// migration that creates mesh.notification was applied, read from
	// TrackingTable; a run that cannot read it fails with *CutoffError.
	Until time.Time
	// TrackingTable is the migration tracking table (schema.name) Until is
	// read from; default migrate.DefaultTable.
	TrackingTable string
	// MaxBody (notifications) is the largest decoded body read; a larger
	// one is skipped as oversized, and no body is fetched past its base64
	// length. Set it to the broker's MAX_MESSAGE_BYTES, which bounds the
	// base64 text, so that nothing the broker accepted is skipped.
	// Default DefaultMaxBody, the broker's default.
	MaxBody       int
	SampleSize    int           // dry runs; default 5
	LagPoll       time.Duration // how often a paused run re-reads the lag; default 1 s
	lockRetryWait time.Duration
}

func (o *Options) defaults() {
	if o.TargetBatch <= 0 {
		o.TargetBatch = 250 * time.Millisecond
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = 2 * time.Second
	}
	if o.StmtTimeout <= 0 {
		o.StmtTimeout = 30 * time.Second
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.SampleSize <= 0 {
		o.SampleSize = 5
	}
	if o.LagPoll <= 0 {
		o.LagPoll = time.Second
	}
	if o.lockRetryWait <= 0 {
		o.lockRetryWait = 200 * time.Millisecond
	}
}

// EventKind says what an Event reports.
type EventKind string

const (
	EventStart EventKind = "start" // Total is the estimate
	EventBatch EventKind = "batch" // one batch committed (or, dry, counted)
	EventWait  EventKind = "wait"  // the run waits; Reason says why
	EventDone  EventKind = "done"  // the job finished or stopped
)

// Event is a progress report.
type Event struct {
	Job           string           `json:"job"`
	Kind          EventKind        `json:"event"`
	Total         int64            `json:"total"`
	Scanned       int64            `json:"scanned"` // this run, so far
	Written       int64            `json:"written"`
	Skipped       map[string]int64 `json:"skipped,omitempty"`
	BatchSize     int              `json:"batch_size,omitempty"`
	BatchDuration time.Duration    `json:"batch_ms,omitempty"`
	Reason        string           `json:"reason,omitempty"` // EventWait: why
	Elapsed       time.Duration    `json:"elapsed_ms"`
}

// MarshalJSON writes durations as milliseconds.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	return json.Marshal(struct {
		plain
		BatchDuration float64 `json:"batch_ms,omitempty"`
		Elapsed       float64 `json:"elapsed_ms"`
	}{plain(e), ms(e.BatchDuration), ms(e.Elapsed)})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Result is the summary of one job's run.
type Result struct {
	Job      string           `json:"job"`
	DryRun   bool             `json:"dry_run"`
	Resumed  bool             `json:"resumed"` // continued from a stored cursor
	Done     bool             `json:"done"`    // the job reached its end
	Stopped  bool             `json:"stopped"` // asked to stop between batches
	Scanned  int64            `json:"scanned"`
	Written  int64            `json:"written"`
	Skipped  map[string]int64 `json:"skipped"`
	Batches  int              `json:"batches"`
	Duration time.Duration    `json:"-"`
	Sample   []string         `json:"sample,omitempty"`
	// Until is the cutoff a notifications run used (messages before it).
	Until *time.Time `json:"until,omitempty"`
	// BatchDurations are the batches' wall times, for a distribution.
	BatchDurations []time.Duration `json:"-"`
	// written are the WAL positions of the last batches, while MaxLag
	// needs them.
	written []written
	// The rate limit counts rows scanned since rateFrom.
	rateFrom time.Time
	rateRows int64
	lastWait string // the last wait reason reported
}

const stateDDL = `CREATE TABLE IF NOT EXISTS mesh.meshctl_backfill (
	name text PRIMARY KEY,
	cursor text NOT NULL DEFAULT '',
	status text NOT NULL DEFAULT 'pending',
	scanned bigint NOT NULL DEFAULT 0,
	written bigint NOT NULL DEFAULT 0,
	skipped jsonb NOT NULL DEFAULT '{}',
	started_at timestamptz,
	updated_at timestamptz,
	finished_at timestamptz
)`

// Run runs job on conn until it is done or ctx is cancelled (the current
// batch always completes). conn must not be inside a transaction.
func Run(ctx context.Context, conn *pgx.Conn, job Job, opt Options) (*Result, error) {
	opt.defaults()
	res := &Result{Job: job.Name(), DryRun: opt.DryRun, Skipped: map[string]int64{}}
	start := time.Now()
	if err := checkSchema(ctx, conn); err != nil {
		return nil, err
	}
	if p, ok := job.(preparer); ok {
		j, err := p.prepare(ctx, conn, &opt)
		if err != nil {
			return nil, err
		}
		job = j
		if n, ok := j.(Notifications); ok {
			res.Until = &n.until
		}
	}
	cursor := ""
	if !opt.DryRun {
		c, resumed, err := prepareState(ctx, conn, job.Name(), opt.Restart)
		if err != nil {
			return nil, err
		}
		cursor, res.Resumed = c, resumed
	}
	total, err := job.Estimate(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("estimate %s: %w", job.Name(), err)
	}
	emit := func(e Event) {
		if opt.Progress != nil {
			e.Job, e.Total, e.Elapsed = job.Name(), total, time.Since(start)
			e.Scanned, e.Written, e.Skipped = res.Scanned, res.Written, res.Skipped
			opt.Progress(e)
		}
	}
	emit(Event{Kind: EventStart})
	size := opt.BatchSize
	if size <= 0 {
		size = min(100, job.MaxBatch())
	}
	// A batch must not be cut short by a stop request: it runs on a
	// context that is not cancelled, bounded by statement_timeout.
	batchCtx := context.WithoutCancel(ctx)
	for {
		if ctx.Err() != nil {
			res.Stopped = true
			break
		}
		if err := throttle(ctx, conn, &opt, res, start, emit); err != nil {
			if ctx.Err() != nil {
				res.Stopped = true
				break
			}
			return res, err
		}
		t0 := time.Now()
		st, err := runBatch(batchCtx, conn, job, cursor, size, &opt)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55P03" {
			// Another run holds this job's state row (or a row the
			// batch needs): wait and take the next batch.
			emit(Event{Kind: EventWait, Reason: "lock held by another session"})
			if sleep(ctx, opt.lockRetryWait) != nil {
				res.Stopped = true
				break
			}
			continue
		}
		if err != nil {
			return res, batchError(job.Name(), cursor, err)
		}
		d := time.Since(t0)
		res.Batches++
		res.BatchDurations = append(res.BatchDurations, d)
		res.Scanned += st.Scanned
		res.Written += st.Written
		for k, v := range st.Skipped {
			res.Skipped[k] += v
		}
		if opt.DryRun && len(res.Sample) < opt.SampleSize {
			res.Sample = append(res.Sample, st.Sample[:min(len(st.Sample), opt.SampleSize-len(res.Sample))]...)
		}
		if opt.MaxLag > 0 && !opt.DryRun && st.Written > 0 {
			lsn, err := currentLSN(batchCtx, conn)
			if err != nil {
				return res, err
			}
			res.written = append(res.written, written{lsn: lsn, at: time.Now()})
			if len(res.written) > 1000 {
				res.written = res.written[len(res.written)-1000:]
			}
		}
		emit(Event{Kind: EventBatch, BatchSize: size, BatchDuration: d})
		cursor = st.Next
		if st.Done {
			res.Done = true
			break
		}
		if opt.BatchSize <= 0 {
			size = adapt(size, d, opt.TargetBatch, job.MaxBatch())
		}
	}
	res.Duration = time.Since(start)
	emit(Event{Kind: EventDone})
	return res, nil
}

// adapt moves the batch size toward the target duration: at most doubling
// or halving per batch, within [1, max].
func adapt(size int, took, target time.Duration, max int) int {
	if took <= 0 {
		took = time.Millisecond
	}
	f := float64(target) / float64(took)
	f = minF(maxF(f, 0.5), 2)
	n := int(float64(size) * f)
	return min(maxI(n, 1), max)
}

func minF(a, b float64) float64 {
	if a < b {
		return a
	}
	return b
}
func maxF(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}
func maxI(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func batchError(job, cursor string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" {
		return &PrivilegeError{Need: "INSERT on the tables backfill " + job + " writes and SELECT on those it reads",
			Grant: "GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA mesh TO <role>", Err: err}
	}
	return &BatchError{Job: job, Cursor: cursor, Err: err}
}

// BatchError is a batch that failed; nothing of it was written, and the
// stored cursor still points at its start.
type BatchError struct {
	Job    string
	Cursor string
	Err    error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("backfill %s: batch after %q failed, nothing of it was written: %v", e.Job, e.Cursor, e.Err)
}
func (e *BatchError) Unwrap() error { return e.Err }

// runBatch is one transaction: lock the job's state row, read its cursor
// (another run may have moved it), do the step, store the new cursor.
func runBatch(ctx context.Context, conn *pgx.Conn, job Job, cursor string, size int, opt *Options) (Step, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return Step{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d; SET LOCAL statement_timeout = %d",
		opt.LockTimeout.Milliseconds(), opt.StmtTimeout.Milliseconds())); err != nil {
		return Step{}, err
	}
	if !opt.DryRun {
		var status string
		if err := tx.QueryRow(ctx, `SELECT cursor, status FROM mesh.meshctl_backfill WHERE name = $1 FOR UPDATE`, job.Name()).
			Scan(&cursor, &status); err != nil {
			return Step{}, err
		}
		if status == "done" {
			return Step{Next: cursor, Done: true}, tx.Commit(ctx)
		}
	}
	st, err := job.Step(ctx, tx, cursor, size, opt.DryRun)
	if err != nil {
		return Step{}, err
	}
	if opt.DryRun {
		return st, nil // rolled back by the deferred Rollback: reads only anyway
	}
	skipped, _ := json.Marshal(st.Skipped)
	if st.Skipped == nil {
		skipped = []byte("{}")
	}
	if _, err := tx.Exec(ctx, `
		UPDATE mesh.meshctl_backfill SET
			cursor = $2, scanned = scanned + $3, written = written + $4,
			skipped = (SELECT coalesce(jsonb_object_agg(k, v), '{}') FROM (
				SELECT k, sum(v)::bigint AS v FROM (
					SELECT key AS k, value::bigint AS v FROM jsonb_each_text(skipped)
					UNION ALL SELECT key, value::bigint FROM jsonb_each_text($5::jsonb)) s GROUP BY k) t),
			status = CASE WHEN $6 THEN 'done' ELSE 'running' END,
			updated_at = now(), finished_at = CASE WHEN $6 THEN now() END
		WHERE name = $1`, job.Name(), st.Next, st.Scanned, st.Written, string(skipped), st.Done); err != nil {
		return Step{}, err
	}
	return st, tx.Commit(ctx)
}

func checkSchema(ctx context.Context, conn *pgx.Conn) error {
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('mesh.topic_message') IS NOT NULL AND to_regclass('mesh.notification') IS NOT NULL`).Scan(&ok); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" {
			return &PrivilegeError{Need: "USAGE on schema mesh", Grant: "GRANT USAGE ON SCHEMA mesh TO <role>", Err: err}
		}
		return err
	}
	if !ok {
		return &SchemaError{Missing: "mesh schema (tables mesh.topic_message, mesh.notification)"}
	}
	return nil
}

// prepareState creates the state table if needed and the job's row, and
// returns the cursor to start from.
func prepareState(ctx context.Context, conn *pgx.Conn, name string, restart bool) (string, bool, error) {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('mesh.meshctl_backfill') IS NOT NULL`).Scan(&exists); err != nil {
		return "", false, err
	}
	if !exists {
		if _, err := conn.Exec(ctx, stateDDL); err != nil {
			var pgErr *pgconn.PgError
			switch {
			case errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "42P07"):
				// Another run created it at the same moment
				// (CREATE TABLE IF NOT EXISTS is not atomic).
			case errors.As(err, &pgErr) && pgErr.Code == "42501":
				return "", false, &PrivilegeError{Need: "CREATE on schema mesh for the state table mesh.meshctl_backfill (or an administrator creates it)",
					Grant: "GRANT CREATE ON SCHEMA mesh TO <role>", Err: err}
			default:
				return "", false, err
			}
		}
	}
	var cursor, status string
	err := conn.QueryRow(ctx, `
		INSERT INTO mesh.meshctl_backfill (name, status, started_at, updated_at) VALUES ($1, 'running', now(), now())
		ON CONFLICT (name) DO UPDATE SET
			cursor = CASE WHEN $2 THEN '' ELSE meshctl_backfill.cursor END,
			status = CASE WHEN $2 OR meshctl_backfill.status <> 'done' THEN 'running' ELSE meshctl_backfill.status END,
			scanned = CASE WHEN $2 THEN 0 ELSE meshctl_backfill.scanned END,
			written = CASE WHEN $2 THEN 0 ELSE meshctl_backfill.written END,
			skipped = CASE WHEN $2 THEN '{}' ELSE meshctl_backfill.skipped END,
			started_at = CASE WHEN $2 OR meshctl_backfill.started_at IS NULL THEN now() ELSE meshctl_backfill.started_at END,
			finished_at = CASE WHEN $2 THEN NULL ELSE meshctl_backfill.finished_at END,
			updated_at = now()
		RETURNING cursor, status`, name, restart).Scan(&cursor, &status)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" {
			return "", false, &PrivilegeError{Need: "INSERT and UPDATE on mesh.meshctl_backfill",
				Grant: "GRANT SELECT, INSERT, UPDATE ON mesh.meshctl_backfill TO <role>", Err: err}
		}
		return "", false, err
	}
	return cursor, cursor != "", nil
}

// State is a job's stored progress.
type State struct {
	Name       string           `json:"name"`
	Status     string           `json:"status"` // never-run, running, done
	Cursor     string           `json:"cursor"`
	Scanned    int64            `json:"scanned"`
	Written    int64            `json:"written"`
	Skipped    map[string]int64 `json:"skipped"`
	StartedAt  *time.Time       `json:"started_at"`
	UpdatedAt  *time.Time       `json:"updated_at"`
	FinishedAt *time.Time       `json:"finished_at"`
}

// States returns the stored state of every job (status never-run for a job
// without a row, or when the state table does not exist yet).
func States(ctx context.Context, conn *pgx.Conn) ([]State, error) {
	if err := checkSchema(ctx, conn); err != nil {
		return nil, err
	}
	byName := map[string]State{}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('mesh.meshctl_backfill') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, err
	}
	if exists {
		rows, err := conn.Query(ctx, `SELECT name, status, cursor, scanned, written, skipped, started_at, updated_at, finished_at FROM mesh.meshctl_backfill`)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var s State
			if err := rows.Scan(&s.Name, &s.Status, &s.Cursor, &s.Scanned, &s.Written, &s.Skipped, &s.StartedAt, &s.UpdatedAt, &s.FinishedAt); err != nil {
				rows.Close()
				return nil, err
			}
			byName[s.Name] = s
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	var out []State
	for _, j := range Jobs() {
		s, ok := byName[j.Name()]
		if !ok {
			s = State{Name: j.Name(), Status: "never-run", Skipped: map[string]int64{}}
		}
		out = append(out, s)
	}
	return out, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
