// Package migrate applies a folder of SQL migration files to a claudemesh
// PostgreSQL database, as a drop-in for the upstream broker's runner: same
// tracking table (mesh.__cmh_migrations), same sha256 of the raw file bytes,
// same advisory lock key (meshfmt.MigrationLockKey), so the broker and
// meshctl can never migrate at the same time.
//
// Invariants:
//   - A transactional file and its tracking row commit together or not at
//     all: the file body, the INSERT of its row and COMMIT are one
//     simple-protocol batch on one connection. After a failure nothing of
//     the file remains and there is no dirty marker to clear.
//   - Nothing is reported applied before its commit is durable: flushed,
//     and replicated where synchronous replication is configured (the last
//     file of each batch commits under the session's own
//     synchronous_commit, never weaker than on; see WithBatch). When the
//     connection drops, what committed is read back from the table.
//   - The tracking table keeps upstream's three columns and is never
//     altered: SELECT and INSERT on it are enough. meshctl's extras live
//     in <table>_meshctl when the role may create it.
//   - A tracking row means "applied": failures and progress of
//     non-transactional files live in a separate <table>_partial table that
//     upstream never reads.
//   - Every write happens while this runner holds the session advisory lock
//     on a pinned connection, taken by polling pg_try_advisory_lock (never
//     blocking, so a waiter cannot deadlock CREATE INDEX CONCURRENTLY).
//     Connections without a backend of their own (transaction poolers) are
//     refused before the lock is taken.
//   - Applied files are never re-run; a changed applied file is reported,
//     and so are rows without a file. A file with the content of a row whose
//     file is gone is that file renamed, and is not run again. A tracking
//     table whose rows name none of the folder's files is another folder's
//     history, and is refused.
//   - Files are ordered as upstream orders them (JavaScript's sort, UTF-16
//     code units), and cut into statements where PostgreSQL's scanner would
//     cut them (quotes, comments, parentheses, operators).
//   - The library never prints. Progress reaches the caller through
//     WithProgress; every operation returns structured results and typed
//     errors.
//
// Typical use:
//
//	connect := func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, dsn) }
//	r, err := migrate.New(connect, migrations.FS, migrate.WithLockWait(time.Minute))
//	res, err := r.Up(ctx)
package migrate
