package migrate_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

// crashSettings make un-flushed WAL last: the WAL writer sleeps 10 s, no
// checkpoint comes by, and fsync is on as in production.
var crashSettings = []string{"fsync=on", "synchronous_commit=on", "wal_writer_delay=10000ms",
	"checkpoint_timeout=3600", "max_wal_size=4GB"}

// smallFiles returns n files that each create a table t0001, t0002, ...
func smallFiles(n int, extra string) map[string]string {
	files := map[string]string{}
	for i := 1; i <= n; i++ {
		files[fmt.Sprintf("%04d_t.sql", i)] = fmt.Sprintf("%sCREATE TABLE t%04d (id int);\n", extra, i)
	}
	return files
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// PostgreSQL's own WAL says whether a commit reached disk: pg_walinspect
// reads WAL only up to the flush position, so a file's commit record found
// there (by the xid that wrote its tracking row) is flushed.
func TestEveryReportedFileIsFlushedWhenUpReturns(t *testing.T) {
	srv := pgtest.StartServer(t, crashSettings...)
	for _, batch := range []int{migrate.DefaultBatchFiles, 7, 1} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			dsn := srv.NewDB(t)
			c := connect(t, dsn)
			ctx := context.Background()
			if _, err := c.Exec(ctx, "CREATE EXTENSION pg_walinspect"); err != nil {
				t.Fatal(err)
			}
			var start string
			if err := c.QueryRow(ctx, "SELECT pg_current_wal_flush_lsn()::text").Scan(&start); err != nil {
				t.Fatal(err)
			}
			const n = 120
			r := testRunner(t, dsn, mapFS(smallFiles(n, "")), migrate.WithBatch(batch, migrate.DefaultBatchBytes))
			res := mustUp(t, r)
			if len(res.Applied) != n {
				t.Fatalf("applied %d files, want %d", len(res.Applied), n)
			}
			// At once, before the WAL writer's next round (10 s away).
			var flushed, total int
			if err := c.QueryRow(ctx, `
WITH x AS (SELECT xmin::text::bigint AS xid FROM mesh.__cmh_migrations)
SELECT (SELECT count(DISTINCT w.xid::text) FROM pg_get_wal_records_info($1::pg_lsn, pg_current_wal_flush_lsn()) w
        WHERE w.resource_manager = 'Transaction' AND w.record_type LIKE 'COMMIT%'
          AND w.xid::text::bigint IN (SELECT xid FROM x)),
       (SELECT count(*) FROM x)`, start).Scan(&flushed, &total); err != nil {
				t.Fatal(err)
			}
			if total != n || flushed != n {
				t.Fatalf("Up reported %d files applied; %d tracking rows; commit records flushed: %d", n, total, flushed)
			}
		})
	}
}

// kill -9 of the whole server right after Up returned loses nothing Up
// reported applied.
func TestNothingReportedIsLostInACrashAfterUp(t *testing.T) {
	srv := pgtest.StartServer(t, crashSettings...)
	const runs, n = 10, 40
	for run := 0; run < runs; run++ {
		dsn := srv.NewDB(t)
		r := testRunner(t, dsn, mapFS(smallFiles(n, "")))
		res := mustUp(t, r)
		srv.KillAll(t)
		srv.WaitReady(t)
		c := connect(t, dsn)
		var rows, tables int
		if err := c.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM mesh.__cmh_migrations),
			(SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^t[0-9]{4}$')`).Scan(&rows, &tables); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if rows != len(res.Applied) || tables != len(res.Applied) {
			t.Fatalf("run %d: Up reported %d applied; after the crash %d tracking rows and %d tables remain", run, len(res.Applied), rows, tables)
		}
	}
}
