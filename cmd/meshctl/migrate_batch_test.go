package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

// --batch 1 makes every commit durable on its own; the default batch
// flushes once per batch. PostgreSQL counts its WAL fsyncs (pg_stat_wal,
// fsync=on; the WAL writer asleep so it adds none).
func TestMigrateUpBatchFlag(t *testing.T) {
	srv := pgtest.StartServer(t, "fsync=on", "wal_writer_delay=10000ms", "checkpoint_timeout=3600")
	files := map[string]string{}
	const n = 20
	for i := 1; i <= n; i++ {
		files[fmt.Sprintf("%04d_t.sql", i)] = fmt.Sprintf("CREATE TABLE t%04d (id int);\n", i)
	}
	dir := writeDir(t, files)
	syncs := func(args ...string) int64 {
		t.Helper()
		dsn := srv.NewDB(t)
		ctx := context.Background()
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "SELECT pg_stat_reset_shared('wal')"); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCLI(t, append([]string{"--database-url", dsn, "migrate", "up", "--dir", dir}, args...)...)
		if code != 0 || !strings.Contains(stdout, fmt.Sprintf("applied %d files", n)) {
			t.Fatalf("up %v: exit %d: %s%s", args, code, stdout, stderr)
		}
		// A backend reports its WAL statistics when it ends: wait for
		// meshctl's to be gone.
		for i := 0; i < 100; i++ {
			var others int
			if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()").Scan(&others); err != nil || others == 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		var s int64
		if _, err := c.Exec(ctx, "SELECT pg_stat_force_next_flush()"); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRow(ctx, "SELECT wal_sync FROM pg_stat_wal").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	one := syncs("--batch", "1")
	def := syncs()
	if one < n {
		t.Errorf("--batch 1: %d WAL fsyncs for %d files, want one per file at least", one, n)
	}
	if def >= n/2 {
		t.Errorf("default batch: %d WAL fsyncs for %d files, want about one per batch", def, n)
	}
	t.Logf("WAL fsyncs: --batch 1: %d, default: %d", one, def)
	for _, bad := range []string{"0", "-3"} {
		if code, _, stderr := runCLI(t, "--database-url", srv.URL, "migrate", "up", "--dir", dir, "--batch", bad); code != ExitUsage || !strings.Contains(stderr, "--batch") {
			t.Errorf("--batch %s: exit %d: %s", bad, code, stderr)
		}
	}
}

// A failing file's DETAIL hides row values unless --show-row-values.
func TestMigrateUpShowRowValues(t *testing.T) {
	const secret = "tok-SECRET-77aa"
	for _, show := range []bool{false, true} {
		db := pgtest.NewEmptyDB(t)
		if _, err := db.Pool.Exec(context.Background(), "CREATE TABLE k (t text); INSERT INTO k VALUES ('"+secret+"'), ('"+secret+"')"); err != nil {
			t.Fatal(err)
		}
		dir := writeDir(t, map[string]string{"0001_u.sql": "CREATE UNIQUE INDEX k_t ON k (t);"})
		args := []string{"--database-url", db.URL, "migrate", "up", "--dir", dir}
		if show {
			args = append(args, "--show-row-values")
		}
		code, _, stderr := runCLI(t, args...)
		if code != ExitError || strings.Contains(stderr, secret) != show || !strings.Contains(stderr, "Key (t)=(") {
			t.Errorf("show %v: exit %d: %s", show, code, stderr)
		}
	}
}

func TestWatchLine(t *testing.T) {
	since := time.Date(2026, 1, 2, 17, 58, 1, 0, time.UTC)
	ev := migrate.Event{Kind: migrate.EventStatementProgress, File: "0005_idx.sql", Statement: 2, Duration: 12 * time.Second,
		Progress: &migrate.StatementProgress{Phase: "building index: scanning table", BlocksDone: 1234, BlocksTotal: 56789,
			Blockers: []migrate.Blocker{{PID: 4242, ApplicationName: "psql", State: "idle in transaction", Since: &since}}}}
	want := "0005_idx.sql #2 running 12s: building index: scanning table 1,234/56,789 blocks; blocked by pid 4242 (psql, idle in transaction since 17:58:01Z)"
	if got := watchLine(ev); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// up shows who blocks a long index build (here in a log: one line per
// change of phase or blockers).
func TestMigrateUpShowsTheBlocker(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, "CREATE TABLE t (id int)"); err != nil {
		t.Fatal(err)
	}
	holder, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	var pid int
	if err := holder.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, "SET application_name = 'idle-writer'; BEGIN; INSERT INTO t VALUES (1)", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	release := time.AfterFunc(migrate.DefaultWatchAfter+2*time.Second, func() { _, _ = holder.Exec(context.Background(), "COMMIT") })
	defer release.Stop()
	dir := writeDir(t, map[string]string{"0001_i.sql": "-- meshctl:no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);\n"})
	code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir)
	if code != 0 || !strings.Contains(stderr, "0001_i.sql #1 running") ||
		!strings.Contains(stderr, fmt.Sprintf("blocked by pid %d (idle-writer, idle in transaction since ", pid)) {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
}
