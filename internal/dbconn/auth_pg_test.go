package dbconn_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/claudemesh/meshctl/internal/dbconn"
	"github.com/claudemesh/meshctl/internal/pgtest"
)

// PostgreSQL's own password check is the oracle for how a raw URL is cut
// into credentials and host: each role's password holds '@', '?', '%' or
// ':' written raw in the URL, and the login succeeds only if the password
// meshctl sent is the whole password (a wrong one is refused: the server
// checks passwords over TCP here).
func TestRawURLPasswordsAuthenticate(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	base, err := url.Parse(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	for i, pw := range []string{"Tr0ub@dor?x1", "Tr0ub@dor?x1=2", "a?b@c", "p@ss:w0rd", "50%off@x"} {
		role := fmt.Sprintf("pw_oracle_%d", i)
		if _, err := db.Pool.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, strings.ReplaceAll(pw, "'", "''"))); err != nil {
			t.Fatal(err)
		}
		raw := fmt.Sprintf("postgres://%s:%s@%s%s?sslmode=disable&connect_timeout=5", role, pw, base.Host, base.Path)
		conn, err := dbconn.Connect(ctx, raw, "meshctl")
		if err != nil {
			t.Errorf("password %q written raw: %v", pw, err)
			continue
		}
		var who string
		if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != role {
			t.Errorf("password %q: logged in as %q (%v)", pw, who, err)
		}
		conn.Close(ctx)
		wrong := fmt.Sprintf("postgres://%s:%s@%s%s?sslmode=disable&connect_timeout=5", role, pw+"x", base.Host, base.Path)
		if c, err := dbconn.Connect(ctx, wrong, "meshctl"); err == nil {
			c.Close(ctx)
			t.Fatalf("a wrong password logged in: the server does not check passwords, so this test proves nothing")
		}
	}
}
