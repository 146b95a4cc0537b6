package migrate

import (
	"context"
	"strings"
)

// A resumed no-transaction file continues in a new session, where
// everything the file's earlier statements set for the session is gone:
// search_path, standard_conforming_strings, the role. The statements after
// the failed one were written for the session those statements left, so
// it is restored before the file continues: statements that only set
// session state (SET, RESET, SET ROLE, SET SESSION AUTHORIZATION) are run
// again, in order. A statement that changed the session in a way that
// cannot be re-created safely refuses the resume.

// sessionEffect says what statement toks did to the session, for a
// resume: replay when it only sets session state and is run again; unsafe
// names a change that cannot be replayed safely. Neither: the statement
// leaves no session state behind (SET LOCAL, SET TRANSACTION and SET
// CONSTRAINTS only act inside a transaction block, which a no-transaction
// statement never runs in).
func sessionEffect(toks []lexToken) (replay bool, unsafe string) {
	t := stmtWords(toks)
	// set_config(name, value, false) is a SET whose name and value may be
	// computed: it cannot be told apart from its local form without
	// evaluating it, nor replayed without running the whole statement.
	// Inside a function body (DO, CREATE FUNCTION) it is found in the
	// string that holds the body.
	for _, tok := range toks {
		if (tok.Kind == tokWord && strings.EqualFold(tok.Text, "set_config")) ||
			(tok.Kind == tokString && strings.Contains(strings.ToLower(tok.Text), "set_config")) {
			if t.w(0) == "CREATE" { // a function that may call it later, not a call now
				break
			}
			return false, "set_config"
		}
	}
	switch t.w(0) {
	case "SET":
		switch t.w(1) {
		case "LOCAL", "TRANSACTION", "CONSTRAINTS":
			return false, ""
		}
		return true, ""
	case "RESET":
		return true, ""
	case "DISCARD":
		return false, "DISCARD"
	case "LOAD":
		return false, "LOAD"
	case "PREPARE":
		if t.w(1) != "TRANSACTION" {
			return false, "PREPARE (a prepared statement of the session)"
		}
	case "DECLARE":
		return false, "DECLARE (a cursor of the session)"
	case "CREATE":
		// CREATE [OR REPLACE] [GLOBAL|LOCAL] TEMP[ORARY] ...: later
		// statements would find a permanent object of the same name, or
		// none, in a new session.
		for i := 1; i < 5; i++ {
			if w := t.w(i); w == "TEMP" || w == "TEMPORARY" {
				return false, "CREATE TEMPORARY (an object of the session)"
			}
		}
	case "SELECT":
		if t.has("INTO") && (t.has("TEMP") || t.has("TEMPORARY")) {
			return false, "SELECT INTO TEMPORARY (a table of the session)"
		}
	}
	return false, ""
}

// resumeReplay lists the statements before first that a resume of f runs
// again to restore the session, or the *ResumeSessionError that refuses
// the resume.
func resumeReplay(f *File, first int) ([]int, error) {
	var out []int
	stmts := f.Statements()
	for i := 0; i < first && i < len(stmts); i++ {
		st := stmts[i]
		if st.Empty() {
			continue
		}
		replay, unsafe := sessionEffect(st.tokens)
		if unsafe != "" {
			return nil, &ResumeSessionError{File: f.Name, Statement: i + 1, Line: st.Line, What: unsafe}
		}
		if replay {
			out = append(out, i)
		}
	}
	return out, nil
}

// replaySession runs again the statements of f before first that set the
// session state, so a resumed file continues in the session it left.
func (s *session) replaySession(ctx context.Context, f *File, first int) error {
	idx, err := resumeReplay(f, first)
	if err != nil {
		return err
	}
	for _, i := range idx {
		st := f.Statements()[i]
		if _, err := s.conn.PgConn().Exec(ctx, st.Text).ReadAll(); err != nil {
			s.rollback(ctx)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &ResumeSessionError{File: f.Name, Statement: i + 1, Line: st.Line, Err: err}
		}
	}
	return nil
}
