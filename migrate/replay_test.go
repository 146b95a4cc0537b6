package migrate

import "testing"

// Which earlier statements of a no-transaction file a resume runs again,
// and which refuse it.
func TestSessionEffect(t *testing.T) {
	tests := []struct {
		sql    string
		replay bool
		unsafe bool
	}{
		{"SET search_path = app, public;", true, false},
		{"SET SESSION standard_conforming_strings TO off;", true, false},
		{"SET ROLE app_owner;", true, false},
		{"SET SESSION AUTHORIZATION app_owner;", true, false},
		{"set time zone 'UTC';", true, false},
		{"RESET ALL;", true, false},
		{"SET LOCAL search_path = app;", false, false},
		{"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;", false, false},
		{"SET CONSTRAINTS ALL DEFERRED;", false, false},
		{"CREATE TABLE t (x int);", false, false},
		{"SELECT set_config('search_path', 'app', false);", false, true},
		{"SELECT pg_catalog.SET_CONFIG('x.y', 'z', false);", false, true},
		{"DO $$ BEGIN PERFORM set_config('search_path', 'app', false); END $$;", false, true},
		{"CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ SELECT set_config('a.b', 'c', true) $$;", false, false},
		{"DISCARD ALL;", false, true},
		{"CREATE TEMP TABLE s (x int);", false, true},
		{"CREATE GLOBAL TEMPORARY TABLE s (x int);", false, true},
		{"SELECT 1 INTO TEMP s;", false, true},
		{"PREPARE p AS SELECT 1;", false, true},
		{"LOAD 'auto_explain';", false, true},
	}
	for _, tt := range tests {
		f := mustFile(t, "0001_x.sql", NoTransactionMarker+"\n"+tt.sql)
		replay, unsafe := sessionEffect(f.Statements()[len(f.Statements())-1].tokens)
		if replay != tt.replay || (unsafe != "") != tt.unsafe {
			t.Errorf("%s: replay %v, unsafe %q; want replay %v, unsafe %v", tt.sql, replay, unsafe, tt.replay, tt.unsafe)
		}
	}
}
