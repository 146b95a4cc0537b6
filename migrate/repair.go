package migrate

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Repairs change the tracking table by hand, for the states Up will not
// resolve by itself: a changed applied file (accept), a row whose file is
// gone (forget), a failed no-transaction file the operator has checked
// (resolve), a renamed file (rename). Each runs under the migration lock,
// in one transaction committed durably, and leaves a row in
// <table>_history saying what changed, who, when and why. None runs any
// migration SQL.

// Repair actions.
const (
	RepairAccept  = "accept"
	RepairForget  = "forget"
	RepairResolve = "resolve"
	RepairRename  = "rename"
)

// HowResolved marks a tracking row recorded by `repair resolve --applied`.
const HowResolved = "resolved"

const historySuffix = "_history"

// RepairOptions are the caller's choices for a repair.
type RepairOptions struct {
	DryRun bool
	Reason string // recorded in the history table
	Actor  string // who asked (e.g. the OS user); recorded beside the database role
}

// RepairResult says what a repair changed, or would change with DryRun.
type RepairResult struct {
	Action    string `json:"action"`
	File      string `json:"file"`
	NewFile   string `json:"new_file,omitempty"` // rename
	OldSHA256 string `json:"old_sha256,omitempty"`
	NewSHA256 string `json:"new_sha256,omitempty"`
	Applied   *bool  `json:"applied,omitempty"` // resolve
	Change    string `json:"change"`            // one sentence: what is (or would be) written
	DryRun    bool   `json:"dry_run"`
}

// RepairError means the file is not in a state the repair applies to;
// nothing was written.
type RepairError struct {
	Action, File, Reason string
}

func (e *RepairError) Error() string {
	return fmt.Sprintf("repair %s %s: %s; nothing was changed", e.Action, e.File, e.Reason)
}

func (r *Runner) historyIdent() string {
	return pgx.Identifier{r.cfg.schema, r.cfg.table + historySuffix}.Sanitize()
}

func (r *Runner) historyDDL() string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (id bigserial PRIMARY KEY, action text NOT NULL, filename text NOT NULL, "+
		"new_filename text, old_sha256 text, new_sha256 text, reason text, db_user text NOT NULL DEFAULT current_user, "+
		"actor text, meshctl_version text, at timestamptz NOT NULL DEFAULT now());\n", r.historyIdent())
}

// repairState is what a repair needs to know about one name.
type repairState struct {
	row     bool
	rowSHA  string
	file    *File
	partial *Failure
}

// RepairAccept records the current sha256 of a changed applied file (the
// old one is kept in the history table). The file is not run.
func (r *Runner) RepairAccept(ctx context.Context, file string, o RepairOptions) (*RepairResult, error) {
	return r.repair(ctx, RepairAccept, o, func(s *session, st map[string]repairState) (*RepairResult, string, error) {
		x := st[file]
		switch {
		case x.file == nil:
			return nil, "", &RepairError{RepairAccept, file, "there is no such file in the folder"}
		case !x.row:
			return nil, "", &RepairError{RepairAccept, file, "it has no tracking row (it is not applied)"}
		case x.rowSHA == x.file.SHA256:
			return nil, "", &RepairError{RepairAccept, file, "it has not changed since it was applied"}
		}
		res := &RepairResult{Action: RepairAccept, File: file, OldSHA256: x.rowSHA, NewSHA256: x.file.SHA256,
			Change: fmt.Sprintf("record sha256 %s for %s (was %s); the file is not run", short12(x.file.SHA256), file, short12(x.rowSHA))}
		sql := fmt.Sprintf("UPDATE %s SET sha256 = %s WHERE filename = %s;\n", s.r.tableIdent(), literal(x.file.SHA256), literal(file)) +
			s.extrasUpdate("normalized_sha256 = "+literal(x.file.Normalized()), file)
		return res, sql, nil
	})
}

// RepairForget deletes the tracking row of a file that is no longer in the
// folder. Nothing in the database schema changes.
func (r *Runner) RepairForget(ctx context.Context, file string, o RepairOptions) (*RepairResult, error) {
	return r.repair(ctx, RepairForget, o, func(s *session, st map[string]repairState) (*RepairResult, string, error) {
		x := st[file]
		switch {
		case !x.row:
			return nil, "", &RepairError{RepairForget, file, "it has no tracking row"}
		case x.file != nil:
			return nil, "", &RepairError{RepairForget, file, "the file is still in the folder: only a row whose file is missing can be forgotten"}
		}
		res := &RepairResult{Action: RepairForget, File: file, OldSHA256: x.rowSHA,
			Change: fmt.Sprintf("delete the tracking row of %s (sha256 %s); what the file did stays in the database", file, short12(x.rowSHA))}
		sql := fmt.Sprintf("DELETE FROM %s WHERE filename = %s;\n", s.r.tableIdent(), literal(file)) + s.extrasDelete(file)
		return res, sql, nil
	})
}

// RepairResolve settles a failed no-transaction file after the operator
// has checked the database: applied records it as applied (how
// "resolved"); not applied clears the failure, so that Up runs the file
// again from its first statement.
func (r *Runner) RepairResolve(ctx context.Context, file string, applied bool, o RepairOptions) (*RepairResult, error) {
	return r.repair(ctx, RepairResolve, o, func(s *session, st map[string]repairState) (*RepairResult, string, error) {
		x := st[file]
		switch {
		case x.file == nil:
			return nil, "", &RepairError{RepairResolve, file, "there is no such file in the folder"}
		case x.row:
			return nil, "", &RepairError{RepairResolve, file, "it is already recorded as applied"}
		case x.partial == nil:
			return nil, "", &RepairError{RepairResolve, file, "it is not a failed no-transaction file"}
		}
		res := &RepairResult{Action: RepairResolve, File: file, NewSHA256: x.file.SHA256, Applied: &applied}
		sql := fmt.Sprintf("DELETE FROM %s WHERE filename = %s;\n", s.r.partialIdent(), literal(file))
		if applied {
			res.Change = fmt.Sprintf("record %s as applied (resolved; %d of its statements were recorded done); nothing is run", file, x.partial.StatementsDone)
			sql += s.rowSQL(x.file, HowResolved, "NULL", false) + ";\n"
		} else {
			res.Change = fmt.Sprintf("clear the failure of %s: the next up runs it again from its first statement", file)
		}
		return res, sql, nil
	})
}

// RepairRename moves the tracking row of a renamed file to its new name.
// The new file must have exactly the sha256 recorded for the old one.
func (r *Runner) RepairRename(ctx context.Context, oldName, newName string, o RepairOptions) (*RepairResult, error) {
	return r.repair(ctx, RepairRename, o, func(s *session, st map[string]repairState) (*RepairResult, string, error) {
		x, y := st[oldName], st[newName]
		switch {
		case !x.row:
			return nil, "", &RepairError{RepairRename, oldName, "it has no tracking row"}
		case x.file != nil:
			return nil, "", &RepairError{RepairRename, oldName, "the file is still in the folder"}
		case y.file == nil:
			return nil, "", &RepairError{RepairRename, oldName, newName + " is not a file in the folder"}
		case y.row:
			return nil, "", &RepairError{RepairRename, oldName, newName + " already has a tracking row"}
		case y.file.SHA256 != x.rowSHA:
			return nil, "", &RepairError{RepairRename, oldName, fmt.Sprintf("%s's sha256 %s differs from the %s recorded for %s: that is not a rename", newName, short12(y.file.SHA256), short12(x.rowSHA), oldName)}
		}
		res := &RepairResult{Action: RepairRename, File: oldName, NewFile: newName, OldSHA256: x.rowSHA, NewSHA256: y.file.SHA256,
			Change: fmt.Sprintf("rename the tracking row %s to %s (same sha256 %s); nothing is run", oldName, newName, short12(x.rowSHA))}
		sql := fmt.Sprintf("UPDATE %s SET filename = %s WHERE filename = %s;\n", s.r.tableIdent(), literal(newName), literal(oldName)) +
			s.extrasUpdate("filename = "+literal(newName), oldName)
		return res, sql, nil
	})
}

func short12(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// extrasUpdate and extrasDelete keep meshctl's extras in step with a
// repaired row, wherever they live.
func (s *session) extrasUpdate(set, file string) string {
	switch {
	case s.info.extrasOnTable:
		if strings.HasPrefix(set, "filename") {
			return "" // the same row, renamed above
		}
		return fmt.Sprintf("UPDATE %s SET %s WHERE filename = %s;\n", s.r.tableIdent(), set, literal(file))
	case s.info.sideExists:
		return fmt.Sprintf("UPDATE %s SET %s WHERE filename = %s;\n", s.r.sideIdent(), set, literal(file))
	}
	return ""
}

func (s *session) extrasDelete(file string) string {
	if s.info.sideExists && !s.info.extrasOnTable {
		return fmt.Sprintf("DELETE FROM %s WHERE filename = %s;\n", s.r.sideIdent(), literal(file))
	}
	return ""
}

type repairFunc func(s *session, st map[string]repairState) (*RepairResult, string, error)

func (r *Runner) repair(ctx context.Context, action string, o RepairOptions, f repairFunc) (*RepairResult, error) {
	s, err := r.open(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close(ctx)
	if !o.DryRun {
		if err := s.checkPinned(ctx); err != nil {
			return nil, err
		}
		if _, err := s.lock(ctx); err != nil {
			return nil, err
		}
	}
	st, err := s.repairStates(ctx)
	if err != nil {
		return nil, err
	}
	res, sql, err := f(s, st)
	if err != nil {
		return nil, err
	}
	res.DryRun = o.DryRun
	if o.DryRun {
		return res, nil
	}
	if err := s.checkRepair(ctx, action); err != nil {
		return nil, err
	}
	hist := fmt.Sprintf("INSERT INTO %s (action, filename, new_filename, old_sha256, new_sha256, reason, actor, meshctl_version) VALUES (%s, %s, %s, %s, %s, %s, %s, %s);\n",
		r.historyIdent(), literal(action), literal(res.File), nullable(res.NewFile), nullable(res.OldSHA256), nullable(res.NewSHA256),
		nullable(o.Reason), nullable(o.Actor), nullable(r.cfg.version))
	if action == RepairResolve && res.Applied != nil {
		hist = strings.Replace(hist, literal(action), literal(fmt.Sprintf("%s --applied=%v", action, *res.Applied)), 1)
	}
	q := "BEGIN;\n" + syncCommitSQL(s.durable)
	if !s.info.historyExists {
		q += r.historyDDL()
	}
	q += sql + hist + "COMMIT;"
	if _, err := s.conn.PgConn().Exec(ctx, q).ReadAll(); err != nil {
		s.rollback(ctx)
		return nil, dbErr("repair "+action, err)
	}
	return res, nil
}

// repairStates reads the tracking and partial rows and pairs them with the
// folder's files.
func (s *session) repairStates(ctx context.Context) (map[string]repairState, error) {
	st, err := s.status(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]repairState{}
	for _, f := range s.r.src.Files {
		out[f.Name] = repairState{file: f}
	}
	for _, fs := range st.Files {
		if fs.State == StateRenamed {
			// The row is the old name's: status shows it on the file it
			// was renamed to, which has none of its own.
			x := out[fs.RenamedFrom]
			x.row, x.rowSHA = true, fs.AppliedSHA256
			out[fs.RenamedFrom] = x
			continue
		}
		x := out[fs.Filename]
		if fs.AppliedSHA256 != "" {
			x.row, x.rowSHA = true, fs.AppliedSHA256
		}
		x.partial = fs.Failure
		out[fs.Filename] = x
	}
	var exists bool
	if err := s.conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", pgx.QueryExecModeSimpleProtocol, s.r.historyIdent()).Scan(&exists); err != nil {
		return nil, dbErr("reading the repair history table", err)
	}
	s.info.historyExists = exists
	return out, nil
}

// checkRepair names the grant a repair needs before it tries.
func (s *session) checkRepair(ctx context.Context, action string) error {
	var need []string
	switch action {
	case RepairAccept, RepairRename:
		need = []string{"UPDATE"}
	case RepairForget:
		need = []string{"DELETE"}
	}
	for _, p := range need {
		var ok bool
		if err := s.conn.QueryRow(ctx, "SELECT has_table_privilege($1, $2)", pgx.QueryExecModeSimpleProtocol, s.r.tableIdent(), p).Scan(&ok); err != nil {
			return dbErr("checking privileges", err)
		}
		if !ok {
			return &PrivilegeError{Role: s.info.user, Why: "cannot " + action + " a tracking row",
				Grant: fmt.Sprintf("GRANT %s ON %s TO %s", p, s.r.Table(), ident(s.info.user))}
		}
	}
	if !s.info.historyExists && !s.info.canCreate {
		return &PrivilegeError{Role: s.info.user, Why: "cannot create " + s.r.Table() + historySuffix + ", where repairs are recorded",
			Grant: fmt.Sprintf("GRANT CREATE ON SCHEMA %s TO %s (or have the schema's owner run: %s)", ident(s.r.cfg.schema), ident(s.info.user), strings.TrimSpace(s.r.historyDDL()))}
	}
	return nil
}
