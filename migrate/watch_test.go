package migrate_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

// An index build waiting behind an idle transaction is reported while it
// waits: its phase, and the blocking session with its pid, application,
// state and since when.
func TestLongStatementReportsProgressAndBlocker(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	mustExec(t, db.Pool, "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 1000)")
	holder := connect(t, db.URL)
	var holderPID int
	if err := holder.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&holderPID); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, "SET application_name = 'idle-writer'"); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, "BEGIN; INSERT INTO t VALUES (0)"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []*migrate.StatementProgress
	released := false
	r := testRunner(t, db.URL, mapFS(map[string]string{"0001_i.sql": "-- meshctl:no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);\n"}),
		migrate.WithWatch(200*time.Millisecond, 200*time.Millisecond),
		migrate.WithProgress(func(e migrate.Event) {
			if e.Kind != migrate.EventStatementProgress {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, e.Progress)
			if len(seen) >= 3 && !released {
				released = true
				go func() { _, _ = holder.Exec(context.Background(), "COMMIT") }()
			}
		}))
	done := make(chan error, 1)
	go func() { _, err := r.Up(ctx); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Up did not finish")
	}
	mu.Lock()
	defer mu.Unlock()
	ok := false
	for _, p := range seen {
		for _, b := range p.Blockers {
			if b.PID == holderPID && b.ApplicationName == "idle-writer" && b.State == "idle in transaction" && b.Since != nil &&
				strings.Contains(p.Phase, "waiting") {
				ok = true
			}
		}
	}
	if !ok {
		for _, p := range seen {
			t.Logf("progress: %+v", *p)
		}
		t.Errorf("no progress event named the blocker pid %d in a waiting phase", holderPID)
	}
}
