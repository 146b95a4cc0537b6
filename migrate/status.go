package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
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
)

// Change classifies a changed applied file.
const (
	ChangeCosmetic = "cosmetic" // only whitespace, line endings or comments differ
	ChangeSemantic = "semantic" // the SQL differs
	ChangeUnknown  = "unknown"  // upstream row without our normalised hash; treated as semantic
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

// Drift reports whether history and files disagree: changed or missing
// files, out-of-order files, or a failed non-transactional file.
func (s *Status) Drift() bool {
	return s.Counts[StateChanged]+s.Counts[StateMissingFile]+s.Counts[StateOutOfOrder]+s.Counts[StateFailed] > 0
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
		if !s.info.canSelect {
			return nil, &PrivilegeError{Role: s.info.user, Why: "cannot read the tracking table",
				Grant: fmt.Sprintf("GRANT SELECT ON %s TO %s", r.Table(), ident(s.info.user))}
		}
		rs, err := s.conn.Query(ctx, s.readSQL(), pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return nil, dbErr("reading the tracking table", err)
		}
		for rs.Next() {
			var name string
			var tr trackRow
			var how, norm *string
			if err := rs.Scan(&name, &tr.sha256, &tr.appliedAt, &tr.durationMS, &how, &norm); err != nil {
				rs.Close()
				return nil, dbErr("reading the tracking table", err)
			}
			tr.appliedAt = s.appliedAt(tr.appliedAt, how != nil)
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
	classify(st, r.src, rows, partial)
	return st, nil
}

// classify is the pure part of status: files and rows in, states out.
func classify(st *Status, src *Source, rows map[string]trackRow, partial map[string]*Failure) {
	newest := ""
	for name := range rows {
		if name > newest {
			newest = name
		}
	}
	seen := map[string]bool{}
	for _, f := range src.Files {
		seen[f.Name] = true
		fs := FileStatus{Filename: f.Name, SHA256: f.SHA256, NoTransaction: f.NoTransaction}
		row, applied := rows[f.Name]
		switch {
		case applied:
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
		case f.Name < newest:
			fs.State = StateOutOfOrder
		default:
			fs.State = StatePending
		}
		st.Files = append(st.Files, fs)
	}
	for name, row := range rows {
		if seen[name] {
			continue
		}
		t := row.appliedAt.UTC()
		st.Files = append(st.Files, FileStatus{Filename: name, State: StateMissingFile, AppliedSHA256: row.sha256,
			AppliedAt: &t, DurationMS: row.durationMS, How: row.how})
	}
	sort.SliceStable(st.Files, func(i, j int) bool { return st.Files[i].Filename < st.Files[j].Filename })
	for _, k := range []State{StateApplied, StatePending, StateChanged, StateMissingFile, StateOutOfOrder, StateFailed} {
		st.Counts[k] = 0
	}
	for _, fs := range st.Files {
		st.Counts[fs.State]++
	}
}

// changeKind decides whether an applied file changed only cosmetically.
// Our rows carry a normalised hash; for upstream rows a few common
// cosmetic rewrites (line endings, trailing whitespace or newline) are
// tried against the raw hash.
func changeKind(f *File, row trackRow) string {
	if row.normalized != "" {
		if row.normalized == f.Normalized() {
			return ChangeCosmetic
		}
		return ChangeSemantic
	}
	for _, v := range cosmeticVariants(f.Body) {
		sum := sha256.Sum256([]byte(v))
		if hex.EncodeToString(sum[:]) == row.sha256 {
			return ChangeCosmetic
		}
	}
	return ChangeUnknown
}

func cosmeticVariants(body string) []string {
	lf := strings.ReplaceAll(body, "\r\n", "\n")
	crlf := strings.ReplaceAll(lf, "\n", "\r\n")
	lines := strings.Split(lf, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	trimmed := strings.Join(lines, "\n")
	var out []string
	for _, v := range []string{lf, crlf, trimmed} {
		out = append(out, v, strings.TrimRight(v, "\r\n"), strings.TrimRight(v, "\r\n")+"\n")
	}
	return out
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
	var lintErrs []Finding
	for _, fs := range st.Files {
		f := r.src.Lookup(fs.Filename)
		if r.cfg.to != "" && fs.Filename > r.cfg.to {
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
		case StateFailed:
			failed = append(failed, fs.Filename)
			p.partial[fs.Filename] = fs.Failure
			p.todo = append(p.todo, f)
			if r.cfg.resume && fs.Failure.SHA256 != fs.SHA256 {
				p.blockers = append(p.blockers, &DriftError{Reason: "--resume needs the same file that failed, but it changed since; use --retry-file", Files: []string{fs.Filename}})
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
	if len(lintErrs) > 0 {
		p.blockers = append(p.blockers, &LintError{Findings: lintErrs})
	}
	if len(failed) > 0 && !r.cfg.resume && !r.cfg.retry {
		p.blockers = append(p.blockers, &DriftError{Reason: "a non-transactional file stopped part-way; fix it and rerun with --resume (continue at the failed statement) or --retry-file (run it again from the start)", Files: failed})
	}
	if r.cfg.strict {
		if len(changed) > 0 {
			p.blockers = append(p.blockers, &DriftError{Reason: "applied files changed (--strict)", Files: changed})
		}
		if len(outOfOrder) > 0 {
			p.blockers = append(p.blockers, &DriftError{Reason: "pending files sort before the newest applied file (--strict)", Files: outOfOrder})
		}
		if len(missing) > 0 {
			p.blockers = append(p.blockers, &DriftError{Reason: "applied files are missing from the folder (--strict)", Files: missing})
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
func (r *Runner) Plan(ctx context.Context) (*Plan, error) {
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
		step := Step{Filename: f.Name, State: state[f.Name], Mode: "transaction", Findings: LintFile(f)}
		if step.Findings == nil {
			step.Findings = []Finding{}
		}
		if f.NoTransaction {
			step.Mode = "no-transaction"
			step.Resume = p.partial[f.Name] != nil && r.cfg.resume
		}
		for _, s := range f.Statements() {
			if !s.Empty() {
				step.Statements++
			}
		}
		out.Steps = append(out.Steps, step)
	}
	return out, nil
}

// literal quotes s as an E” string so the result is right whatever
// standard_conforming_strings says.
func literal(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `'`, `''`)
	return "E'" + s + "'"
}

func nullable(s string) string {
	if s == "" {
		return "NULL"
	}
	return literal(s)
}
