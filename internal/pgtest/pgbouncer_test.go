package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

// The pooler really pools as asked: in session mode a client keeps its
// backend while another client holds a transaction; in transaction mode
// the other client's transaction takes the backend the first client just
// released (PgBouncer reuses the most recently released server), and the
// first client's next statement runs elsewhere.
func TestStartPgBouncer(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		pinned bool
	}{
		{pgtest.PoolSession, true},
		{pgtest.PoolTransaction, false},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			ctx := context.Background()
			db := pgtest.NewEmptyDB(t)
			dsn := pgtest.StartPgBouncer(t, db, tc.mode)
			connect := func() *pgx.Conn {
				c, err := pgx.Connect(ctx, dsn)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close(context.Background()) })
				return c
			}
			pid := func(c *pgx.Conn) uint32 {
				var p uint32
				if err := c.QueryRow(ctx, "SELECT pg_backend_pid()", pgx.QueryExecModeSimpleProtocol).Scan(&p); err != nil {
					t.Fatal(err)
				}
				return p
			}
			a, b := connect(), connect()
			p1 := pid(a)
			if _, err := b.Exec(ctx, "BEGIN", pgx.QueryExecModeSimpleProtocol); err != nil {
				t.Fatal(err)
			}
			q := pid(b)
			p2 := pid(a)
			pinned := p1 == p2 && q != p1
			if pinned != tc.pinned {
				t.Errorf("%s mode: client A on backends %d then %d, client B's transaction on %d; pinned = %v, want %v",
					tc.mode, p1, p2, q, pinned, tc.pinned)
			}
		})
	}
}
