package audit

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

// Verify of one mesh through a transaction-mode PgBouncer reads that
// mesh's rows every time, while another client of the same pool sets
// session state on the server connections it shares: nothing of Verify's
// selection may live in a session.
func TestVerifyOneMeshBehindTransactionPooler(t *testing.T) {
	db := pgtest.NewDB(t)
	odd := `m'1\x` // a quote and a backslash: quoted, not interpolated
	addMesh(t, db, odd, "m2")
	appendN(t, db.Pool, odd, "w", 5, true)
	appendN(t, db.Pool, "m2", "w", 3, true)
	dsn := pgtest.StartPgBouncer(t, db, pgtest.PoolTransaction)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the other client
		defer wg.Done()
		other, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer other.Close(context.Background())
		for ctx.Err() == nil {
			_, _ = other.PgConn().Exec(ctx, `SELECT set_config('meshctl.audit_mesh', 'm2', false)`).ReadAll()
		}
	}()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for i := 0; i < 60; i++ {
		rep, err := Verify(ctx, conn, VerifyOptions{MeshID: odd})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Rows != 5 || !rep.Clean() || len(rep.Meshes) != 1 {
			t.Fatalf("run %d: %d rows, clean=%v, %d meshes; want mesh %q's 5 rows", i, rep.Rows, rep.Clean(), len(rep.Meshes), odd)
		}
	}
	cancel()
	wg.Wait()
}
