package migrate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/meshfmt"
	"github.com/claudemesh/meshctl/migrate"
)

// Ctrl-C in the middle of a batch: the server must stop too (a closed
// socket alone leaves the backend running the rest of the batch, holding
// the lock, and committing files after meshctl has exited). What Up
// reports as applied is exactly what is in the tracking table, the
// interrupted file left nothing, and the lock is free at once.
func TestCancelMidBatchStopsTheServer(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		noTx  bool // the slow file is non-transactional: what ran before stays, recorded
	}{
		{"transactional batch", map[string]string{
			"0001_a.sql":    "CREATE TABLE a (x int);",
			"0002_slow.sql": "CREATE TABLE b (x int);\nSELECT pg_sleep(60);",
			"0003_c.sql":    "CREATE TABLE c (x int);",
		}, false},
		{"non-transactional file", map[string]string{
			"0001_a.sql":    "CREATE TABLE a (x int);",
			"0002_slow.sql": migrate.NoTransactionMarker + "\nCREATE TABLE b (x int);\nSELECT pg_sleep(60);\nCREATE TABLE b2 (x int);",
			"0003_c.sql":    "CREATE TABLE c (x int);",
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := pgtest.NewEmptyDB(t)
			bg := context.Background()
			ctx, cancel := context.WithCancel(bg)
			defer cancel()
			r := testRunner(t, db.URL, mapFS(tc.files))
			type outcome struct {
				res *migrate.UpResult
				err error
			}
			done := make(chan outcome, 1)
			go func() { res, err := r.Up(ctx); done <- outcome{res, err} }()
			// Cancel once the server is inside pg_sleep (no sleeps in the test:
			// poll pg_stat_activity for the running statement).
			for {
				var n int
				if err := db.Pool.QueryRow(bg, `SELECT count(*) FROM pg_stat_activity
					WHERE datname = current_database() AND wait_event = 'PgSleep'`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n > 0 {
					break
				}
				select {
				case o := <-done:
					t.Fatalf("Up returned before the slow file ran: %+v %v", o.res, o.err)
				default:
				}
			}
			cancel()
			o := <-done
			if !errors.Is(o.err, context.Canceled) {
				t.Fatalf("Up error %v, want one that wraps context.Canceled", o.err)
			}
			var busy int
			if err := db.Pool.QueryRow(bg, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event = 'PgSleep'`).Scan(&busy); err != nil {
				t.Fatal(err)
			}
			if busy != 0 {
				t.Errorf("the server still runs the interrupted statement")
			}
			other, err := pgx.Connect(bg, db.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close(bg)
			var got bool
			if err := other.QueryRow(bg, "SELECT pg_try_advisory_lock($1)", meshfmt.MigrationLockKey).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if !got {
				t.Errorf("the migration lock is still held after Up returned")
			}
			rows := tracking(t, db.Pool)
			var tracked []string
			for name := range rows {
				tracked = append(tracked, name)
			}
			if diff := cmp.Diff([]string{"0001_a.sql"}, appliedNames(o.res)); diff != "" {
				t.Errorf("reported as applied (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"0001_a.sql"}, tracked); diff != "" {
				t.Errorf("tracking rows (-want +got):\n%s", diff)
			}
			if pgtest.RelExists(t, db.Pool, "c") || pgtest.RelExists(t, db.Pool, "b2") {
				t.Errorf("work after the interrupted statement ran")
			}
			if pgtest.RelExists(t, db.Pool, "b") != tc.noTx {
				t.Errorf("table b exists = %v, want %v", !tc.noTx, tc.noTx)
			}
			if tc.noTx {
				st, err := r.Status(bg)
				if err != nil {
					t.Fatal(err)
				}
				if got := states(st)["0002_slow.sql"]; got != migrate.StateFailed {
					t.Errorf("interrupted non-transactional file is %s, want %s", got, migrate.StateFailed)
				}
			}
		})
	}
}
