package pgquote_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgquote"
	"github.com/claudemesh/meshctl/internal/pgtest"
)

// PostgreSQL reads every quoted value back as the value, under both
// settings of standard_conforming_strings.
func TestLiteralRoundTripsThroughPostgreSQL(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	values := []string{"", "plain", "it's", `back\slash`, `\'`, `'\`, "''", `\\'\\`, "E'x'", "ünï \u2028 😀", "line\nbreak\ttab", "$$dollar$$", "--comment", "/* c */"}
	for _, scs := range []string{"on", "off"} {
		if _, err := conn.Exec(ctx, "SET standard_conforming_strings = "+scs); err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			var got string
			// Simple protocol: the literal is parsed by the server's lexer.
			rows, err := conn.PgConn().Exec(ctx, "SELECT "+pgquote.Literal(v)).ReadAll()
			if err != nil {
				t.Fatalf("scs=%s %q: %v", scs, v, err)
			}
			got = string(rows[0].Rows[0][0])
			if got != v {
				t.Errorf("scs=%s: %q read back as %q", scs, v, got)
			}
		}
	}
}
