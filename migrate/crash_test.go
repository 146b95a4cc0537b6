package migrate_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claudemesh/meshctl/internal/dbconn"
	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

// slowFiles: n transactional files, each sleeping, then creating its
// table; file 0005 is a no-transaction index build.
func slowFiles(n int, sleep time.Duration) map[string]string {
	files := map[string]string{}
	for i := 1; i <= n; i++ {
		files[fmt.Sprintf("%04d_t.sql", i)] = fmt.Sprintf("SELECT pg_sleep(%g);\nCREATE TABLE t%04d (id int);\n", sleep.Seconds(), i)
	}
	files["0005_t.sql"] = "-- meshctl:no-transaction\nCREATE TABLE t0005 (id int);\nSELECT pg_sleep(0.05);\nCREATE INDEX CONCURRENTLY i0005 ON t0005 (id);\n"
	return files
}

// effects returns which files' effects are in the database and which
// files have tracking rows.
func effects(t *testing.T, dsn string) (effect, row map[string]bool) {
	t.Helper()
	c := connect(t, dsn)
	ctx := context.Background()
	effect, row = map[string]bool{}, map[string]bool{}
	rs, err := c.Query(ctx, `SELECT tablename || '.sql' FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^t[0-9]{4}$' AND tablename <> 't0005'
		UNION ALL SELECT 't0005.sql' FROM pg_indexes WHERE indexname = 'i0005'`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var n string
		_ = rs.Scan(&n)
		effect[n[1:5]+"_t.sql"] = true
	}
	rs.Close()
	var exists bool
	if err := c.QueryRow(ctx, "SELECT to_regclass('mesh.__cmh_migrations') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return effect, row
	}
	rs, err = c.Query(ctx, "SELECT filename FROM mesh.__cmh_migrations")
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var n string
		_ = rs.Scan(&n)
		row[n] = true
	}
	rs.Close()
	return effect, row
}

// checkCrash: every file reported applied has its row and its effect, and
// no row exists without its effect.
func checkCrash(t *testing.T, label, dsn string, reported []string, exact bool) {
	t.Helper()
	effect, row := effects(t, dsn)
	for _, f := range reported {
		if !row[f] || !effect[f] {
			t.Errorf("%s: %s was reported applied; after restart row=%v effect=%v", label, f, row[f], effect[f])
		}
	}
	var rows []string
	for f := range row {
		rows = append(rows, f)
		if !effect[f] {
			t.Errorf("%s: %s has a tracking row but not its effect", label, f)
		}
	}
	slices.Sort(rows)
	if exact && !slices.Equal(rows, reported) {
		t.Errorf("%s: reported applied %v, but the tracking table holds %v", label, reported, rows)
	}
}

// TestCrashHelper is the child of TestCrashMatrix's meshctl-kill mode: it
// runs Up and prints each file the moment it is reported applied.
func TestCrashHelper(t *testing.T) {
	dsn := os.Getenv("MIGRATE_CRASH_DSN")
	if dsn == "" {
		t.Skip("helper process for TestCrashMatrix")
	}
	r, err := migrate.New(dial(dsn), mapFS(slowFiles(12, 100*time.Millisecond)), migrate.WithProgress(func(e migrate.Event) {
		if e.Kind == migrate.EventFileDone {
			fmt.Fprintf(os.Stdout, "APPLIED %s\n", e.File)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = r.Up(context.Background())
	fmt.Fprintln(os.Stdout, "END")
}

// Kill -9 at random moments while Up runs (the whole server, the
// postmaster alone, or meshctl itself), restart, and compare what was
// reported with what PostgreSQL recovered.
func TestCrashMatrix(t *testing.T) {
	srv := pgtest.StartServer(t, "fsync=on", "synchronous_commit=on", "checkpoint_timeout=3600", "max_wal_size=4GB")
	const points = 20
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 8))
	for _, mode := range []string{"server", "postmaster", "meshctl"} {
		t.Run(mode, func(t *testing.T) {
			lost := 0
			for p := 0; p < points; p++ {
				dsn := srv.NewDB(t)
				delay := time.Duration(rng.IntN(1600)) * time.Millisecond
				label := fmt.Sprintf("%s kill at %s", mode, delay)
				var reported []string
				exact := false
				if mode == "meshctl" {
					reported = killHelper(t, dsn, delay)
				} else {
					r := testRunner(t, dsn, mapFS(slowFiles(12, 100*time.Millisecond)))
					killed := make(chan struct{})
					time.AfterFunc(delay, func() {
						defer close(killed)
						if mode == "server" {
							srv.KillAll(t)
						} else {
							srv.KillPostmaster(t)
						}
					})
					res, err := r.Up(context.Background())
					reported = appliedNames(res)
					var cl *migrate.ConnectionLostError
					var fe *migrate.FileError
					var ie *migrate.InterruptedError
					var de *migrate.DBError
					var ce *dbconn.Error
					switch {
					case err == nil:
						exact = true
					case errors.As(err, &cl):
						lost++
						exact = len(cl.Unknown) == 0
					case errors.As(err, &fe), errors.As(err, &ie):
						// A dropped connection must never be reported as
						// a file that failed and rolled back.
						t.Errorf("%s: Up failed with %T (%v), not a lost connection", label, err, err)
					case errors.As(err, &de):
						// Lost in meshctl's own SQL outside any file
						// (taking the lock): what it reported is all.
						exact = true
					case errors.As(err, &ce):
						// Killed while Up was still connecting: nothing
						// ran, nothing is reported, and checkCrash holds
						// the database to that.
						exact = true
					default:
						t.Errorf("%s: Up failed with %T (%v)", label, err, err)
					}
					<-killed // may come after Up returned
					waitRecovered(t, srv)
				}
				checkCrash(t, label, dsn, reported, exact)
			}
			t.Logf("%d points; %d ended in a lost connection", points, lost)
		})
	}
}

// waitRecovered waits until the server answers as a primary again (after
// a kill the old server may still answer for a moment).
func waitRecovered(t *testing.T, srv *pgtest.Server) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	srv.WaitReady(t)
}

func killHelper(t *testing.T, dsn string, delay time.Duration) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
	cmd.Env = append(os.Environ(), "MIGRATE_CRASH_DSN="+dsn)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(delay, func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
	var reported []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if f, ok := strings.CutPrefix(sc.Text(), "APPLIED "); ok {
			reported = append(reported, f)
		}
	}
	_ = cmd.Wait()
	timer.Stop()
	// The server finishes a batch whose client died; wait until this
	// database has no other session left before looking.
	c := connect(t, dsn)
	for i := 0; i < 100; i++ {
		var n int
		_ = c.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()").Scan(&n)
		if n == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return reported
}

// The runner's backend dies mid-batch (kill -9: no answer reaches the
// client, the server recovers). Up reconnects and reports exactly the
// files the tracking table shows, never "rolled back" for a committed one.
func TestConnectionLostMidBatchReportsWhatCommitted(t *testing.T) {
	srv := pgtest.StartServer(t, "fsync=on", "synchronous_commit=on", "wal_writer_delay=10ms")
	dsn := srv.NewDB(t)
	files := map[string]string{}
	for i := 1; i <= 10; i++ {
		files[fmt.Sprintf("%04d_t.sql", i)] = fmt.Sprintf("SELECT pg_sleep(0.15);\nCREATE TABLE t%04d (id int);\n", i)
	}
	files["0005_t.sql"] += "CREATE INDEX i0005 ON t0005 (id);\n" // its effect, for effects()
	r := testRunner(t, dsn, mapFS(files))
	watch := connect(t, dsn)
	go func() {
		time.Sleep(800 * time.Millisecond)
		var pid int
		if err := watch.QueryRow(context.Background(), "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'BEGIN;%'").Scan(&pid); err == nil {
			srv.KillBackend(t, pid)
		}
	}()
	res, err := r.Up(context.Background())
	var cl *migrate.ConnectionLostError
	if !errors.As(err, &cl) {
		t.Fatalf("Up: %T %v; want a ConnectionLostError", err, err)
	}
	if len(cl.Unknown) > 0 {
		t.Fatalf("outcome unknown: %v", err)
	}
	if len(res.Applied) == 0 || len(res.Applied) == 10 {
		t.Fatalf("the kill did not land inside the batch: %d applied (%v)", len(res.Applied), err)
	}
	if !strings.Contains(err.Error(), "the tracking table shows") {
		t.Errorf("message: %v", err)
	}
	waitRecovered(t, srv)
	checkCrash(t, "backend kill", dsn, appliedNames(res), true)
	t.Log(err)
}
