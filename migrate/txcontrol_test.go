package migrate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

// acctFile opens a transaction block in a no-transaction file whose later
// statement fails: run as written, the rollback would take the earlier
// INSERT and the progress recorded inside the block with it.
const acctFile = migrate.NoTransactionMarker + "\nCREATE TABLE acct (id int);\nBEGIN;\nINSERT INTO acct VALUES (1);\nINSERT INTO gate VALUES (1);\nCOMMIT;\n"

// Transaction control in a no-transaction file is refused by Up and Plan
// before anything runs, like every lint error.
func TestExplicitTransactionInNoTransactionFileIsRefused(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	r := testRunner(t, db.URL, mapFS(map[string]string{"0001_acct.sql": acctFile}))
	p, err := r.Plan(ctx)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	var le *migrate.LintError
	if !errors.As(p.Err(), &le) || le.Findings[0].Rule != migrate.RuleExplicitTransaction || le.Findings[0].Line != 3 {
		t.Fatalf("Plan.Err: %v; want the explicit-transaction lint error at line 3", p.Err())
	}
	_, err = r.Up(ctx)
	if !errors.As(err, &le) || le.Findings[0].Rule != migrate.RuleExplicitTransaction {
		t.Fatalf("Up: %v; want a *migrate.LintError (explicit-transaction)", err)
	}
	if pgtest.RelExists(t, db.Pool, "acct") || pgtest.RelExists(t, db.Pool, "mesh.__cmh_migrations_partial") {
		t.Error("something ran before the refusal")
	}
}

// Behind the lint: a statement that leaves a transaction block open is a
// failure of that statement. The block is rolled back before any progress
// is recorded, so the record says exactly what stayed applied (statement
// 1), and a resume would start at the statement that opened the block.
func TestNoTransactionStatementLeavingABlockOpenFails(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	r := testRunner(t, db.URL, mapFS(map[string]string{"0001_acct.sql": acctFile}))
	err := migrate.ApplyNoTxUnlinted(ctx, r, "0001_acct.sql")
	var fe *migrate.FileError
	if !errors.As(err, &fe) || fe.Statement != 2 || fe.Line != 3 {
		t.Fatalf("got %v; want a *migrate.FileError at statement #2 (line 3), the BEGIN", err)
	}
	var done, failed int
	if err := db.Pool.QueryRow(ctx, "SELECT statements_done, failed_statement FROM mesh.__cmh_migrations_partial WHERE filename = '0001_acct.sql'").Scan(&done, &failed); err != nil {
		t.Fatal(err)
	}
	if done != 1 || failed != 2 {
		t.Errorf("progress: statements_done %d, failed_statement %d; want 1 and 2", done, failed)
	}
	if !pgtest.RelExists(t, db.Pool, "acct") {
		t.Error("statement 1 (CREATE TABLE acct) did not stay applied")
	}
	if n := pgtestRows(t, db, "SELECT count(*)::int FROM acct"); n != 0 {
		t.Errorf("acct holds %d rows; statement 3 ran although the block was left open", n)
	}
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := states(st)["0001_acct.sql"]; s != migrate.StateFailed {
		t.Errorf("state %s, want failed", s)
	}
}
