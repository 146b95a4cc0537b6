package audit

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

// Under REPEATABLE READ or SERIALIZABLE a transaction's snapshot can
// predate the mesh lock, and two writers that each ran a statement before
// Append would both read the same tail and fork the chain. Append refuses
// such a transaction and writes nothing; an explicitly READ COMMITTED one
// works even when the database's default isolation is stricter.
func TestAppendRefusesSnapshotIsolation(t *testing.T) {
	db := pgtest.NewDB(t)
	addMesh(t, db, "m1")
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `ALTER DATABASE "`+db.Name+`" SET default_transaction_isolation = 'repeatable read'`); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, db.URL) // a new session: the new default
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	ev := Event{MeshID: "m1", EventType: "message_sent", Payload: []byte(`{"n":1}`)}
	for _, o := range []pgx.TxOptions{{}, {IsoLevel: pgx.RepeatableRead}, {IsoLevel: pgx.Serializable}} {
		tx, err := conn.BeginTx(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `SELECT count(*) FROM mesh.audit_log`); err != nil { // the snapshot
			t.Fatal(err)
		}
		_, err = Append(ctx, tx, ev)
		if !errors.Is(err, ErrIsolation) {
			t.Errorf("Append under %q (database default repeatable read): %v, want ErrIsolation", o.IsoLevel, err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
	}
	err = pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		_, err := Append(ctx, tx, ev)
		return err
	})
	if err != nil {
		t.Fatalf("Append in an explicit READ COMMITTED transaction: %v", err)
	}
	rep := verifyDB(t, db, VerifyOptions{})
	if !rep.Clean() || rep.Rows != 1 {
		t.Fatalf("after the refusals and one append: clean=%v rows=%d %+v", rep.Clean(), rep.Rows, rep.Findings)
	}
}
