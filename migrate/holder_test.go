package migrate_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/meshfmt"
	"github.com/claudemesh/meshctl/migrate"
)

// The lock holder's query (from pg_stat_activity) reaches stderr, CI logs
// and --json; another runner's statement may carry a secret such as
// CREATE ROLE ... PASSWORD '...'. Its literals are redacted.
func TestLockHolderQueryHidesLiterals(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	holder, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock($1), 'role-pw-s3cret' AS x, E'more\\'s3cret', $$dollar s3cret$$",
		meshfmt.MigrationLockKey); err != nil {
		t.Fatal(err)
	}
	r := testRunner(t, db.URL, mapFS(map[string]string{"0001_a.sql": "CREATE TABLE t1 (a int);"}),
		migrate.WithLockWait(200*time.Millisecond), migrate.WithLockPoll(50*time.Millisecond))
	_, err = r.Up(ctx)
	var le *migrate.LockError
	if !errors.As(err, &le) || le.Holder == nil {
		t.Fatalf("want *migrate.LockError naming the holder, got %v", err)
	}
	for _, s := range []string{err.Error(), le.Holder.Query} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("a literal of the holder's query is shown: %q", s)
		}
	}
	if !strings.Contains(le.Holder.Query, "pg_advisory_lock") {
		t.Errorf("the holder's query is gone entirely: %q", le.Holder.Query)
	}
}
