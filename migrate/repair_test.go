package migrate_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

func history(t *testing.T, db *pgtest.DB) []string {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT concat_ws('|', action, filename, new_filename, left(old_sha256, 12), left(new_sha256, 12), reason, actor, db_user IS NOT NULL, at IS NOT NULL)
		FROM mesh.__cmh_migrations_history ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		out = append(out, s)
	}
	return out
}

func stateOf(t *testing.T, r *migrate.Runner, file string) migrate.State {
	t.Helper()
	st, err := r.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return states(st)[file]
}

func TestRepairAccept(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	files := map[string]string{"0001_a.sql": "CREATE TABLE a (id int);"}
	mustUp(t, testRunner(t, db.URL, mapFS(files)))
	old := tracking(t, db.Pool)["0001_a.sql"]
	files["0001_a.sql"] = "CREATE TABLE a (id int); -- reformatted\n"
	r := testRunner(t, db.URL, mapFS(files))
	if s := stateOf(t, r, "0001_a.sql"); s != migrate.StateChanged {
		t.Fatalf("state %s", s)
	}
	if _, err := r.RepairForget(ctx, "0001_a.sql", migrate.RepairOptions{}); !errors.As(err, new(*migrate.RepairError)) {
		t.Errorf("forget of a file that is there: %v", err)
	}
	res, err := r.RepairAccept(ctx, "0001_a.sql", migrate.RepairOptions{DryRun: true})
	if err != nil || !res.DryRun || res.OldSHA256 != old {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	if tracking(t, db.Pool)["0001_a.sql"] != old || pgtest.RelExists(t, db.Pool, "mesh.__cmh_migrations_history") {
		t.Fatal("the dry run wrote")
	}
	if _, err := r.RepairAccept(ctx, "0001_a.sql", migrate.RepairOptions{Reason: "comment only", Actor: "ops"}); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, r, "0001_a.sql"); s != migrate.StateApplied {
		t.Errorf("after accept: %s", s)
	}
	src := r.Source().Lookup("0001_a.sql")
	want := "accept|0001_a.sql|" + old[:12] + "|" + src.SHA256[:12] + "|comment only|ops|t|t"
	if h := history(t, db); len(h) != 1 || h[0] != want {
		t.Errorf("history %q, want %q", h, want)
	}
	if _, err := r.RepairAccept(ctx, "0001_a.sql", migrate.RepairOptions{}); !errors.As(err, new(*migrate.RepairError)) {
		t.Errorf("accept of an unchanged file: %v", err)
	}
}

func TestRepairForgetAndRename(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	files := map[string]string{"0001_a.sql": "CREATE TABLE a (id int);", "0002_tpyo.sql": "CREATE TABLE b (id int);", "0003_c.sql": "CREATE TABLE c (id int);"}
	mustUp(t, testRunner(t, db.URL, mapFS(files)))
	delete(files, "0003_c.sql")
	files["0002_typo.sql"] = files["0002_tpyo.sql"]
	delete(files, "0002_tpyo.sql")
	files["0004_d.sql"] = "CREATE TABLE d (id int);"
	r := testRunner(t, db.URL, mapFS(files))
	if _, err := r.RepairRename(ctx, "0003_c.sql", "0004_d.sql", migrate.RepairOptions{}); err == nil || !strings.Contains(err.Error(), "not a rename") {
		t.Errorf("rename to a different file: %v", err)
	}
	if _, err := r.RepairRename(ctx, "0002_tpyo.sql", "0002_typo.sql", migrate.RepairOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RepairForget(ctx, "0003_c.sql", migrate.RepairOptions{}); err != nil {
		t.Fatal(err)
	}
	rows := tracking(t, db.Pool)
	if _, ok := rows["0002_tpyo.sql"]; ok || rows["0002_typo.sql"] == "" || rows["0003_c.sql"] != "" {
		t.Errorf("rows after rename and forget: %v", rows)
	}
	var side int
	if err := db.Pool.QueryRow(ctx, "SELECT count(*) FROM mesh.__cmh_migrations_meshctl WHERE filename IN ('0002_tpyo.sql', '0003_c.sql')").Scan(&side); err != nil || side != 0 {
		t.Errorf("stale side rows: %d %v", side, err)
	}
	// The renamed file is applied, never run again; only 0004 is pending.
	res := mustUp(t, r)
	if got := appliedNames(res); len(got) != 1 || got[0] != "0004_d.sql" {
		t.Errorf("up after the repairs applied %v", got)
	}
	if h := history(t, db); len(h) != 2 || !strings.HasPrefix(h[0], "rename|0002_tpyo.sql|0002_typo.sql|") || !strings.HasPrefix(h[1], "forget|0003_c.sql|") {
		t.Errorf("history %q", h)
	}
}

func TestRepairResolve(t *testing.T) {
	for _, applied := range []bool{true, false} {
		db := pgtest.NewEmptyDB(t)
		ctx := context.Background()
		files := map[string]string{"0001_n.sql": "-- meshctl:no-transaction\nCREATE TABLE n (id int);\nSELECT 1/0;\n"}
		if _, err := testRunner(t, db.URL, mapFS(files)).Up(ctx); err == nil {
			t.Fatal("the file did not fail")
		}
		r := testRunner(t, db.URL, mapFS(files))
		if s := stateOf(t, r, "0001_n.sql"); s != migrate.StateFailed {
			t.Fatalf("state %s", s)
		}
		if _, err := r.RepairResolve(ctx, "0001_n.sql", applied, migrate.RepairOptions{Reason: "checked"}); err != nil {
			t.Fatal(err)
		}
		want := migrate.StatePending
		if applied {
			want = migrate.StateApplied
		}
		if s := stateOf(t, r, "0001_n.sql"); s != want {
			t.Errorf("applied=%v: state %s, want %s", applied, s, want)
		}
		if pgtestRows(t, db, "SELECT count(*) FROM mesh.__cmh_migrations_partial") != 0 {
			t.Error("the failure is still recorded")
		}
	}
}

func pgtestRows(t *testing.T, db *pgtest.DB, q string) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Without UPDATE on the tracking table, accept names that grant.
func TestRepairNamesTheGrant(t *testing.T) {
	db, role, dsn := leastPrivilege(t)
	files := map[string]string{"0001_a.sql": "CREATE TABLE app.a (id int);"}
	mustUp(t, testRunner(t, dsn, mapFS(files)))
	files["0001_a.sql"] += "\n"
	_, err := testRunner(t, dsn, mapFS(files)).RepairAccept(context.Background(), "0001_a.sql", migrate.RepairOptions{})
	var pe *migrate.PrivilegeError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "GRANT UPDATE ON mesh.__cmh_migrations TO "+role) {
		t.Errorf("accept without UPDATE: %v", err)
	}
	_ = db
}
