package migrate

import (
	"context"
	"fmt"
	"strings"
)

// When --resume continues a no-transaction file at the statement that was
// running when it stopped, that statement may have taken effect anyway
// (the server finished CREATE INDEX CONCURRENTLY after meshctl was killed)
// or half (an interrupted build leaves an invalid index). Running it again
// would fail with "already exists", so the effect is looked for first.

// indexTarget reads CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS]
// name ON [ONLY] table: the index name as PostgreSQL stores it and the
// table as written. ok is false for any other statement (or an unnamed
// index).
func indexTarget(toks []lexToken) (name, table string, ok bool) {
	i := 0
	word := func(w string) bool {
		if i < len(toks) && toks[i].Kind == tokWord && strings.EqualFold(toks[i].Text, w) {
			i++
			return true
		}
		return false
	}
	if !word("CREATE") {
		return "", "", false
	}
	word("UNIQUE")
	if !word("INDEX") {
		return "", "", false
	}
	word("CONCURRENTLY")
	if word("IF") && !(word("NOT") && word("EXISTS")) {
		return "", "", false
	}
	if i >= len(toks) || (toks[i].Kind != tokWord && toks[i].Kind != tokQIdent) || strings.EqualFold(toks[i].Text, "ON") {
		return "", "", false
	}
	name = identName(toks[i])
	i++
	if !word("ON") {
		return "", "", false
	}
	word("ONLY")
	// The table: name [. name]
	var parts []string
	for i < len(toks) && (toks[i].Kind == tokWord || toks[i].Kind == tokQIdent) {
		parts = append(parts, toks[i].Text)
		i++
		if i < len(toks) && toks[i].Kind == tokPunct && toks[i].Text == "." {
			i++
			continue
		}
		break
	}
	if len(parts) == 0 {
		return "", "", false
	}
	return name, strings.Join(parts, "."), true
}

// identName is an identifier as PostgreSQL stores it: unquoted folded to
// lower case, quoted with its quotes removed.
func identName(t lexToken) string {
	if t.Kind == tokQIdent {
		return strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(t.Text, `"`), `"`), `""`, `"`)
	}
	return strings.ToLower(t.Text)
}

// effectThere reports whether st already took effect: for CREATE INDEX, an
// index of that name on that table exists and is valid. An invalid one is
// a *FileError saying how to drop it.
func (s *session) effectThere(ctx context.Context, f *File, idx int) (bool, error) {
	st := f.Statements()[idx]
	name, table, ok := indexTarget(st.tokens)
	if !ok {
		return false, nil
	}
	rows, err := s.rawRows(ctx, `SELECT i.indisvalid, format('%I.%I', n.nspname, c.relname)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE i.indrelid = to_regclass(`+literal(table)+`) AND c.relname = `+literal(name))
	if err != nil {
		return false, dbErr("looking for the index of "+f.Name, err)
	}
	if len(rows) == 0 {
		return false, nil
	}
	valid, qualified := string(rows[0][0]) == "t", string(rows[0][1])
	if valid {
		return true, nil
	}
	drop := "DROP INDEX CONCURRENTLY " + qualified + ";"
	return false, &FileError{File: f.Name, Statement: idx + 1, Line: st.Line, Col: st.Col, NoTransaction: true,
		Message:        fmt.Sprintf("index %s exists but is invalid (its build was interrupted or failed)", qualified),
		InvalidIndexes: []string{qualified},
		DropStatement:  drop}
}
