package migrate_test

import (
	"context"
	"strings"
	"testing"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

// Rows quoted by PostgreSQL in a failing file's DETAIL never show their
// values unless asked: the column names and the constraint stay.
func TestFailingFileDetailHidesRowValues(t *testing.T) {
	const secret = "sk-live-4f9c2e7d-SECRET"
	cases := []struct{ name, file, keep string }{
		{"not-null", "UPDATE keys SET owner = NULL;", "Failing row contains (…)"},
		{"duplicate", "CREATE UNIQUE INDEX keys_token ON keys (token);", "Key (token)=(…) is duplicated"},
		{"foreign-key", "ALTER TABLE keys ADD CONSTRAINT keys_tok_fk FOREIGN KEY (token) REFERENCES allowed (token);", "Key (token)=(…) is not present in table \"allowed\""},
		{"unique", "INSERT INTO uniq SELECT token FROM keys LIMIT 1;", "Key (token)=(…) already exists"},
		{"cast", "ALTER TABLE keys ALTER COLUMN token TYPE int USING token::int;", `invalid input syntax for type integer: "…"`},
	}
	for _, tc := range cases {
		for _, show := range []bool{false, true} {
			db := pgtest.NewEmptyDB(t)
			mustExec(t, db.Pool, `CREATE TABLE keys (id int, token text, owner text NOT NULL);
				INSERT INTO keys VALUES (1, '`+secret+`', 'a'), (2, '`+secret+`', 'b');
				CREATE TABLE allowed (token text PRIMARY KEY);
				CREATE TABLE uniq (token text PRIMARY KEY); INSERT INTO uniq VALUES ('`+secret+`')`)
			for _, notx := range []bool{false, true} {
				body := tc.file
				if notx {
					body = "-- meshctl:no-transaction\n" + body
				}
				r := testRunner(t, db.URL, mapFS(map[string]string{"0001_x.sql": body}), migrate.WithShowRowValues(show))
				_, err := r.Up(context.Background(), migrate.RetryFile())
				if err == nil {
					t.Fatalf("%s: the file did not fail", tc.name)
				}
				msg := err.Error()
				if show != strings.Contains(msg, secret) {
					t.Errorf("%s (show %v, no-transaction %v): %s", tc.name, show, notx, msg)
				}
				if !show && !strings.Contains(msg, tc.keep) {
					t.Errorf("%s: want %q in %s", tc.name, tc.keep, msg)
				}
			}
		}
	}
}
