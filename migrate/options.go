package migrate

import (
	"fmt"
	"strings"
	"time"
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
// statement. 0 (the default) keeps the session's default, the role's,
// the database's or the server's setting (RESET statement_timeout, also
// after a file's own SET).
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
