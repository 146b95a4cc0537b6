package migrate_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

// A file's RESET ALL neither breaks meshctl's bookkeeping nor takes the
// lock and statement timeouts away from the files after it.
func TestResetAllInAFile(t *testing.T) {
	for _, batch := range []int{migrate.DefaultBatchFiles, 1} {
		db := pgtest.NewEmptyDB(t)
		r := testRunner(t, db.URL, mapFS(map[string]string{
			"0001_a.sql": "CREATE TABLE a (id int);",
			"0002_b.sql": "RESET ALL;\nCREATE TABLE b (id int);",
			"0003_c.sql": "CREATE TABLE c AS SELECT current_setting('lock_timeout') AS lt, current_setting('statement_timeout') AS st;",
		}), migrate.WithBatch(batch, migrate.DefaultBatchBytes), migrate.WithLockTimeout(1234*time.Millisecond),
			migrate.WithStatementTimeout(98*time.Second))
		res, err := r.Up(context.Background())
		if err != nil {
			t.Fatalf("batch %d: Up: %v", batch, err)
		}
		if len(res.Applied) != 3 {
			t.Fatalf("batch %d: applied %v", batch, appliedNames(res))
		}
		var lt, st string
		if err := db.Pool.QueryRow(context.Background(), "SELECT lt, st FROM c").Scan(&lt, &st); err != nil {
			t.Fatal(err)
		}
		if lt != "1234ms" || st != "98s" {
			t.Errorf("batch %d: after a file's RESET ALL the next file ran with lock_timeout %s, statement_timeout %s", batch, lt, st)
		}
	}
}

// A file that turns standard_conforming_strings off cannot change how the
// server reads the next file (meshctl's lexer reads it with the setting
// on): the backslashes of a later file's literal arrive as written.
func TestStandardConformingStringsReassertedAfterEachFile(t *testing.T) {
	for _, batch := range []int{migrate.DefaultBatchFiles, 1} {
		db := pgtest.NewEmptyDB(t)
		r := testRunner(t, db.URL, mapFS(map[string]string{
			"0001_off.sql":  "SET standard_conforming_strings = off;",
			"0002_notx.sql": "-- meshctl:no-transaction\nSET standard_conforming_strings = off;",
			"0003_p.sql":    "CREATE TABLE p AS SELECT 'C:\\new\\'::text AS v;",
		}), migrate.WithBatch(batch, migrate.DefaultBatchBytes))
		if _, err := r.Up(context.Background()); err != nil {
			t.Fatalf("batch %d: Up: %v", batch, err)
		}
		for table, want := range map[string]string{"p": `C:\new\`} {
			var v string
			if err := db.Pool.QueryRow(context.Background(), "SELECT v FROM "+table).Scan(&v); err != nil {
				t.Fatal(err)
			}
			if v != want {
				t.Errorf("batch %d: table %s holds %q, want %q", batch, table, v, want)
			}
		}
	}
}

// Without a statement timeout of the runner's own, the session's default
// holds (here the database's, ALTER DATABASE ... SET): meshctl never
// switches it off, and a file's own SET does not carry over to the next
// file, transactional or not.
func TestStatementTimeoutZeroKeepsTheSessionDefault(t *testing.T) {
	for _, batch := range []int{migrate.DefaultBatchFiles, 1} {
		db := pgtest.NewEmptyDB(t)
		ctx := context.Background()
		var dbname string
		if err := db.Pool.QueryRow(ctx, "SELECT current_database()").Scan(&dbname); err != nil {
			t.Fatal(err)
		}
		mustExec(t, db.Pool, "ALTER DATABASE "+pgx.Identifier{dbname}.Sanitize()+" SET statement_timeout = '77s'")
		r := testRunner(t, db.URL, mapFS(map[string]string{
			"0001_zero.sql": "SET statement_timeout = 0;",
			"0002_c.sql":    "CREATE TABLE c AS SELECT current_setting('statement_timeout') AS st;",
			"0003_n.sql":    migrate.NoTransactionMarker + "\nSET statement_timeout = 0;\nCREATE TABLE n AS SELECT current_setting('statement_timeout') AS st;",
			"0004_d.sql":    "CREATE TABLE d AS SELECT current_setting('statement_timeout') AS st;",
		}), migrate.WithBatch(batch, migrate.DefaultBatchBytes), migrate.WithStatementTimeout(0))
		if _, err := r.Up(ctx); err != nil {
			t.Fatalf("batch %d: Up: %v", batch, err)
		}
		for _, table := range []string{"c", "n", "d"} {
			var st string
			if err := db.Pool.QueryRow(ctx, "SELECT st FROM "+table).Scan(&st); err != nil {
				t.Fatal(err)
			}
			if st != "77s" {
				t.Errorf("batch %d: %s ran with statement_timeout %s, want the database's 77s", batch, table, st)
			}
		}
	}
}
