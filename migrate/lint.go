package migrate

import (
	"fmt"
	"strings"
)

// Severity of a lint finding. Error findings in a pending file stop `Up`
// before anything is sent to the database.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Rule ids. They are stable: operators silence or grep by them.
const (
	RuleSyntax              = "syntax"
	RuleNeedsNoTransaction  = "needs-no-transaction"
	RuleConcurrentlyMixed   = "concurrently-mixed"
	RuleExplicitTransaction = "explicit-transaction"
	RuleDestructive         = "destructive"
	RuleIndexBlocking       = "index-without-concurrently"
	RuleConstraintValidate  = "constraint-without-not-valid"
	RuleSetNotNull          = "set-not-null"
	RuleEnumAddValueInTx    = "enum-add-value-in-transaction"
	RuleDuplicateVersion    = "duplicate-version"
	RuleCopyStdin           = "copy-from-stdin"
	RulePsqlMeta            = "psql-meta-command"
	RuleByteOrderMark       = "byte-order-mark"
	RuleConformingStrings   = "standard-conforming-strings"
	RuleReleasesLock        = "releases-migration-lock"
)

// Finding is one lint result: where, which rule, why it matters, and how
// to fix it.
type Finding struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Col      int      `json:"column"`
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Why      string   `json:"why"`
	Fix      string   `json:"fix"`
}

// Lint checks every file of src. Lint never touches a database.
//
// It follows standard_conforming_strings from file to file: meshctl turns
// it on again before each file, but upstream's runner keeps one session
// for the whole run, so a file after one that turns it off is read there
// with backslash escapes in plain strings. A file that would be cut into
// different statements that way is reported.
func Lint(src *Source) []Finding {
	var out []Finding
	seen := map[string]string{} // version prefix -> first file
	scsOffBy := ""              // file:line of the SET that turned it off, "" while on
	for _, f := range src.Files {
		if scsOffBy != "" && readsDifferentlyWithoutSCS(f) {
			out = append(out, Finding{File: f.Name, Line: 1, Col: 1, Rule: RuleConformingStrings, Severity: SeverityWarning,
				Message: "this file is cut into different statements while standard_conforming_strings is off, as " + scsOffBy + " leaves it",
				Why:     "meshctl turns the setting on again before each file, but upstream's runner (the broker at start-up) runs every file in one session, where a backslash in a plain string escapes the quote",
				Fix:     "remove the SET from " + scsOffBy + ", or write E'...' strings where backslash escapes are meant"})
		}
		for _, st := range f.Statements() {
			if off, ok := scsSetting(st.tokens); ok {
				scsOffBy = ""
				if off {
					scsOffBy = fmt.Sprintf("%s:%d", f.Name, st.Line)
				}
			}
		}
		if v := versionPrefix(f.Name); v != "" {
			if first, dup := seen[v]; dup {
				out = append(out, Finding{File: f.Name, Line: 1, Col: 1, Rule: RuleDuplicateVersion, Severity: SeverityWarning,
					Message: "version " + v + " is also used by " + first,
					Why:     "two files with one version usually come from two branches or a regenerated migration; both will run, in name order",
					Fix:     "renumber one of them, or delete the one that should not exist"})
			} else {
				seen[v] = f.Name
			}
		}
		out = append(out, LintFile(f)...)
	}
	return out
}

// versionPrefix returns the leading digits of a file name ("0007" of
// 0007_add-groups.sql), or "" when it has none.
func versionPrefix(name string) string {
	i := 0
	for i < len(name) && name[i] >= '0' && name[i] <= '9' {
		i++
	}
	return name[:i]
}

// LintFile checks one file statement by statement. The findings are
// computed once per file (Lint, the plan and Up all ask).
func LintFile(f *File) []Finding {
	f.lintOnce.Do(func() { f.findings = lintFile(f) })
	return f.findings
}

func lintFile(f *File) []Finding {
	var out []Finding
	add := func(st Statement, rule string, sev Severity, msg, why, fix string) {
		out = append(out, Finding{File: f.Name, Line: st.Line, Col: st.Col, Rule: rule, Severity: sev, Message: msg, Why: why, Fix: fix})
	}
	if se := f.SyntaxErr(); se != nil {
		out = append(out, Finding{File: f.Name, Line: se.Line, Col: se.Col, Rule: RuleSyntax, Severity: SeverityError,
			Message: se.What,
			Why:     "the runner cannot tell where statements end, so it cannot send the file safely",
			Fix:     "close the construct; the rest of the file is currently swallowed by it"})
	}
	out = append(out, contentFindings(f, false)...)
	created := createdTables{}
	nonEmpty := 0
	for _, st := range f.Statements() {
		if !st.Empty() {
			nonEmpty++
		}
	}
	for _, st := range f.Statements() {
		if st.Empty() {
			continue
		}
		if off, ok := scsSetting(st.tokens); ok && off {
			why := "the file is sent in one piece and parsed before it runs, so its own statements are read with the setting on; every later file of the session would be read with backslash escapes in plain strings"
			if f.NoTransaction {
				why = "the statements after it are sent one by one and read with backslash escapes in plain strings ('it\\'s' is one string), and so would every later file of the session"
			}
			add(st, RuleConformingStrings, SeverityWarning, "SET standard_conforming_strings = off changes how PostgreSQL reads later SQL",
				why, "leave the setting on and write E'...' strings where backslash escapes are meant")
		}
		sh := shapeOf(st.tokens)
		if sh.createTable != "" {
			created.add(sh.createTable)
		}
		switch {
		case sh.needsNoTx != "" && !f.NoTransaction:
			add(st, RuleNeedsNoTransaction, SeverityError, sh.needsNoTx+" cannot run inside a transaction block",
				"every file runs in one transaction unless marked, so PostgreSQL rejects this statement and the file fails",
				"move it to its own file whose first line is "+NoTransactionMarker)
		case sh.concurrently && f.NoTransaction && nonEmpty > 1:
			add(st, RuleConcurrentlyMixed, SeverityWarning, sh.needsNoTx+" shares a non-transactional file with other statements",
				"if a later statement fails, the earlier ones stay applied and the file is left half done",
				"put each CONCURRENTLY statement in its own "+NoTransactionMarker+" file")
		}
		// Transaction control is the runner's in every file: it commits a
		// transactional file with its tracking row, and records progress
		// after each statement of a no-transaction file, outside any
		// transaction block. Neither fix text may recommend the other mode.
		switch {
		case sh.txControl != "" && !f.NoTransaction:
			add(st, RuleExplicitTransaction, SeverityError, sh.txControl+" in a transactional file",
				"the runner wraps the file and its tracking row in one transaction; an explicit "+sh.txControl+" would commit or end it early and break that guarantee",
				"remove it: the file already runs as one transaction; statements that must commit separately belong in files of their own")
		case sh.txControl != "":
			add(st, RuleExplicitTransaction, SeverityError, sh.txControl+" in a no-transaction file",
				"the runner records the file's progress after each statement, outside any transaction block; inside an explicit transaction those records would roll back with a failed statement while the progress said otherwise, and a resumed run would skip statements that never took effect",
				"remove it: statements that must commit together belong in a transactional file (one without "+NoTransactionMarker+")")
		}
		if sh.releasesLock != "" {
			add(st, RuleReleasesLock, SeverityError, sh.releasesLock+" releases the session's advisory locks",
				"the runner holds the migration lock (a session-level advisory lock) for the whole run; releasing it lets another runner or the broker's start-up migrate the same database concurrently",
				"remove it: a migration has no session state of its own to discard")
		}
		if sh.destructive != "" {
			add(st, RuleDestructive, SeverityWarning, sh.destructive,
				"it destroys data; the file cannot be undone or safely re-run",
				"make sure a backup exists and the data is not needed; prefer renaming or archiving")
		}
		if sh.indexOn != "" && !sh.concurrently && !created.has(sh.indexOn) {
			add(st, RuleIndexBlocking, SeverityWarning, "CREATE INDEX on existing table "+sh.indexOn+" without CONCURRENTLY",
				"it blocks writes to the table for the whole build",
				"use CREATE INDEX CONCURRENTLY in its own "+NoTransactionMarker+" file")
		}
		if sh.alterTable != "" && !created.has(sh.alterTable) {
			if sh.addConstraint != "" && !sh.notValid {
				add(st, RuleConstraintValidate, SeverityWarning, "ADD "+sh.addConstraint+" on existing table "+sh.alterTable+" without NOT VALID",
					"validating the constraint scans the whole table while holding a lock that blocks writes",
					"add it NOT VALID, then VALIDATE CONSTRAINT in a later statement or file")
			}
			if sh.addColumnFK != "" {
				add(st, RuleConstraintValidate, SeverityWarning, "ADD COLUMN "+sh.addColumnFK+" with a DEFAULT and REFERENCES on existing table "+sh.alterTable,
					"with a DEFAULT every existing row gets a value, so PostgreSQL validates the foreign key by scanning the whole table while holding a lock that blocks writes",
					"add the column first, then ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then VALIDATE CONSTRAINT in a later statement or file")
			}
			if sh.setNotNull {
				add(st, RuleSetNotNull, SeverityWarning, "SET NOT NULL on an existing column of "+sh.alterTable,
					"it scans the whole table under an ACCESS EXCLUSIVE lock",
					"add a CHECK (col IS NOT NULL) NOT VALID constraint, VALIDATE it, then SET NOT NULL (PostgreSQL 12+ skips the scan)")
			}
		}
		if sh.enumAddValue && !f.NoTransaction {
			add(st, RuleEnumAddValueInTx, SeverityWarning, "ALTER TYPE ... ADD VALUE inside a transaction",
				"PostgreSQL before 12 refuses it in a transaction block; from 12 the new value cannot be used until the file commits",
				"on servers older than 12, move it to a "+NoTransactionMarker+" file; never use the new value in the same file")
		}
	}
	return out
}

// shape is what lint needs to know about one statement.
type shape struct {
	createTable   string // name, for CREATE TABLE
	needsNoTx     string // the statement, when it cannot run in a transaction block
	concurrently  bool
	txControl     string // BEGIN, COMMIT, ...
	destructive   string
	indexOn       string // table of CREATE INDEX
	alterTable    string
	addConstraint string // FOREIGN KEY or CHECK
	notValid      bool
	// addColumnFK: ADD COLUMN with a DEFAULT (or a stored generated
	// expression) and an inline REFERENCES, which PostgreSQL validates by
	// scanning; with neither every row is NULL and the check is skipped.
	// NOT VALID cannot be written inline.
	addColumnFK  string
	setNotNull   bool
	enumAddValue bool
	releasesLock string // DISCARD ALL, pg_advisory_unlock_all()
}

// stmtWords reads a statement's tokens as keywords.
type stmtWords []lexToken

// w is the i-th token in upper case, or "" past the end.
func (t stmtWords) w(i int) string {
	if i < len(t) {
		return t[i].Upper()
	}
	return ""
}

// has reports whether word appears anywhere as a bare word.
func (t stmtWords) has(word string) bool {
	for _, tok := range t {
		if tok.Kind == tokWord && strings.EqualFold(tok.Text, word) {
			return true
		}
	}
	return false
}

func shapeOf(toks []lexToken) shape {
	var sh shape
	t := stmtWords(toks)
	first := t.w(0)
	sh.concurrently = t.has("CONCURRENTLY") && (first == "CREATE" || first == "DROP" || first == "REINDEX" || first == "REFRESH")
	sh.txControl = txControlOf(t)
	switch {
	case first == "DISCARD" && t.w(1) == "ALL":
		sh.releasesLock = "DISCARD ALL"
	case t.has("pg_advisory_unlock_all"):
		sh.releasesLock = "pg_advisory_unlock_all()"
	}
	switch first {
	case "VACUUM":
		sh.needsNoTx = "VACUUM"
	case "ALTER":
		shapeAlter(t, &sh)
	case "TRUNCATE":
		sh.destructive = "TRUNCATE"
	case "DELETE":
		if !t.has("WHERE") {
			sh.destructive = "DELETE without WHERE"
		}
	case "DROP":
		shapeDrop(t, &sh)
	case "REINDEX":
		if sh.concurrently {
			sh.needsNoTx = "REINDEX CONCURRENTLY"
		}
	case "REFRESH":
		sh.concurrently = false // REFRESH ... CONCURRENTLY is allowed in a transaction
	case "CREATE":
		shapeCreate(t, &sh)
	}
	return sh
}

// txControlOf names the transaction-control statement t is, or "".
func txControlOf(t stmtWords) string {
	switch t.w(0) {
	case "BEGIN", "COMMIT", "END", "ABORT":
		return t.w(0)
	case "START", "PREPARE":
		if t.w(1) == "TRANSACTION" {
			return t.w(0) + " TRANSACTION"
		}
	case "ROLLBACK":
		if t.w(1) != "TO" {
			return "ROLLBACK"
		}
	}
	return ""
}

func shapeAlter(t stmtWords, sh *shape) {
	switch t.w(1) {
	case "SYSTEM":
		sh.needsNoTx = "ALTER SYSTEM"
	case "TYPE":
		_, i := nameAt(t, 2)
		sh.enumAddValue = t.w(i) == "ADD" && t.w(i+1) == "VALUE"
	case "TABLE":
		i := 2
		if t.w(i) == "IF" && t.w(i+1) == "EXISTS" {
			i += 2
		}
		if t.w(i) == "ONLY" {
			i++
		}
		sh.alterTable, i = nameAt(t, i)
		alterActions(t[i:], sh)
	}
}

func shapeDrop(t stmtWords, sh *shape) {
	switch t.w(1) {
	case "TABLE":
		sh.destructive = "DROP TABLE"
	case "DATABASE", "TABLESPACE":
		sh.needsNoTx = "DROP " + t.w(1)
	case "INDEX":
		if sh.concurrently {
			sh.needsNoTx = "DROP INDEX CONCURRENTLY"
		}
	}
}

func shapeCreate(t stmtWords, sh *shape) {
	i := 1
	if t.w(i) == "OR" && t.w(i+1) == "REPLACE" {
		i += 2
	}
	if t.w(i) == "UNIQUE" {
		i++
	}
	for t.w(i) == "UNLOGGED" || t.w(i) == "TEMP" || t.w(i) == "TEMPORARY" || t.w(i) == "GLOBAL" || t.w(i) == "LOCAL" {
		i++
	}
	switch t.w(i) {
	case "TABLE":
		i++
		if t.w(i) == "IF" && t.w(i+1) == "NOT" && t.w(i+2) == "EXISTS" {
			i += 3
		}
		sh.createTable, _ = nameAt(t, i)
	case "INDEX":
		sh.indexOn = indexTable(t, i)
		if sh.concurrently {
			sh.needsNoTx = "CREATE INDEX CONCURRENTLY"
		}
	case "DATABASE", "TABLESPACE", "SUBSCRIPTION":
		sh.needsNoTx = "CREATE " + t.w(i)
	}
}

// indexTable is the table after the first ON of CREATE INDEX, from i.
func indexTable(t stmtWords, i int) string {
	for j := i; j < len(t); j++ {
		if t[j].Kind == tokWord && t[j].Upper() == "ON" {
			j++
			if t.w(j) == "ONLY" {
				j++
			}
			name, _ := nameAt(t, j)
			return name
		}
	}
	return ""
}

// alterActions inspects the comma-separated actions of ALTER TABLE.
func alterActions(toks []lexToken, sh *shape) {
	depth := 0
	atStart := true
	// The ADD COLUMN action being read: its column, and whether it has a
	// DEFAULT and an inline REFERENCES so far.
	var column string
	var hasDefault, hasRefs bool
	endAction := func() {
		if column != "" && hasDefault && hasRefs && sh.addColumnFK == "" {
			sh.addColumnFK = column
		}
		column, hasDefault, hasRefs = "", false, false
	}
	defer endAction()
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		up := t.Upper()
		switch {
		case t.Kind == tokPunct && t.Text == "(":
			depth++
		case t.Kind == tokPunct && t.Text == ")":
			depth--
		case t.Kind == tokPunct && t.Text == "," && depth == 0:
			endAction()
			atStart = true
			continue
		}
		if depth == 0 && t.Kind == tokWord {
			if atStart && up == "ADD" {
				column = addedColumn(toks[i+1:])
			}
			if column != "" {
				prev := ""
				if i > 0 {
					prev = toks[i-1].Upper()
				}
				switch {
				case up == "DEFAULT" && prev != "SET" && prev != "BY": // not ON DELETE SET DEFAULT, GENERATED BY DEFAULT AS IDENTITY
					hasDefault = true
				case up == "GENERATED" && storedExpr(toks[i+1:]):
					// A stored generated column is filled like a DEFAULT (and
					// validated the same way); an identity column is not.
					hasDefault = true
				case up == "REFERENCES":
					hasRefs = true
				}
			}
			switch {
			case atStart && up == "DROP":
				next := ""
				if i+1 < len(toks) {
					next = toks[i+1].Upper()
				}
				if next != "CONSTRAINT" && next != "DEFAULT" && next != "NOT" && next != "IDENTITY" && next != "EXPRESSION" {
					sh.destructive = "ALTER TABLE ... DROP COLUMN"
				}
			case up == "FOREIGN" || up == "CHECK":
				if sh.addConstraint == "" && precededByAdd(toks[:i]) {
					if up == "FOREIGN" {
						sh.addConstraint = "FOREIGN KEY"
					} else {
						sh.addConstraint = "CHECK"
					}
				}
			case up == "VALID" && i > 0 && toks[i-1].Upper() == "NOT":
				sh.notValid = true
			case up == "SET" && i+2 < len(toks) && toks[i+1].Upper() == "NOT" && toks[i+2].Upper() == "NULL":
				sh.setNotNull = true
			}
		}
		atStart = false
	}
}

// addedColumn returns the name of the column an ADD action adds, or ""
// when it adds a table constraint instead.
func addedColumn(toks []lexToken) string {
	i := 0
	if i < len(toks) && toks[i].Upper() == "COLUMN" {
		i++
	} else if i < len(toks) {
		switch toks[i].Upper() {
		case "CONSTRAINT", "FOREIGN", "CHECK", "PRIMARY", "UNIQUE", "EXCLUDE":
			return ""
		}
	}
	if i+2 < len(toks) && toks[i].Upper() == "IF" && toks[i+1].Upper() == "NOT" && toks[i+2].Upper() == "EXISTS" {
		i += 3
	}
	name, _ := nameAt(toks, i)
	return name
}

// storedExpr reports whether the words after GENERATED are ALWAYS AS
// (expr), a stored generated column, rather than an identity.
func storedExpr(toks []lexToken) bool {
	return len(toks) > 2 && toks[0].Upper() == "ALWAYS" && toks[1].Upper() == "AS" &&
		toks[2].Kind == tokPunct && toks[2].Text == "("
}

// precededByAdd reports whether the current action began with ADD (so a
// CHECK inside ADD COLUMN ... CHECK is also caught, which also validates).
func precededByAdd(toks []lexToken) bool {
	for i := len(toks) - 1; i >= 0; i-- {
		if toks[i].Kind == tokPunct && toks[i].Text == "," {
			return false
		}
		if toks[i].Upper() == "ADD" {
			return true
		}
	}
	return false
}

// nameAt reads a possibly qualified name at toks[i] and returns it
// normalised (unquoted words lower-cased, quotes removed) and the index
// after it.
func nameAt(toks []lexToken, i int) (string, int) {
	var parts []string
	for i < len(toks) {
		t := toks[i]
		switch t.Kind {
		case tokWord:
			parts = append(parts, strings.ToLower(t.Text))
		case tokQIdent:
			parts = append(parts, strings.ReplaceAll(strings.Trim(t.Text, `"`), `""`, `"`))
		default:
			return strings.Join(parts, "."), i
		}
		i++
		if i < len(toks) && toks[i].Kind == tokPunct && toks[i].Text == "." {
			i++
			continue
		}
		break
	}
	return strings.Join(parts, "."), i
}

// createdTables are the tables created earlier in a file, by name and by
// last part: an unqualified name matches a qualified one with the same
// last part. Lookups are constant time (a scan of every table created so
// far made a file of many tables quadratic).
type createdTables map[string]bool

func lastPart(name string) string { return name[strings.LastIndexByte(name, '.')+1:] }

func (c createdTables) add(name string) {
	c[name] = true
	last := lastPart(name)
	c["\x00any:"+last] = true
	if !strings.Contains(name, ".") {
		c["\x00bare:"+last] = true
	}
}

func (c createdTables) has(name string) bool {
	if c[name] {
		return true
	}
	if strings.Contains(name, ".") {
		return c["\x00bare:"+lastPart(name)]
	}
	return c["\x00any:"+name]
}

// readsDifferentlyWithoutSCS reports whether f is cut into other tokens
// when read with standard_conforming_strings off.
func readsDifferentlyWithoutSCS(f *File) bool {
	if !strings.Contains(f.Body, "\\") {
		return false
	}
	on := f.Statements()
	off, _ := split(f.Body, true, f.NoTransaction)
	if len(on) != len(off) {
		return true
	}
	for i := range on {
		if len(on[i].tokens) != len(off[i].tokens) {
			return true
		}
		for j := range on[i].tokens {
			if on[i].tokens[j].Text != off[i].tokens[j].Text {
				return true
			}
		}
	}
	return false
}

// contentFindings are the problems that make a file unusable whatever the
// database: a byte order mark, psql meta-commands, COPY FROM STDIN. With
// first it stops at the first one (for LoadSource).
func contentFindings(f *File, first bool) []Finding {
	var out []Finding
	if strings.HasPrefix(f.Body, "\uFEFF") {
		out = append(out, Finding{File: f.Name, Line: 1, Col: 1, Rule: RuleByteOrderMark, Severity: SeverityError,
			Message: "the file starts with a UTF-8 byte order mark (bytes EF BB BF)",
			Why:     "PostgreSQL reads the invisible mark as part of the first word and fails with a syntax error that does not show it; it also hides a " + NoTransactionMarker + " first line",
			Fix:     "save the file as UTF-8 without BOM (e.g. sed -i '1s/^\\xEF\\xBB\\xBF//' FILE)"})
		if first {
			return out
		}
	}
	// Cheap filters first: most files have neither a backslash nor STDIN,
	// and a warm run must not lex them.
	meta := strings.IndexByte(f.Body, '\\') >= 0
	stdin := containsFoldASCII(f.Body, "stdin")
	if !meta && !stdin {
		return out
	}
	for _, st := range f.Statements() {
		if meta {
			for i, t := range st.tokens {
				if t.Kind != tokPunct || t.Text != "\\" || !(i == 0 || startsLine(f.Body, t.Off)) {
					continue
				}
				cmd := "\\"
				if i+1 < len(st.tokens) && st.tokens[i+1].Off == t.Off+1 {
					cmd += st.tokens[i+1].Text
				}
				if cmd == "\\." {
					continue // the end of COPY data, reported as COPY FROM STDIN
				}
				line, col := lineCol(f.Body, t.Off)
				out = append(out, Finding{File: f.Name, Line: line, Col: col, Rule: RulePsqlMeta, Severity: SeverityError,
					Message: "psql meta-command " + cmd + " is not SQL",
					Why:     "migration files go to the server as they are, not through psql: variables (\\set), includes (\\i, \\ir) and \\copy do not exist there, and the file fails with a syntax error at \"\\\"",
					Fix:     "replace it with SQL: inline the included file, write the value, or load rows with INSERT or a server-side COPY"})
				if first {
					return out
				}
			}
		}
		if stdin && isCopyFromStdin(st.tokens) {
			out = append(out, Finding{File: f.Name, Line: st.Line, Col: st.Col, Rule: RuleCopyStdin, Severity: SeverityError,
				Message: "COPY ... FROM STDIN reads its rows from the client",
				Why:     "the runner sends no data, so the server waits for it forever while the migration lock is held (upstream's runner fails at once)",
				Fix:     "load the rows with INSERT ... VALUES, or COPY FROM a file the server can read"})
			if first {
				return out
			}
		}
	}
	return out
}

// isCopyFromStdin matches COPY ... FROM STDIN.
func isCopyFromStdin(toks []lexToken) bool {
	if len(toks) == 0 || toks[0].Kind != tokWord || !strings.EqualFold(toks[0].Text, "COPY") {
		return false
	}
	for i := 1; i+1 < len(toks); i++ {
		if toks[i].Kind == tokWord && strings.EqualFold(toks[i].Text, "FROM") && toks[i+1].Kind == tokWord && strings.EqualFold(toks[i+1].Text, "STDIN") {
			return true
		}
	}
	return false
}

// startsLine reports whether only blanks precede off on its line.
func startsLine(src string, off int) bool {
	for i := off - 1; i >= 0; i-- {
		switch src[i] {
		case '\n', '\r':
			return true
		case ' ', '\t', '\f', '\v':
		default:
			return false
		}
	}
	return true
}

// containsFoldASCII reports whether s contains the lower-case ASCII word
// sub in any letter case.
func containsFoldASCII(s, sub string) bool {
	set := string([]byte{sub[0], sub[0] - ('a' - 'A')})
	for i := 0; i+len(sub) <= len(s); i++ {
		j := strings.IndexAny(s[i:], set)
		if j < 0 {
			return false
		}
		i += j
		if i+len(sub) <= len(s) && strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
