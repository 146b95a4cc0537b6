package audit

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

// forgedRows returns a database holding n rows (every tenth in mesh
// "small", the rest in "big"), written fast with forged hashes, and a
// connection to it.
func forgedRows(t *testing.T, n int) (*pgtest.DB, *pgx.Conn) {
	t.Helper()
	db := pgtest.NewDB(t)
	addMesh(t, db, "big", "small")
	exec(t, db, `INSERT INTO mesh.audit_log (mesh_id, event_type, payload, prev_hash, hash)
SELECT CASE WHEN i % 10 = 0 THEN 'small' ELSE 'big' END, 'x', '{}', 'genesis', 'h' FROM generate_series(1, $1::int) i`, n)
	conn, err := pgx.Connect(context.Background(), db.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return db, conn
}

// TestVerifyProgress: the callback is called, never goes backwards, ends
// on the rows verified, and is quiet once Verify has returned. The rows
// are forged (Progress counts rows, not clean ones) so that enough of
// them exist for the reporter to tick while the stream runs; the test
// does not depend on it ticking.
func TestVerifyProgress(t *testing.T) {
	ctx := context.Background()
	_, conn := forgedRows(t, 200000)
	var (
		mu       sync.Mutex
		returned bool // Verify has returned: the callback must be quiet
		late     bool
	)
	for _, tt := range []struct {
		mesh string
		rows int64
	}{
		{"", 200000},
		{"small", 20000},
		{"nobody", 0},
	} {
		var calls []int64 // guarded by mu
		lastDone := false
		mu.Lock()
		returned = false
		mu.Unlock()
		rep, err := Verify(ctx, conn, VerifyOptions{MeshID: tt.mesh, Workers: 2, Progress: func(p Progress) {
			rows := p.Rows
			mu.Lock()
			defer mu.Unlock()
			late = late || returned
			calls = append(calls, rows)
			lastDone = p.Done
		}})
		mu.Lock()
		returned = true
		mu.Unlock()
		if err != nil {
			t.Fatalf("mesh %q: %v", tt.mesh, err)
		}
		if rep.Rows != tt.rows {
			t.Fatalf("mesh %q: report has %d rows, want %d", tt.mesh, rep.Rows, tt.rows)
		}
		if !lastDone {
			t.Errorf("mesh %q: the last progress report is not marked Done", tt.mesh)
		}
		if len(calls) == 0 {
			t.Fatalf("mesh %q: Progress was never called", tt.mesh)
		}
		for i := 1; i < len(calls); i++ {
			if calls[i] < calls[i-1] {
				t.Errorf("mesh %q: progress went backwards: %v", tt.mesh, calls)
				break
			}
		}
		if last := calls[len(calls)-1]; last != rep.Rows {
			t.Errorf("mesh %q: last progress %d, report %d rows", tt.mesh, last, rep.Rows)
		}
		t.Logf("mesh %q: %d progress calls for %d rows", tt.mesh, len(calls), rep.Rows)
	}
	// Checked after the later runs, which gave a stray caller time to show.
	if late {
		t.Error("Progress was called after Verify returned")
	}

	// A failed run makes no final call: the count would be meaningless.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	var calls int
	if _, err := Verify(cctx, conn, VerifyOptions{Progress: func(Progress) { calls++ }}); err == nil {
		t.Fatal("Verify with a cancelled context succeeded")
	}
	if calls != 0 {
		t.Errorf("a failed Verify called Progress %d times", calls)
	}
}

func TestEstimateRows(t *testing.T) {
	ctx := context.Background()
	db, conn := forgedRows(t, 50000)
	exec(t, db, `ANALYZE mesh.audit_log`)
	// More rows after ANALYZE: the estimate scales with the table's size.
	exec(t, db, `INSERT INTO mesh.audit_log (mesh_id, event_type, payload, prev_hash, hash)
SELECT 'big', 'x', '{}', 'genesis', 'h' FROM generate_series(1, 50000)`)
	for _, tt := range []struct {
		mesh     string
		min, max int64
	}{
		{"small", 5000, 5000}, // exact
		{"big", 95000, 95000},
		{"nobody", 0, 0},
		{"", 90000, 110000}, // the planner's estimate
	} {
		n, err := EstimateRows(ctx, conn, tt.mesh)
		if err != nil || n < tt.min || n > tt.max {
			t.Errorf("EstimateRows(%q) = %d, %v; want %d..%d", tt.mesh, n, err, tt.min, tt.max)
		}
	}
	// The connection is still usable (the budgeted count ran in its own
	// transaction).
	if _, err := Verify(ctx, conn, VerifyOptions{MeshID: "small"}); err != nil {
		t.Fatal(err)
	}
}
