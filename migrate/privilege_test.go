package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

// leastPrivilege sets up what production looks like: schema mesh and an
// upstream-created tracking table owned by another role, the migrating
// role with SELECT + INSERT on it and a schema of its own for its objects,
// no CREATE on the database or on mesh. The database's TimeZone is New
// York, as on the server where upstream's rows showed 5 h off.
func leastPrivilege(t *testing.T) (db *pgtest.DB, role, dsn string) {
	t.Helper()
	db = pgtest.NewEmptyDB(t)
	role = "app_" + db.Name
	owner := "owner_" + db.Name
	r, o, d := pgx.Identifier{role}.Sanitize(), pgx.Identifier{owner}.Sanitize(), pgx.Identifier{db.Name}.Sanitize()
	mustExec(t, db.Pool, fmt.Sprintf(`CREATE ROLE %[1]s LOGIN PASSWORD 'app-pw-123'; CREATE ROLE %[2]s;
		REVOKE CREATE ON DATABASE %[3]s FROM PUBLIC; ALTER DATABASE %[3]s SET timezone = 'America/New_York';
		CREATE SCHEMA mesh AUTHORIZATION %[2]s; CREATE SCHEMA app AUTHORIZATION %[1]s;
		CREATE TABLE mesh.__cmh_migrations (filename text PRIMARY KEY, sha256 text NOT NULL, applied_at timestamp NOT NULL DEFAULT now());
		ALTER TABLE mesh.__cmh_migrations OWNER TO %[2]s;
		GRANT USAGE ON SCHEMA mesh TO %[1]s; GRANT SELECT, INSERT ON mesh.__cmh_migrations TO %[1]s`, r, o, d))
	t.Cleanup(func() {
		for _, x := range []string{r, o} {
			_, _ = db.Pool.Exec(context.Background(), "DROP OWNED BY "+x+" CASCADE")
		}
		_, _ = db.Pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+r)
		_, _ = db.Pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+o)
	})
	u, _ := url.Parse(db.URL)
	u.User = url.UserPassword(role, "app-pw-123")
	return db, role, u.String()
}

func TestLeastPrivilegeUpstreamTable(t *testing.T) {
	db, role, dsn := leastPrivilege(t)
	ctx := context.Background()
	// An upstream row, written as upstream writes it: now() of a session
	// in the server's time zone.
	db.Pool.Reset()
	mustExec(t, db.Pool, "INSERT INTO mesh.__cmh_migrations (filename, sha256) VALUES ('0000_upstream.sql', 'x')")
	files := map[string]string{
		"0001_a.sql": "CREATE TABLE app.a (id int);",
		"0002_b.sql": "CREATE TABLE app.b (id int);",
	}
	r := testRunner(t, dsn, mapFS(files))
	res, err := r.Up(ctx)
	if err != nil {
		t.Fatalf("Up with SELECT + INSERT only: %v", err)
	}
	if len(res.Applied) != 2 {
		t.Fatalf("applied %v", appliedNames(res))
	}
	warned := false
	for _, w := range res.Warnings {
		if strings.Contains(w, "not recorded") && strings.Contains(w, "GRANT CREATE ON SCHEMA mesh TO "+role) {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning about the missing extras: %q", res.Warnings)
	}
	if pgtest.RelExists(t, db.Pool, "mesh.__cmh_migrations_meshctl") {
		t.Error("side table created without the privilege")
	}
	// Every time is right whatever wrote the row.
	appliedNow(t, r, "")

	// With CREATE on mesh, the side table appears and holds the extras.
	mustExec(t, db.Pool, "GRANT CREATE ON SCHEMA mesh TO "+role)
	files["0003_c.sql"] = "CREATE TABLE app.c (id int);"
	r = testRunner(t, dsn, mapFS(files), migrate.WithVersion("v-test"))
	res = mustUp(t, r)
	if len(res.Warnings) != 1 { // 0000_upstream.sql has no file
		t.Errorf("warnings %q", res.Warnings)
	}
	var how, version string
	if err := db.Pool.QueryRow(ctx, "SELECT applied_how, meshctl_version FROM mesh.__cmh_migrations_meshctl WHERE filename = '0003_c.sql'").Scan(&how, &version); err != nil {
		t.Fatal(err)
	}
	if how != migrate.HowExecuted || version != "v-test" {
		t.Errorf("extras %q %q", how, version)
	}
	appliedNow(t, r, "")

	// Without INSERT: refused before anything runs, naming the grant.
	mustExec(t, db.Pool, "REVOKE INSERT ON mesh.__cmh_migrations FROM "+role)
	files["0004_d.sql"] = "CREATE TABLE app.d (id int);"
	_, err = testRunner(t, dsn, mapFS(files)).Up(ctx)
	var pe *migrate.PrivilegeError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "GRANT INSERT ON mesh.__cmh_migrations TO "+role) {
		t.Errorf("without INSERT: %v", err)
	}
	if pgtest.RelExists(t, db.Pool, "app.d") {
		t.Error("a file ran although its row could not be written")
	}
	// Without SELECT: status names that grant, and never CREATE.
	mustExec(t, db.Pool, "REVOKE SELECT ON mesh.__cmh_migrations FROM "+role)
	_, err = testRunner(t, dsn, mapFS(files)).Status(ctx)
	if err == nil || !strings.Contains(err.Error(), "GRANT SELECT ON mesh.__cmh_migrations") || strings.Contains(err.Error(), "CREATE") {
		t.Errorf("status without SELECT: %v", err)
	}
}

// A no-transaction file needs <table>_partial: without CREATE on the
// schema the error says so before anything runs.
func TestLeastPrivilegeNoTransactionFile(t *testing.T) {
	db, role, dsn := leastPrivilege(t)
	_, err := testRunner(t, dsn, mapFS(map[string]string{
		"0001_a.sql": "-- meshctl:no-transaction\nCREATE TABLE app.a (id int);",
	})).Up(context.Background())
	if err == nil || !strings.Contains(err.Error(), "GRANT CREATE ON SCHEMA mesh TO "+role) || !strings.Contains(err.Error(), "_partial") {
		t.Errorf("no-transaction file without CREATE: %v", err)
	}
	if pgtest.RelExists(t, db.Pool, "app.a") {
		t.Error("the file ran")
	}
}

// Rows upstream wrote hold local wall time of a session in the server's
// time zone; meshctl's hold UTC. Status gives both as the right instant.
func TestAppliedAtWhateverTheServerTimeZone(t *testing.T) {
	// A named zone (read by Go) and a POSIX one Go does not load (read by
	// the server).
	for _, zone := range []string{"America/New_York", "UTC+3"} {
		db := pgtest.NewEmptyDB(t)
		mustExec(t, db.Pool, "ALTER DATABASE "+pgx.Identifier{db.Name}.Sanitize()+" SET timezone = '"+zone+"'")
		db.Pool.Reset() // new sessions get the zone
		mustExec(t, db.Pool, `CREATE SCHEMA mesh; CREATE TABLE mesh.__cmh_migrations (filename text PRIMARY KEY, sha256 text NOT NULL, applied_at timestamp NOT NULL DEFAULT now());
			INSERT INTO mesh.__cmh_migrations (filename, sha256) VALUES ('0001_up.sql', 'x')`)
		r := testRunner(t, db.URL, mapFS(map[string]string{"0002_me.sql": "CREATE TABLE me (id int);"}))
		mustUp(t, r)
		if n := appliedNow(t, r, zone); n != 2 {
			t.Errorf("%s: %d files", zone, n)
		}
	}
}

// appliedNow checks that status gives every file an applied_at within two
// minutes of now (the rows were just written), and returns how many.
func appliedNow(t *testing.T, r *migrate.Runner, label string) int {
	t.Helper()
	st, err := r.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range st.Files {
		if f.AppliedAt == nil || time.Since(*f.AppliedAt).Abs() > 2*time.Minute {
			t.Errorf("%s %s: applied_at %v, now %v", label, f.Filename, f.AppliedAt, time.Now().UTC())
		}
	}
	return len(st.Files)
}
