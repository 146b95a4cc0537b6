package migrate

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgquote"
)

// State of one file (or tracking row) relative to the database.
type State string

const (
	StateApplied     State = "applied"      // row present, same sha256
	StatePending     State = "pending"      // no row; sorts after every applied file
	StateChanged     State = "changed"      // row present, file's sha256 differs
	StateMissingFile State = "missing-file" // row present, no file
	StateOutOfOrder  State = "out-of-order" // no row; sorts before the newest applied file
	StateFailed      State = "failed"       // a non-transactional file stopped part-way
	StateRenamed     State = "renamed"      // no row; its sha256 is that of a row whose file is missing (RenamedFrom)
)

// Change classifies a changed applied file.
const (
	ChangeCosmetic = "cosmetic" // only whitespace, line endings, comments or the case of unquoted names differ
	ChangeSemantic = "semantic" // the SQL differs
	// ChangeUnclassified: the row has no normalised hash of this version
	// (written by upstream, bootstrapped from elsewhere, or by an older
	// meshctl), so the change cannot be classified; treated as semantic.
	ChangeUnclassified = "unclassified"
	// ChangeUnknown is the former name of ChangeUnclassified.
	ChangeUnknown = ChangeUnclassified
)

// FileStatus is one row of `migrate status`.
type FileStatus struct {
	Filename      string     `json:"filename"`
	State         State      `json:"state"`
	SHA256        string     `json:"sha256"`         // of the file on disk; "" for missing-file
	AppliedSHA256 string     `json:"applied_sha256"` // from the tracking row; "" when not applied
	AppliedAt     *time.Time `json:"applied_at"`     // UTC
	DurationMS    *float64   `json:"duration_ms"`    // nil for upstream or bootstrapped rows
	How           string     `json:"how,omitempty"`  // executed, bootstrapped, "" (written by upstream)
	Change        string     `json:"change,omitempty"`
	RenamedFrom   string     `json:"renamed_from,omitempty"` // renamed: the tracking row's file name
	NoTransaction bool       `json:"no_transaction"`
	Failure       *Failure   `json:"failure,omitempty"`
}

// Failure is the recorded state of a non-transactional file that stopped.
type Failure struct {
	SHA256         string    `json:"sha256"`
	StatementsDone int       `json:"statements_done"` // statements (by index) completed
	Statement      int       `json:"statement"`       // 1-based failing statement; 0 if interrupted
	Line           int       `json:"line"`
	Error          string    `json:"error"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// Status is the whole comparison.
type Status struct {
	Table       string        `json:"table"`
	TableExists bool          `json:"table_exists"`
	Files       []FileStatus  `json:"files"`
	Counts      map[State]int `json:"counts"`
}

// Pending reports whether any file waits to be applied.
func (s *Status) Pending() bool {
	return s.Counts[StatePending]+s.Counts[StateOutOfOrder] > 0
}

// Drift reports whether history and files disagree: changed, missing or
// renamed files, out-of-order files, or a failed non-transactional file.
func (s *Status) Drift() bool {
	return s.Counts[StateChanged]+s.Counts[StateMissingFile]+s.Counts[StateOutOfOrder]+s.Counts[StateFailed]+s.Counts[StateRenamed] > 0
}

type trackRow struct {
	sha256     string
	appliedAt  time.Time
	durationMS *float64
	how        string
	normalized string
}

func (r *Runner) tableIdent() string { return pgx.Identifier{r.cfg.schema, r.cfg.table}.Sanitize() }
func (r *Runner) partialIdent() string {
	return pgx.Identifier{r.cfg.schema, r.cfg.table + partialSuffix}.Sanitize()
}

// probe reports whether the tracking and partial tables exist, learns
// what the role may do with them (session.info) and where meshctl's extras
// go (session.extras), and records the backend pid: a pid that changes
// between calls means a transaction pooler.
func (s *session) probe(ctx context.Context) (tableExists, partialExists bool, err error) {
	r := s.r
	var ti trackingInfo
	var ours int
	var pid uint32
	// Simple protocol throughout: one round trip per query, and it works
	// through poolers long enough to detect them.
	err = s.conn.QueryRow(ctx, probeSQL, pgx.QueryExecModeSimpleProtocol, r.tableIdent(), r.partialIdent(), r.sideIdent(), r.cfg.schema).Scan(
		&ti.tableExists, &ti.partialExists, &ti.sideExists, &ours, &ti.canSelect, &ti.canInsert, &ti.canUseSide, &ti.canSelectSide,
		&ti.schemaExists, &ti.canCreate, &ti.user, &ti.database, &ti.timeZone, &pid)
	if err != nil {
		return false, false, dbErr("reading the tracking table", err)
	}
	if s.pid == 0 {
		s.pid = pid
	} else if pid != s.pid {
		return false, false, &PoolerError{}
	}
	ti.extrasOnTable = ours == len(extraColumns)
	ti.zone = s.zone(ti.timeZone)
	s.info, s.extras = ti, ti.mode()
	return ti.tableExists, ti.partialExists, nil
}

// upToDate is the warm path of Up: only filename and sha256 travel (no
// timestamps to parse, no server-side sort), and every file must have a
// row with its hash and every row a file.
func (s *session) upToDate(ctx context.Context) (bool, error) {
	tableExists, partialExists, err := s.probe(ctx)
	if err != nil || !tableExists || partialExists {
		return false, err
	}
	rows, err := s.conn.Query(ctx, "SELECT filename, sha256 FROM "+s.r.tableIdent(), pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return false, dbErr("reading the tracking table", err)
	}
	defer rows.Close()
	n, same := 0, true
	for rows.Next() {
		var name, sum string
		if err := rows.Scan(&name, &sum); err != nil {
			return false, dbErr("reading the tracking table", err)
		}
		n++
		if f := s.r.src.Lookup(name); f == nil || f.SHA256 != sum {
			same = false
		}
	}
	if err := rows.Err(); err != nil {
		return false, dbErr("reading the tracking table", err)
	}
	return same && n == len(s.r.src.Files), nil
}

// readTracking reads every row of the tracking table (which exists: see
// probe), keyed by filename, applied_at as an instant (see appliedAt).
func (s *session) readTracking(ctx context.Context) (map[string]trackRow, error) {
	r := s.r
	if !s.info.canSelect {
		return nil, &PrivilegeError{Role: s.info.user, Why: "cannot read the tracking table",
			Grant: fmt.Sprintf("GRANT SELECT ON %s TO %s", r.Table(), ident(s.info.user))}
	}
	rs, err := s.conn.Query(ctx, s.readSQL(), pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, dbErr("reading the tracking table", err)
	}
	defer rs.Close()
	rows := map[string]trackRow{}
	for rs.Next() {
		var name string
		var tr trackRow
		var sha, how, norm *string
		var at *time.Time
		if err := rs.Scan(&name, &sha, &at, &tr.durationMS, &how, &norm); err != nil {
			return nil, dbErr("reading the tracking table", err)
		}
		// Upstream's columns are NOT NULL; a table without the
		// constraints may hold rows no runner wrote.
		if sha == nil || at == nil {
			col := "sha256"
			if at == nil {
				col = "applied_at"
			}
			return nil, &TrackingRowError{Table: r.Table(), File: name, Column: col}
		}
		tr.sha256, tr.appliedAt = *sha, s.appliedAt(*at, how != nil)
		if how != nil {
			tr.how = *how
		}
		if norm != nil {
			tr.normalized = *norm
		}
		rows[name] = tr
	}
	if err := rs.Err(); err != nil {
		return nil, dbErr("reading the tracking table", err)
	}
	return rows, nil
}

// status reads the tracking table (if any) and classifies every file.
func (s *session) status(ctx context.Context) (*Status, error) {
	r := s.r
	st := &Status{Table: r.Table(), Counts: map[State]int{}}
	tableExists, partialExists, err := s.probe(ctx)
	if err != nil {
		return nil, err
	}
	st.TableExists = tableExists
	rows := map[string]trackRow{}
	partial := map[string]*Failure{}
	if st.TableExists {
		if rows, err = s.readTracking(ctx); err != nil {
			return nil, err
		}
	}
	if partialExists {
		rs, err := s.conn.Query(ctx, "SELECT filename, sha256, statements_done, coalesce(failed_statement, 0), coalesce(failed_line, 0), coalesce(error, ''), updated_at FROM "+r.partialIdent(), pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return nil, dbErr("reading the partial-file table", err)
		}
		for rs.Next() {
			var name string
			var f Failure
			if err := rs.Scan(&name, &f.SHA256, &f.StatementsDone, &f.Statement, &f.Line, &f.Error, &f.UpdatedAt); err != nil {
				rs.Close()
				return nil, dbErr("reading the partial-file table", err)
			}
			partial[name] = &f
		}
		if err := rs.Err(); err != nil {
			return nil, dbErr("reading the partial-file table", err)
		}
	}
	if err := classify(st, r.src, rows, partial); err != nil {
		return nil, err
	}
	return st, nil
}

// classify is the pure part of status: files and rows in, states out. It
// refuses a tracking table whose history belongs to another folder.
func classify(st *Status, src *Source, rows map[string]trackRow, partial map[string]*Failure) error {
	newest := ""
	// Rows whose file is gone, by content: a pending file with the same
	// sha256 is the applied file renamed.
	gone := map[string][]string{}
	for name, row := range rows {
		if newest == "" || compareNames(name, newest) > 0 {
			newest = name
		}
		if src.Lookup(name) == nil {
			gone[row.sha256] = append(gone[row.sha256], name)
		}
	}
	for _, names := range gone {
		sort.Slice(names, func(i, j int) bool { return compareNames(names[i], names[j]) < 0 })
	}
	renamed := map[string]bool{} // rows taken by a rename
	byName := 0                  // files with a row of their own
	for _, f := range src.Files {
		fs := FileStatus{Filename: f.Name, SHA256: f.SHA256, NoTransaction: f.NoTransaction}
		row, applied := rows[f.Name]
		switch {
		case applied:
			byName++
			t := row.appliedAt.UTC()
			fs.AppliedSHA256, fs.AppliedAt, fs.DurationMS, fs.How = row.sha256, &t, row.durationMS, row.how
			fs.State = StateApplied
			if row.sha256 != f.SHA256 {
				fs.State = StateChanged
				fs.Change = changeKind(f, row)
			}
		case partial[f.Name] != nil:
			fs.State = StateFailed
			fs.Failure = partial[f.Name]
		case len(gone[f.SHA256]) > 0:
			from := gone[f.SHA256][0]
			gone[f.SHA256] = gone[f.SHA256][1:]
			renamed[from] = true
			old := rows[from]
			t := old.appliedAt.UTC()
			fs.State, fs.RenamedFrom = StateRenamed, from
			fs.AppliedSHA256, fs.AppliedAt, fs.DurationMS, fs.How = old.sha256, &t, old.durationMS, old.how
		case compareNames(f.Name, newest) < 0:
			fs.State = StateOutOfOrder
		default:
			fs.State = StatePending
		}
		st.Files = append(st.Files, fs)
	}
	if len(rows) >= minForeignRows && byName == 0 && 2*len(renamed) < len(rows) {
		e := &ForeignHistoryError{Table: st.Table, Rows: len(rows), Unknown: len(rows) - len(renamed), Files: len(src.Files)}
		for name := range rows {
			if !renamed[name] {
				e.Examples = append(e.Examples, name)
			}
		}
		sort.Slice(e.Examples, func(i, j int) bool { return compareNames(e.Examples[i], e.Examples[j]) < 0 })
		e.Examples = e.Examples[:min(3, len(e.Examples))]
		return e
	}
	for name, row := range rows {
		if src.Lookup(name) != nil || renamed[name] {
			continue
		}
		t := row.appliedAt.UTC()
		st.Files = append(st.Files, FileStatus{Filename: name, State: StateMissingFile, AppliedSHA256: row.sha256,
			AppliedAt: &t, DurationMS: row.durationMS, How: row.how})
	}
	sort.SliceStable(st.Files, func(i, j int) bool { return compareNames(st.Files[i].Filename, st.Files[j].Filename) < 0 })
	for _, k := range []State{StateApplied, StatePending, StateChanged, StateMissingFile, StateOutOfOrder, StateFailed, StateRenamed} {
		st.Counts[k] = 0
	}
	for _, fs := range st.Files {
		st.Counts[fs.State]++
	}
	return nil
}

// changeKind decides whether an applied file changed only cosmetically, by
// the normalised hash (PostgreSQL's tokens) stored with the row. A row
// without one of this version is unclassified: no text-level guess (line
// endings, trailing spaces) is safe, as both can sit inside a string.
func changeKind(f *File, row trackRow) string {
	switch {
	case !strings.HasPrefix(row.normalized, normalizedVersion):
		return ChangeUnclassified
	case row.normalized == f.Normalized():
		return ChangeCosmetic
	}
	return ChangeSemantic
}

// plan is what Up will do given a status.
type plan struct {
	todo     []*File
	partial  map[string]*Failure
	warnings []string
	blockers []error
}

func (p *plan) blocker() error {
	if len(p.blockers) == 0 {
		return nil
	}
	return p.blockers[0]
}

func (r *Runner) plan(st *Status) *plan {
	p := &plan{partial: map[string]*Failure{}}
	var changed, outOfOrder, missing, failed []string
	var renames []Rename
	var lintErrs []Finding
	for _, fs := range st.Files {
		f := r.src.Lookup(fs.Filename)
		if r.cfg.to != "" && compareNames(fs.Filename, r.cfg.to) > 0 {
			continue
		}
		switch fs.State {
		case StateChanged:
			p.warnings = append(p.warnings, fmt.Sprintf("%s changed after it was applied (%s change): applied sha256 %s, file sha256 %s; it is not re-run",
				fs.Filename, fs.Change, fs.AppliedSHA256, fs.SHA256))
			if fs.Change != ChangeCosmetic {
				changed = append(changed, fs.Filename)
			}
		case StateMissingFile:
			p.warnings = append(p.warnings, fmt.Sprintf("%s is recorded as applied but the file is missing", fs.Filename))
			missing = append(missing, fs.Filename)
		case StateOutOfOrder:
			p.warnings = append(p.warnings, fmt.Sprintf("%s is pending but sorts before the newest applied file", fs.Filename))
			outOfOrder = append(outOfOrder, fs.Filename)
			p.todo = append(p.todo, f)
		case StatePending:
			p.todo = append(p.todo, f)
		case StateRenamed:
			p.warnings = append(p.warnings, fmt.Sprintf("%s has the content of %s, recorded as applied: it was renamed and is not run again", fs.Filename, fs.RenamedFrom))
			renames = append(renames, Rename{From: fs.RenamedFrom, To: fs.Filename, Repair: "repair rename " + fs.RenamedFrom + " " + fs.Filename})
		case StateFailed:
			failed = append(failed, fs.Filename)
			p.partial[fs.Filename] = fs.Failure
			p.todo = append(p.todo, f)
			if r.cfg.resume && fs.Failure.SHA256 != fs.SHA256 {
				p.blockers = append(p.blockers, &DriftError{Kind: DriftResumeChanged, Reason: "the failed file changed since it failed, so it cannot be resumed", Files: []string{fs.Filename}})
			} else if r.cfg.resume && f != nil {
				// The session its earlier statements set must be re-creatable.
				if _, err := resumeReplay(f, fs.Failure.StatementsDone); err != nil {
					p.blockers = append(p.blockers, err)
				}
			}
		}
		if f != nil && (fs.State == StatePending || fs.State == StateOutOfOrder || fs.State == StateFailed) {
			for _, fd := range LintFile(f) {
				if fd.Severity == SeverityError {
					lintErrs = append(lintErrs, fd)
				}
			}
		}
	}
	if len(renames) > 0 {
		p.blockers = append(p.blockers, &RenameError{Renames: renames})
	}
	if len(lintErrs) > 0 {
		p.blockers = append(p.blockers, &LintError{Findings: lintErrs})
	}
	if len(failed) > 0 && !r.cfg.resume && !r.cfg.retry {
		p.blockers = append(p.blockers, &DriftError{Kind: DriftFailed, Reason: "a non-transactional file stopped part-way", Files: failed})
	}
	if r.cfg.strict {
		if len(changed) > 0 {
			p.blockers = append(p.blockers, &DriftError{Kind: DriftChanged, Reason: "applied files changed (strict)", Files: changed})
		}
		if len(outOfOrder) > 0 {
			p.blockers = append(p.blockers, &DriftError{Kind: DriftOutOfOrder, Reason: "pending files sort before the newest applied file (strict)", Files: outOfOrder})
		}
		if len(missing) > 0 {
			p.blockers = append(p.blockers, &DriftError{Kind: DriftMissing, Reason: "applied files are missing from the folder (strict)", Files: missing})
		}
	}
	return p
}

// Step is one file Plan says Up would apply.
type Step struct {
	Filename   string    `json:"filename"`
	State      State     `json:"state"`
	Mode       string    `json:"mode"` // transaction | no-transaction
	Statements int       `json:"statements"`
	Resume     bool      `json:"resume,omitempty"`
	Findings   []Finding `json:"findings"`

	file  *File
	first int // statements before this index are not sent (--resume)
}

// PlannedStatement is one statement Up would send, where it is in its file,
// and how it runs.
type PlannedStatement struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"column"`
	Mode string `json:"mode"` // transaction (the file's statements and its tracking row commit together) | no-transaction (each on its own)
	SQL  string `json:"sql"`  // from its first token through its ';', comments inside kept
}

// SQL returns the statements of the step in the order Up sends them. A
// transactional file travels as one query string with its tracking row; a
// no-transaction file statement by statement, from the failed one when
// resuming.
func (s Step) SQL() []PlannedStatement {
	if s.file == nil {
		return nil
	}
	var out []PlannedStatement
	for _, st := range s.file.Statements()[s.first:] {
		if st.Empty() {
			continue
		}
		text := strings.TrimRightFunc(s.file.Body[st.tokens[0].Off:st.Offset+len(st.Text)], unicode.IsSpace)
		out = append(out, PlannedStatement{File: s.file.Name, Line: st.Line, Col: st.Col, Mode: s.Mode, SQL: text})
	}
	return out
}

// Plan says what Up would do, in order, without locking or writing.
type Plan struct {
	Steps    []Step   `json:"steps"`
	Warnings []string `json:"warnings"`
	Blocked  string   `json:"blocked,omitempty"` // why Up would refuse, if it would
	blocker  error
}

// Err returns the error Up would fail with before applying anything.
func (p *Plan) Err() error { return p.blocker }

// Plan reports what Up would do.
func (r *Runner) Plan(ctx context.Context, opts ...CallOption) (*Plan, error) {
	r, err := r.with(opts)
	if err != nil {
		return nil, err
	}
	st, err := r.Status(ctx)
	if err != nil {
		return nil, err
	}
	p := r.plan(st)
	out := &Plan{Warnings: p.warnings, Steps: []Step{}, blocker: p.blocker()}
	if out.blocker != nil {
		out.Blocked = out.blocker.Error()
	}
	state := make(map[string]State, len(st.Files))
	for _, fs := range st.Files {
		state[fs.Filename] = fs.State
	}
	for _, f := range p.todo {
		out.Steps = append(out.Steps, r.step(f, state[f.Name], p))
	}
	return out, nil
}

func (r *Runner) step(f *File, state State, p *plan) Step {
	step := Step{Filename: f.Name, State: state, Mode: "transaction", Findings: LintFile(f), file: f}
	if step.Findings == nil {
		step.Findings = []Finding{}
	}
	if f.NoTransaction {
		step.Mode = "no-transaction"
		if prior := p.partial[f.Name]; prior != nil && r.cfg.resume {
			step.Resume, step.first = true, min(prior.StatementsDone, len(f.Statements()))
		}
	}
	for _, s := range f.Statements()[step.first:] {
		if !s.Empty() {
			step.Statements++
		}
	}
	return step
}

// literal quotes s as an E” string so the result is right whatever
// standard_conforming_strings says.
func literal(s string) string { return pgquote.Literal(s) }

func nullable(s string) string {
	if s == "" {
		return "NULL"
	}
	return literal(s)
}
