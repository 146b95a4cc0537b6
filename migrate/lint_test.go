package migrate

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func mustFile(t *testing.T, name, body string) *File {
	t.Helper()
	f, err := newFile(name, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLintRules(t *testing.T) {
	const noTx = NoTransactionMarker + "\n"
	type hit struct {
		Line int
		Rule string
		Sev  Severity
	}
	tests := []struct {
		name string
		body string
		want []hit
	}{
		{"clean", "CREATE TABLE mesh.t (id text PRIMARY KEY);\nCREATE INDEX t_idx ON mesh.t (id);\nALTER TABLE mesh.t ADD CONSTRAINT c CHECK (id <> '');", nil},
		{"cic in transaction", "SELECT 1;\nCREATE INDEX CONCURRENTLY i ON mesh.topic (name);",
			[]hit{{2, RuleNeedsNoTransaction, SeverityError}}},
		{"unique cic in transaction", "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);",
			[]hit{{1, RuleNeedsNoTransaction, SeverityError}}},
		{"cic alone in no-tx file", noTx + "CREATE INDEX CONCURRENTLY i ON mesh.topic (name);", nil},
		{"cic mixed in no-tx file", noTx + "CREATE INDEX CONCURRENTLY i ON mesh.topic (name);\nUPDATE mesh.topic SET name = lower(name) WHERE true;",
			[]hit{{2, RuleConcurrentlyMixed, SeverityWarning}}},
		{"vacuum", "VACUUM mesh.topic;", []hit{{1, RuleNeedsNoTransaction, SeverityError}}},
		{"explicit transaction", "BEGIN;\nCREATE TABLE a (x int);\nCOMMIT;",
			[]hit{{1, RuleExplicitTransaction, SeverityError}, {3, RuleExplicitTransaction, SeverityError}}},
		{"rollback to savepoint is fine", "SAVEPOINT s;\nROLLBACK TO SAVEPOINT s;", nil},
		// The migration lock is a session-level advisory lock: nothing in
		// a file may release it, in either mode.
		{"discard all in no-tx file", noTx + "SELECT 1;\ndiscard all;", []hit{{3, RuleReleasesLock, SeverityError}}},
		{"unlock all in transactional file", "SELECT 1;\nSELECT pg_catalog.pg_advisory_unlock_all();", []hit{{2, RuleReleasesLock, SeverityError}}},
		{"other discards and the name in a string are fine", noTx + "DISCARD PLANS;\nDISCARD SEQUENCES;\nSELECT 'pg_advisory_unlock_all';", nil},
		{"begin inside function body is fine", "CREATE FUNCTION f() RETURNS void AS $$ BEGIN NULL; END $$ LANGUAGE plpgsql;", nil},
		// The runner's progress records must stay outside any transaction
		// block, so transaction control is refused in no-transaction files
		// too, in every spelling.
		{"explicit transaction in no-transaction file", noTx + "BEGIN;\nSELECT 1;\nCOMMIT;",
			[]hit{{2, RuleExplicitTransaction, SeverityError}, {4, RuleExplicitTransaction, SeverityError}}},
		{"every transaction-control statement in no-transaction file", noTx + "START TRANSACTION;\nEND;\nROLLBACK;\nABORT;\nPREPARE TRANSACTION 'x';\nCOMMIT PREPARED 'x';\nROLLBACK PREPARED 'x';\nbegin isolation level serializable;",
			[]hit{{2, RuleExplicitTransaction, SeverityError}, {3, RuleExplicitTransaction, SeverityError}, {4, RuleExplicitTransaction, SeverityError},
				{5, RuleExplicitTransaction, SeverityError}, {6, RuleExplicitTransaction, SeverityError}, {7, RuleExplicitTransaction, SeverityError},
				{8, RuleExplicitTransaction, SeverityError}, {9, RuleExplicitTransaction, SeverityError}}},
		{"rollback to savepoint in no-transaction file is not transaction control", noTx + "ROLLBACK TO SAVEPOINT s;", nil},
		{"drop table", "DROP TABLE IF EXISTS mesh.audit_log;", []hit{{1, RuleDestructive, SeverityWarning}}},
		{"drop column", "ALTER TABLE mesh.member DROP COLUMN display_name;", []hit{{1, RuleDestructive, SeverityWarning}}},
		{"drop column without keyword", "ALTER TABLE mesh.member ADD COLUMN x int, DROP y;", []hit{{1, RuleDestructive, SeverityWarning}}},
		{"drop constraint and default are fine", "ALTER TABLE mesh.member DROP CONSTRAINT c, ALTER COLUMN x DROP DEFAULT, ALTER COLUMN y DROP NOT NULL;", nil},
		{"truncate", "TRUNCATE mesh.presence;", []hit{{1, RuleDestructive, SeverityWarning}}},
		{"delete without where", "DELETE FROM mesh.presence;", []hit{{1, RuleDestructive, SeverityWarning}}},
		{"delete with where", "DELETE FROM mesh.presence WHERE disconnected_at IS NOT NULL;", nil},
		{"index on existing table", "CREATE INDEX i ON \"mesh\".\"topic\" USING btree (\"name\");",
			[]hit{{1, RuleIndexBlocking, SeverityWarning}}},
		{"index on table created in file, quoting differs", "CREATE TABLE \"mesh\".\"x\" (a int);\nCREATE INDEX i ON mesh.x (a);", nil},
		{"fk without not valid", "ALTER TABLE mesh.topic ADD CONSTRAINT fk FOREIGN KEY (mesh_id) REFERENCES mesh.mesh(id);",
			[]hit{{1, RuleConstraintValidate, SeverityWarning}}},
		{"fk not valid", "ALTER TABLE mesh.topic ADD CONSTRAINT fk FOREIGN KEY (mesh_id) REFERENCES mesh.mesh(id) NOT VALID;", nil},
		{"check without not valid", "ALTER TABLE ONLY mesh.topic ADD CHECK (name <> '');", []hit{{1, RuleConstraintValidate, SeverityWarning}}},
		{"fk on new table", "CREATE TABLE mesh.y (a text);\nALTER TABLE mesh.y ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES mesh.mesh(id);", nil},
		// An inline REFERENCES on a new column is validated by a scan only
		// when the column has a DEFAULT (any DEFAULT, even DEFAULT NULL) or
		// a stored generated expression; without one every row is NULL and
		// PostgreSQL skips the check, as it does for an identity column.
		// Checked on PostgreSQL 15 (pg_stat_user_tables.seq_scan, and a
		// default that violates the key).
		{"add column with default and references", "ALTER TABLE b ADD COLUMN x text DEFAULT 'v' REFERENCES a(id);",
			[]hit{{1, RuleConstraintValidate, SeverityWarning}}},
		{"add column references before default, no COLUMN keyword", "ALTER TABLE IF EXISTS mesh.b ADD x text REFERENCES mesh.a (id) ON DELETE CASCADE DEFAULT now()::text;",
			[]hit{{1, RuleConstraintValidate, SeverityWarning}}},
		{"add column default null and references", "ALTER TABLE b ADD COLUMN IF NOT EXISTS x text DEFAULT NULL REFERENCES a;",
			[]hit{{1, RuleConstraintValidate, SeverityWarning}}},
		{"add column with default and references, second action", "ALTER TABLE b ADD COLUMN y int, ADD COLUMN x text NOT NULL DEFAULT 'v' CONSTRAINT b_x_fk REFERENCES a(id);",
			[]hit{{1, RuleConstraintValidate, SeverityWarning}}},
		{"add column with default and check", "ALTER TABLE b ADD COLUMN x int DEFAULT 1 CHECK (x > 0);",
			[]hit{{1, RuleConstraintValidate, SeverityWarning}}},
		{"add column stored generated and references", "ALTER TABLE b ADD COLUMN g text GENERATED ALWAYS AS ('zz') STORED REFERENCES a(id);",
			[]hit{{1, RuleConstraintValidate, SeverityWarning}}},
		{"add column identity and references (PostgreSQL skips the check)", "ALTER TABLE b ADD COLUMN g int GENERATED BY DEFAULT AS IDENTITY REFERENCES a(id);", nil},
		{"add column references without default", "ALTER TABLE b ADD COLUMN x text REFERENCES a(id);", nil},
		{"add column references on delete set default, no default", "ALTER TABLE b ADD COLUMN x text REFERENCES a(id) ON DELETE SET DEFAULT;", nil},
		{"default and references in different actions", "ALTER TABLE b ADD COLUMN x text DEFAULT 'v', ADD COLUMN y text REFERENCES a(id);", nil},
		{"add column with default and references on new table", "CREATE TABLE b (id int);\nALTER TABLE b ADD COLUMN x text DEFAULT 'v' REFERENCES a(id);", nil},
		{"set not null", "ALTER TABLE mesh.member ALTER COLUMN user_id SET NOT NULL;", []hit{{1, RuleSetNotNull, SeverityWarning}}},
		{"enum add value in transaction", "ALTER TYPE \"mesh\".\"role\" ADD VALUE 'owner';", []hit{{1, RuleEnumAddValueInTx, SeverityWarning}}},
		{"enum add value without transaction", noTx + "ALTER TYPE mesh.role ADD VALUE IF NOT EXISTS 'owner';", nil},
		{"unterminated string", "SELECT 1;\nSELECT 'oops;", []hit{{2, RuleSyntax, SeverityError}}},
		{"keywords in strings and comments ignored", "-- DROP TABLE x;\nSELECT 'TRUNCATE t; BEGIN;';", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []hit
			for _, f := range LintFile(mustFile(t, "0001_x.sql", tt.body)) {
				got = append(got, hit{f.Line, f.Rule, f.Severity})
				if f.Why == "" || f.Fix == "" || f.File != "0001_x.sql" {
					t.Errorf("finding without why/fix/file: %+v", f)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// The fix for transaction control never sends the author to the other
// mode: a transactional file's BEGIN does not belong in a no-transaction
// file either (it would take the runner's progress records into its
// transaction block).
func TestExplicitTransactionFixNeverSuggestsNoTransaction(t *testing.T) {
	for _, body := range []string{"BEGIN;\nSELECT 1;\nCOMMIT;", NoTransactionMarker + "\nBEGIN;\nSELECT 1;\nCOMMIT;"} {
		fs := LintFile(mustFile(t, "0001_x.sql", body))
		if len(fs) != 2 {
			t.Fatalf("%q: findings %+v, want two explicit-transaction errors", body, fs)
		}
		for _, f := range fs {
			if f.Rule != RuleExplicitTransaction {
				t.Errorf("%q: unexpected finding %+v", body, f)
			}
			transactional := !strings.HasPrefix(body, NoTransactionMarker)
			if strings.Contains(f.Fix, "mark the file") || (transactional && strings.Contains(f.Fix, NoTransactionMarker)) {
				t.Errorf("%q: the fix recommends the no-transaction marker: %q", body, f.Fix)
			}
		}
	}
}

func TestNoTransactionMarker(t *testing.T) {
	tests := []struct {
		body string
		want bool
	}{
		{NoTransactionMarker + "\nCREATE INDEX CONCURRENTLY i ON t (a);", true},
		{"-- a header comment\n\n" + NoTransactionMarker + "\nSELECT 1;", true},
		{"SELECT 1;\n" + NoTransactionMarker + "\n", false},
		{"-- meshctl:no-transactions\nSELECT 1;", false},
	}
	for _, tt := range tests {
		if got := hasNoTxMarker(tt.body); got != tt.want {
			t.Errorf("hasNoTxMarker(%q) = %v, want %v", tt.body, got, tt.want)
		}
	}
}

// Two files with one version number (two branches, a regenerated drizzle
// migration) are reported on the later one.
func TestLintDuplicateVersion(t *testing.T) {
	src, err := LoadSource(fstest.MapFS{
		"0000_living_namora.sql": {Data: []byte("SELECT 1;")},
		"0000_sloppy_stryfe.sql": {Data: []byte("SELECT 1;")},
		"0001_next.sql":          {Data: []byte("SELECT 1;")},
		"README_notes.sql":       {Data: []byte("SELECT 1;")},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range Lint(src) {
		if f.Rule == RuleDuplicateVersion {
			got = append(got, f.File+": "+f.Message)
		}
	}
	want := []string{"0000_sloppy_stryfe.sql: version 0000 is also used by 0000_living_namora.sql"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("duplicate-version findings (-want +got):\n%s", diff)
	}
}

// TestLintFollowsConformingStrings: lint follows
// standard_conforming_strings across statements and files. The SET is
// reported where it is; a later file that upstream's single session would
// read differently (with the setting off) is reported too, and one that
// reads the same, or comes after the setting is restored, is not.
func TestLintFollowsConformingStrings(t *testing.T) {
	src, err := LoadSource(fstest.MapFS{
		"0001_off.sql":     file("CREATE TABLE t (s text);\nSET standard_conforming_strings = off;\n"),
		"0002_plain.sql":   file("INSERT INTO t VALUES ('plain');"),
		"0003_path.sql":    file("INSERT INTO t VALUES ('C:\\'); SELECT ';';"),
		"0004_on.sql":      file("RESET standard_conforming_strings;"),
		"0005_path.sql":    file("INSERT INTO t VALUES ('C:\\');"),
		"0006_notx.sql":    file(NoTransactionMarker + "\nSET standard_conforming_strings TO 'off';\nSELECT 'it\\'s';\nSET standard_conforming_strings = on;\n"),
		"0007_after.sql":   file("SELECT 'D:\\';"),
		"0008_unended.sql": file("SET SESSION standard_conforming_strings = false;"),
	})
	if err != nil {
		t.Fatal(err)
	}
	type hit struct {
		File string
		Line int
	}
	var got []hit
	for _, f := range Lint(src) {
		if f.Rule == RuleConformingStrings {
			got = append(got, hit{f.File, f.Line})
		}
		if f.Severity == SeverityError {
			t.Errorf("unexpected error finding %+v", f)
		}
	}
	want := []hit{{"0001_off.sql", 2}, {"0003_path.sql", 1}, {"0006_notx.sql", 2}, {"0008_unended.sql", 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}
