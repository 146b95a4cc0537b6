package migrate

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// texts returns the non-empty statements' text, trimmed, for comparison.
func texts(stmts []Statement) []string {
	var out []string
	for _, s := range stmts {
		if !s.Empty() {
			out = append(out, strings.TrimSpace(s.Text))
		}
	}
	return out
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"two simple", "SELECT 1; SELECT 2;", []string{"SELECT 1;", "SELECT 2;"}},
		{"no trailing semicolon or newline", "SELECT 1;\nSELECT 2", []string{"SELECT 1;", "SELECT 2"}},
		{"semicolon in string", "SELECT 'a;b'; SELECT 2;", []string{"SELECT 'a;b';", "SELECT 2;"}},
		{"doubled quote", "SELECT 'it''s; ok'; SELECT 2;", []string{"SELECT 'it''s; ok';", "SELECT 2;"}},
		{"backslash in standard string", `SELECT 'C:\'; SELECT 2;`, []string{`SELECT 'C:\';`, "SELECT 2;"}},
		{"E string escapes", `SELECT E'a\'; b'; SELECT 2;`, []string{`SELECT E'a\'; b';`, "SELECT 2;"}},
		{"e string lower", `SELECT e'\\'; SELECT 2;`, []string{`SELECT e'\\';`, "SELECT 2;"}},
		{"U& string", `SELECT U&'d\0061t;a'; SELECT 2;`, []string{`SELECT U&'d\0061t;a';`, "SELECT 2;"}},
		{"dollar quote", "CREATE FUNCTION f() RETURNS int AS $$ BEGIN; RETURN 1; END $$ LANGUAGE plpgsql; SELECT 2;",
			[]string{"CREATE FUNCTION f() RETURNS int AS $$ BEGIN; RETURN 1; END $$ LANGUAGE plpgsql;", "SELECT 2;"}},
		{"tagged dollar quote with $$ inside", "DO $body$ BEGIN PERFORM '$$;'; END $body$; SELECT 2;",
			[]string{"DO $body$ BEGIN PERFORM '$$;'; END $body$;", "SELECT 2;"}},
		{"dollar in string", "INSERT INTO t VALUES ('costs $5; $x$'); SELECT 2;", []string{"INSERT INTO t VALUES ('costs $5; $x$');", "SELECT 2;"}},
		{"positional parameter is not a quote", "PREPARE p AS SELECT $1; SELECT 2;", []string{"PREPARE p AS SELECT $1;", "SELECT 2;"}},
		{"identifier with dollar", "SELECT a$b$ FROM t; SELECT 2;", []string{"SELECT a$b$ FROM t;", "SELECT 2;"}},
		{"quoted identifier", `CREATE TABLE "we;ird""x" (a int); SELECT 2;`, []string{`CREATE TABLE "we;ird""x" (a int);`, "SELECT 2;"}},
		{"line comment", "SELECT 1; -- a; b\nSELECT 2;", []string{"SELECT 1;", "-- a; b\nSELECT 2;"}},
		{"line comment ends at a lone CR", "SELECT 1; -- a\rCOMMIT; SELECT 2;", []string{"SELECT 1;", "-- a\rCOMMIT;", "SELECT 2;"}},
		{"drizzle breakpoint", "CREATE SCHEMA \"mesh\";\n--> statement-breakpoint\nCREATE TYPE x AS ENUM('a');--> statement-breakpoint\nSELECT 1;",
			[]string{`CREATE SCHEMA "mesh";`, "--> statement-breakpoint\nCREATE TYPE x AS ENUM('a');", "--> statement-breakpoint\nSELECT 1;"}},
		{"nested block comment", "/* a /* b; */ c; */ SELECT 1; SELECT 2;", []string{"/* a /* b; */ c; */ SELECT 1;", "SELECT 2;"}},
		{"non-ASCII comment", "-- café; 日本語 🚀\nSELECT 1;", []string{"-- café; 日本語 🚀\nSELECT 1;"}},
		{"begin atomic", "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END; SELECT 3;",
			[]string{"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;", "SELECT 3;"}},
		{"parameter named begin", "CREATE FUNCTION f(begin int) RETURNS int LANGUAGE sql AS 'SELECT 1'; COMMIT; SELECT 2;",
			[]string{"CREATE FUNCTION f(begin int) RETURNS int LANGUAGE sql AS 'SELECT 1';", "COMMIT;", "SELECT 2;"}},
		{"end after a dot in begin atomic", "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT b.end FROM booking b; SELECT B.End FROM booking b; END; SELECT 2;",
			[]string{"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT b.end FROM booking b; SELECT B.End FROM booking b; END;", "SELECT 2;"}},
		{"case after a dot in begin atomic", "CREATE FUNCTION f() RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT r.case FROM rules r; END; COMMIT; CREATE TABLE later (x int);",
			[]string{"CREATE FUNCTION f() RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT r.case FROM rules r; END;", "COMMIT;", "CREATE TABLE later (x int);"}},
		{"case after AS in begin atomic", "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 AS case; END; COMMIT;",
			[]string{"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 AS case; END;", "COMMIT;"}},
		{"end after AS in begin atomic", "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 as END; SELECT 2; END; COMMIT;",
			[]string{"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 as END; SELECT 2; END;", "COMMIT;"}},
		{"a column named as before end", "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN r.as END FROM r; END; COMMIT;",
			[]string{"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN r.as END FROM r; END;", "COMMIT;"}},
		{"transaction begin is a statement", "BEGIN; SELECT 1; COMMIT;", []string{"BEGIN;", "SELECT 1;", "COMMIT;"}},
		{"rule with a parenthesised action list", "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2)); SELECT 2;",
			[]string{"CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));", "SELECT 2;"}},
		{"stray closing parenthesis", "SELECT 1); SELECT 2;", []string{"SELECT 1);", "SELECT 2;"}},
		{"operator before a comment", "SELECT 1 <--x\n; SELECT 2;", []string{"SELECT 1 <--x\n;", "SELECT 2;"}},
		{"only comments", "-- nothing\n/* here */", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stmts, err := splitStatements(tt.src)
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			if diff := cmp.Diff(tt.want, texts(stmts)); diff != "" {
				t.Errorf("statements (-want +got):\n%s", diff)
			}
			if got := join(stmts); got != tt.src {
				t.Errorf("join changed the input: %q", got)
			}
		})
	}
}

// TestOperatorTokens checks operators are cut as PostgreSQL's scanner cuts
// them (scan.l's operator rule): the longest run of operator characters,
// stopped by a comment, and a trailing + or - split off unless the
// operator holds one of ~ ! @ # ^ & | ` ? %.
func TestOperatorTokens(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{"a <= b", []string{"a", "<=", "b"}},
		{"a < = b", []string{"a", "<", "=", "b"}},
		{"x::int", []string{"x", "::", "int"}},
		{"x: :int", []string{"x", ":", ":", "int"}},
		{"j->>'k'", []string{"j", "->>", "'k'"}},
		{"j-> >'k'", []string{"j", "->", ">", "'k'"}},
		{"2 ^ -1", []string{"2", "^", "-", "1"}},
		{"2^-1", []string{"2", "^-", "1"}},
		{"a=-1", []string{"a", "=", "-", "1"}},
		{"a+-b", []string{"a", "+", "-", "b"}},
		{"a@-b", []string{"a", "@-", "b"}},
		{"a</* c */=b", []string{"a", "<", "=", "b"}},
		{"1e-5 + .5 - 1.5e+3", []string{"1e-5", "+", ".5", "-", "1.5e+3"}},
		{"1e - 5", []string{"1e", "-", "5"}},
		{"a := 1", []string{"a", ":=", "1"}},
		{"B'101' b '101'", []string{"B'101'", "b", "'101'"}},
		{"$1 || $2", []string{"$1", "||", "$2"}},
	}
	for _, tt := range tests {
		stmts, err := splitStatements(tt.src)
		if err != nil {
			t.Fatalf("%q: %v", tt.src, err)
		}
		var got []string
		for _, tok := range stmts[0].tokens {
			got = append(got, tok.Text)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%q tokens (-want +got):\n%s", tt.src, diff)
		}
	}
}

// TestSplitStringContinuation: a '...' after a string's closing quote,
// across a newline with only whitespace and -- comments between, continues
// that string, and is read in its mode (scan.l's xqs state returns to the
// state the string was in): backslash escapes stay on after E'...' and, with
// standard_conforming_strings off, after '...' and N'...'; they stay off
// after U&'...', B'...' and X'...' whatever the setting.
func TestSplitStringContinuation(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		scsOff bool
		want   []string
	}{
		{"E string continued", "COMMENT ON TABLE a1 IS E'x'\n'\\' ' ; COMMIT; SELECT 1/0 -- '\n;", false,
			[]string{"COMMENT ON TABLE a1 IS E'x'\n'\\' ' ;", "COMMIT;", "SELECT 1/0 -- '\n;"}},
		{"E string continued with an escaped quote", "SELECT E'a'\n'it\\'s'; SELECT 2;", false,
			[]string{"SELECT E'a'\n'it\\'s';", "SELECT 2;"}},
		{"continued twice", "SELECT E'a'\n'b'\r\n  '\\'; '; SELECT 2;", false,
			[]string{"SELECT E'a'\n'b'\r\n  '\\'; ';", "SELECT 2;"}},
		{"continued across line comments", "SELECT E'a' -- c\n-- d\n'\\'; '; SELECT 2;", false,
			[]string{"SELECT E'a' -- c\n-- d\n'\\'; ';", "SELECT 2;"}},
		{"on the same line, not continued", "SELECT E'a' '\\'; SELECT 2;", false,
			[]string{"SELECT E'a' '\\';", "SELECT 2;"}},
		{"block comment ends the string", "SELECT E'a' /* c */\n'\\'; SELECT 2;", false,
			[]string{"SELECT E'a' /* c */\n'\\';", "SELECT 2;"}},
		{"plain string stays plain", "SELECT 'a'\n'\\'; SELECT 2;", false,
			[]string{"SELECT 'a'\n'\\';", "SELECT 2;"}},
		{"U& string continued", "SELECT U&'a'\n'\\'; SELECT 2;", false,
			[]string{"SELECT U&'a'\n'\\';", "SELECT 2;"}},
		{"plain string continued, scs off", "SELECT 'a'\n'\\'; '; SELECT 2;", true,
			[]string{"SELECT 'a'\n'\\'; ';", "SELECT 2;"}},
		{"N string continued, scs off", "SELECT N'a'\n'\\'; '; SELECT 2;", true,
			[]string{"SELECT N'a'\n'\\'; ';", "SELECT 2;"}},
		{"E string continued, scs off", "SELECT E'a'\n'\\'; '; SELECT 2;", true,
			[]string{"SELECT E'a'\n'\\'; ';", "SELECT 2;"}},
		{"U& string continued, scs off", "SELECT U&'a'\n'\\'; SELECT 2;", true,
			[]string{"SELECT U&'a'\n'\\';", "SELECT 2;"}},
		{"B string continued, scs off", "SELECT B'1'\n'\\'; SELECT 2;", true,
			[]string{"SELECT B'1'\n'\\';", "SELECT 2;"}},
		{"X string continued, scs off", "SELECT X'1'\n'\\'; SELECT 2;", true,
			[]string{"SELECT X'1'\n'\\';", "SELECT 2;"}},
		{"B string then a plain string, scs off", "SELECT B'1', '\\'; '; SELECT 2;", true,
			[]string{"SELECT B'1', '\\'; ';", "SELECT 2;"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stmts, err := split(tt.src, tt.scsOff, false)
			if err != nil {
				t.Fatalf("split: %v", err)
			}
			if diff := cmp.Diff(tt.want, texts(stmts)); diff != "" {
				t.Errorf("statements (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSplitStandardConformingStrings: a file sent statement by statement
// is read after SET standard_conforming_strings = off as the server reads
// it then, with \' escaping a quote in a plain string.
func TestSplitStandardConformingStrings(t *testing.T) {
	src := "SET standard_conforming_strings = off;\nSELECT 'a\\'; COMMIT; --';\nRESET standard_conforming_strings;\nSELECT 'b\\'; SELECT 2;"
	tracked, err := split(src, false, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"SET standard_conforming_strings = off;", "SELECT 'a\\'; COMMIT; --';", "RESET standard_conforming_strings;", "SELECT 'b\\';", "SELECT 2;"}
	if diff := cmp.Diff(want, texts(tracked)); diff != "" {
		t.Errorf("tracked (-want +got):\n%s", diff)
	}
	whole, _ := splitStatements(src)
	if len(texts(whole)) == len(want) {
		t.Errorf("read as one query string, the SET must not change the reading: %q", texts(whole))
	}
	for _, tt := range []struct {
		stmt     string
		off, set bool
	}{
		{"SET standard_conforming_strings TO off", true, true},
		{"set session standard_conforming_strings = 'of'", true, true},
		{"SET standard_conforming_strings = false", true, true},
		{"SET standard_conforming_strings = 0", true, true},
		{"SET standard_conforming_strings = on", false, true},
		{"SET standard_conforming_strings TO DEFAULT", false, true},
		{"RESET ALL", false, true},
		{"SET LOCAL standard_conforming_strings = off", false, false},
		{"SELECT set_config('standard_conforming_strings', 'off', false)", true, true},
		{"SELECT SET_CONFIG('standard_conforming_strings', 'on', false)", false, true},
		{"SELECT set_config('standard_conforming_strings', 'off', true)", false, false},
		{"SET search_path = off", false, false},
	} {
		st, _ := splitStatements(tt.stmt)
		off, set := scsSetting(st[0].tokens)
		if off != tt.off || set != tt.set {
			t.Errorf("%q: off=%v set=%v, want %v %v", tt.stmt, off, set, tt.off, tt.set)
		}
	}
}

func join(stmts []Statement) string {
	var b strings.Builder
	for _, s := range stmts {
		b.WriteString(s.Text)
	}
	return b.String()
}

func TestSplitUnterminated(t *testing.T) {
	tests := []struct {
		src       string
		line, col int
	}{
		{"SELECT 1;\nSELECT 'abc", 2, 8},
		{"SELECT 1;\n  /* never /* closed */", 2, 3},
		{"SELECT $f$ body", 1, 8},
		{`SELECT "ident`, 1, 8},
		{`SELECT E'\'`, 1, 8},
	}
	for _, tt := range tests {
		stmts, err := splitStatements(tt.src)
		if err == nil {
			t.Errorf("%q: want a syntax error", tt.src)
			continue
		}
		if err.Line != tt.line || err.Col != tt.col {
			t.Errorf("%q: error at %d:%d, want %d:%d (%v)", tt.src, err.Line, err.Col, tt.line, tt.col, err)
		}
		if join(stmts) != tt.src {
			t.Errorf("%q: join lost bytes: %q", tt.src, join(stmts))
		}
	}
}

func TestStatementPositions(t *testing.T) {
	src := "-- héllo\nSELECT 1;\n\n  /* x */ CREATE TABLE t (a int);"
	stmts, _ := splitStatements(src)
	var got [][2]int
	for _, s := range stmts {
		got = append(got, [2]int{s.Line, s.Col})
	}
	if diff := cmp.Diff([][2]int{{2, 1}, {4, 11}}, got); diff != "" {
		t.Errorf("positions (-want +got):\n%s", diff)
	}
}

func TestNormalizedSHA256(t *testing.T) {
	base := "CREATE TABLE t (a int);\nSELECT 'x  y';\n"
	tests := []struct {
		name     string
		other    string
		cosmetic bool
	}{
		{"crlf", strings.ReplaceAll(base, "\n", "\r\n"), true},
		{"comment added", "-- why\n" + base + "/* done */", true},
		{"reindented", "CREATE   TABLE t (\n  a int\n);\nSELECT 'x  y';", true},
		{"string content", strings.Replace(base, "x  y", "x y", 1), false},
		{"identifier", strings.Replace(base, "a int", "b int", 1), false},
		{"keyword case", "create table T (A INT);\nselect 'x  y';\n", true},
		{"quoted identifier case", strings.Replace(base, "t (", `"T" (`, 1), false},
		{"no-transaction marker added", NoTransactionMarker + "\n" + base, false},
		{"operator respaced", strings.Replace(base, "SELECT 'x  y'", "SELECT 1 <= 2", 1), false},
		{"string continued on the next line", "CREATE TABLE t (a int);\nSELECT 'x '\n' y';\n", false},
	}
	for _, tt := range tests {
		if got := NormalizedSHA256(tt.other) == NormalizedSHA256(base); got != tt.cosmetic {
			t.Errorf("%s: same normalised hash = %v, want %v", tt.name, got, tt.cosmetic)
		}
	}
}

// FuzzSplit checks the splitter never panics and never loses or reorders a
// byte, whatever the input.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		"SELECT 1; SELECT 2", "SELECT 'a;b'", "E'\\'';", "$a$ ; $a$;", "/* /* */ */;", "-- x\n;", `"a;""b";`,
		"CREATE FUNCTION f() BEGIN ATOMIC SELECT 1; END; SELECT 2;", "U&'x';", "$1;$$", "café;日本;",
		"CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT 1; INSERT 2); X;", "a<=-1;b::c;d->>e;", "1e-5;.5;1..2;", "(;", ");",
		"SET standard_conforming_strings = off; SELECT 'a\\'';'", "B'1';x'f';N'n';", "E'a'\n'\\'';'", "U&'a' -- c\n'b';",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		checkSplit(t, src, false)
		checkSplit(t, src, true)
	})
}

func checkSplit(t *testing.T, src string, track bool) {
	t.Helper()
	{
		stmts, err := split(src, false, track)
		if got := join(stmts); got != src {
			t.Fatalf("join(Split(%q)) = %q", src, got)
		}
		off := 0
		for _, s := range stmts {
			if s.Offset != off {
				t.Fatalf("statement offset %d, want %d", s.Offset, off)
			}
			off += len(s.Text)
			for _, tok := range s.tokens {
				if tok.Off < s.Offset || tok.Off+len(tok.Text) > s.Offset+len(s.Text) || src[tok.Off:tok.Off+len(tok.Text)] != tok.Text {
					t.Fatalf("token %q at %d is not inside its statement", tok.Text, tok.Off)
				}
			}
		}
		if err != nil && (err.Line < 1 || err.Col < 1) {
			t.Fatalf("bad error position %v", err)
		}
		// Positions (counted incrementally) agree with LineCol.
		for _, s := range stmts {
			at := s.Offset
			if len(s.tokens) > 0 {
				at = s.tokens[0].Off
			}
			if l, c := lineCol(src, at); l != s.Line || c != s.Col {
				t.Fatalf("statement at %d: position %d:%d, LineCol says %d:%d", at, s.Line, s.Col, l, c)
			}
		}
	}
}

func TestRedactLiterals(t *testing.T) {
	tests := []struct{ in, want string }{
		{"CREATE ROLE app LOGIN PASSWORD 'pw'", "CREATE ROLE app LOGIN PASSWORD '...'"},
		{`SELECT E'a\'b', U&'x', $t$ body $t$, "ident", 42`, `SELECT '...', '...', '...', "ident", 42`},
		{"ALTER ROLE app PASSWORD 'cut sho", "ALTER ROLE app PASSWORD '...'"},
		{"SELECT 1 -- 'comment'", "SELECT 1 -- 'comment'"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := RedactLiterals(tt.in); got != tt.want {
			t.Errorf("RedactLiterals(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSplitLarge crosses token chunk boundaries (statements that start in
// one chunk and end in the next) and checks nothing is lost.
func TestSplitLarge(t *testing.T) {
	src := bigMigration(1 << 20)
	checkSplit(t, src, false)
	stmts, _ := splitStatements(src)
	n := 0
	for _, s := range stmts {
		n += len(s.tokens)
	}
	if n < len(src)/16*3 {
		t.Fatalf("%d tokens: the test no longer crosses chunks", n)
	}
	if got := strings.Count(src, "-- block"); len(texts(stmts)) != 6*got {
		t.Errorf("%d statements, want %d", len(texts(stmts)), 6*got)
	}
}
