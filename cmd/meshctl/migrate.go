package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/urfave/cli/v2"

	"github.com/claudemesh/meshctl/internal/dbconn"
	"github.com/claudemesh/meshctl/migrate"
	"github.com/claudemesh/meshctl/migrations"
)

func migrateCommand() *cli.Command {
	dir := &cli.StringFlag{Name: "dir", Usage: "read migrations from `DIR` instead of the embedded reference schema"}
	source := []cli.Flag{dir,
		&cli.StringFlag{Name: "table", Value: migrate.DefaultTable, Usage: "tracking table as `schema.name`"},
	}
	flags := func(extra ...cli.Flag) []cli.Flag { return append(append([]cli.Flag{}, source...), extra...) }
	lockWait := &cli.DurationFlag{Name: "lock-wait", Value: migrate.DefaultLockWait, Usage: "give up (exit 5) if the migration lock is not free within `DUR`"}
	return &cli.Command{
		Name:  "migrate",
		Usage: "apply and inspect schema migrations (upstream-compatible tracking table and lock)",
		Description: `Exit codes: 0 ok; 1 error (a file failed, database unreachable); 2 bad input (flags, folder, file, lint error,
a tracking table filled from another folder: pass --dir); 3 pending (status --exit-code); 4 drift: changed, missing,
out-of-order or failed files (status --exit-code, up --strict), renamed applied files (up);
5 the lock was not acquired within --lock-wait.`,
		Subcommands: []*cli.Command{
			{
				Name:  "status",
				Usage: "one row per file: applied, pending, changed, missing-file, out-of-order, failed or renamed",
				UsageText: `meshctl migrate status
meshctl migrate status --dir ./migrations --exit-code   # exit 3 when pending, 4 on drift
meshctl --json migrate status`,
				Flags:  flags(&cli.BoolFlag{Name: "exit-code", Usage: "exit 3 when files are pending, 4 on drift"}),
				Action: migrateStatus,
			},
			{
				Name:  "plan",
				Usage: "show what up would do, in order, with each file's transaction mode and lint findings; writes nothing",
				UsageText: `meshctl migrate plan
meshctl migrate plan --sql --dir ./migrations > review.sql   # every statement up would send, with file:line
meshctl --json migrate plan --dir ./migrations`,
				Flags: flags(
					&cli.StringFlag{Name: "to", Usage: "stop after `FILE`"},
					&cli.BoolFlag{Name: "sql", Usage: "print every statement up would send, in order, with its file:line and transaction mode"},
					&cli.BoolFlag{Name: "resume", Usage: "plan as up --resume would run"},
				),
				Action: migratePlan,
			},
			{
				Name:  "up",
				Usage: "apply pending files, each in one transaction with its tracking row",
				UsageText: `meshctl migrate up
meshctl migrate up --dir ./migrations --to 0002_topics.sql --lock-wait 2m
meshctl migrate up --strict --statement-timeout 5m
meshctl migrate up --batch 1   # one durable commit per file
meshctl migrate up --dry-run`,
				Flags: flags(
					&cli.StringFlag{Name: "to", Usage: "stop after `FILE`"},
					lockWait,
					&cli.DurationFlag{Name: "lock-timeout", Value: migrate.DefaultLockTimeout, Usage: "lock_timeout `DUR` for every migration statement"},
					&cli.IntFlag{Name: "lock-retries", Value: migrate.DefaultLockRetries, Usage: "`N` retries after lock_not_available (55P03), with doubling backoff"},
					&cli.DurationFlag{Name: "statement-timeout", Usage: "statement_timeout `DUR` for every migration statement (0: the role's, database's or server's setting)"},
					&cli.BoolFlag{Name: "strict", Usage: "refuse (exit 4) on changed, missing or out-of-order files"},
					&cli.BoolFlag{Name: "dry-run", Usage: "show the plan; write nothing"},
					&cli.BoolFlag{Name: "resume", Usage: "continue a failed non-transactional file at the statement that failed"},
					&cli.BoolFlag{Name: "retry-file", Usage: "run a failed non-transactional file again from its first statement"},
					&cli.BoolFlag{Name: "show-row-values", Usage: "show row values in the DETAIL of a failing statement (hidden by default: they may be secrets)"},
					&cli.IntFlag{Name: "batch", Value: migrate.DefaultBatchFiles, Usage: "send up to `N` consecutive transactional files per round trip, each its own transaction; " +
						"the last of each batch commits durably (flushed) before any is reported; 1: every commit durable on its own (see docs/migrate.md)"},
				),
				Action: migrateUp,
			},
			{
				Name:  "bootstrap",
				Usage: "record files up to and including --through as applied without running them (database migrated by hand)",
				UsageText: `meshctl migrate bootstrap --through 0001_audit_log.sql --dry-run
meshctl migrate bootstrap --through 0001_audit_log.sql --dir ./migrations`,
				Flags: flags(
					&cli.StringFlag{Name: "through", Usage: "last `FILE` already applied by hand (required)"},
					&cli.BoolFlag{Name: "dry-run", Usage: "list what would be marked; write nothing"},
					lockWait,
				),
				Action: migrateBootstrap,
			},
			repairCommand(source, lockWait),
			{
				Name:      "new",
				Usage:     "create the next migration file: the next version, zero-padded like the folder's files",
				ArgsUsage: "NAME",
				UsageText: `meshctl migrate new add_topic_index --dir ./migrations
meshctl migrate new add_topic_index_concurrently --no-transaction --dir ./migrations
meshctl migrate new 0042_backfill --dir ./migrations   # an explicit version, refused if taken`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "dir", Value: ".", Usage: "the migration folder `DIR` to create the file in"},
					&cli.BoolFlag{Name: "no-transaction", Usage: "start the file with " + migrate.NoTransactionMarker + " (for CREATE INDEX CONCURRENTLY and friends)"},
				},
				Action: migrateNew,
			},
			{
				Name:      "lint",
				Usage:     "check files for statements that fail in a transaction, block writes or destroy data; exit 1 on error findings",
				UsageText: "meshctl migrate lint\nmeshctl --json migrate lint --dir ./migrations",
				Flags:     []cli.Flag{dir}, // lint reads files only: no tracking table
				Action:    migrateLint,
			},
		},
	}
}

// migrationSource is --dir, or the embedded reference migrations.
func migrationSource(c *cli.Context) fs.FS {
	if d := c.String("dir"); d != "" {
		return os.DirFS(d)
	}
	return migrations.FS
}

func newRunner(c *cli.Context, e *env, opts ...migrate.Option) (*migrate.Runner, error) {
	base := []migrate.Option{migrate.WithTable(c.String("table")), migrate.WithVersion(currentVersion().Version)}
	url := e.databaseURL
	connect := func(ctx context.Context) (*pgx.Conn, error) { return dbconn.Connect(ctx, url, appName) }
	r, err := migrate.New(connect, migrationSource(c), append(base, opts...)...)
	if err != nil {
		return nil, migrateError(err)
	}
	return r, nil
}

// migrateError attaches the documented exit code to the migrate package's
// typed errors, and the command that gets the operator out of the state.
func migrateError(err error) error {
	var (
		se *migrate.SourceError
		te *migrate.TargetError
		le *migrate.LintError
		lk *migrate.LockError
		de *migrate.DriftError
		oe *migrate.OptionError
		rn *migrate.RenameError
		fh *migrate.ForeignHistoryError
		rp *migrate.RepairError
		tr *migrate.TrackingRowError
	)
	var (
		fe  *migrate.FileError
		ie  *migrate.InterruptedError
		cl  *migrate.ConnectionLostError
		dur *migrate.DurabilityError
		rs  *migrate.ResumeSessionError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &rs):
		// Like a failed file without --resume: the file needs --retry-file
		// or a repair, and nothing was run.
		return withCode(ExitDrift, withRemedies(err, rs.File, rs.Remedies()))
	case errors.As(err, &fe):
		return withRemedies(err, fe.File, fe.Remedies())
	case errors.As(err, &ie):
		return withRemedies(err, ie.File, ie.Remedies())
	case errors.As(err, &cl):
		return withRemedies(err, "", cl.Remedies())
	case errors.As(err, &dur):
		return withRemedies(err, "", dur.Remedies())
	case errors.As(err, &te):
		msg := fmt.Sprintf("--%s %q is not a migration file in the folder", te.Option, te.Name)
		if te.Last != "" {
			msg += "; give the name of one, such as " + te.Last
		}
		return withCode(ExitUsage, errors.New(msg))
	case errors.As(err, &se):
		return withCode(ExitUsage, withRemedies(err, se.File, se.Remedies()))
	case errors.As(err, &le):
		return withCode(ExitUsage, withRemedies(err, "", le.Remedies()))
	case errors.As(err, &rn):
		var cmds []string
		for _, r := range rn.Renames {
			cmds = append(cmds, "meshctl migrate "+r.Repair)
		}
		return withCode(ExitDrift, fmt.Errorf("%w; record each rename with: %s", err, strings.Join(cmds, "; ")))
	case errors.As(err, &fh):
		return withCode(ExitUsage, fmt.Errorf("%w; pass --dir with the folder this database was migrated from (or --table for another tracking table)", err))
	case errors.As(err, &se), errors.As(err, &te), errors.As(err, &le), errors.As(err, &oe), errors.As(err, &rp):
		return withCode(ExitUsage, err)
	case errors.As(err, &tr):
		return fmt.Errorf("%w: meshctl cannot tell what ran; check by hand, then set it (UPDATE %s SET %s = … WHERE filename = '%s') or delete the row", err, tr.Table, tr.Column, tr.File)
	case errors.As(err, &lk):
		return withCode(ExitLocked, withRemedies(err, "", lk.Remedies()))
	case errors.As(err, &de):
		file := ""
		if len(de.Files) == 1 {
			file = de.Files[0]
		}
		err = withRemedies(err, file, de.Remedies())
		if a := driftAdvice(de); a != "" {
			err = fmt.Errorf("%w; %s", err, a)
		}
		return withCode(ExitDrift, err)
	}
	return err
}

// driftAdvice names the repair command for a strict refusal (the kinds
// with no Remedy of their own).
func driftAdvice(de *migrate.DriftError) string {
	file := "FILE"
	if len(de.Files) == 1 {
		file = de.Files[0]
	}
	switch de.Kind {
	case migrate.DriftChanged:
		return "once the change is reviewed, `meshctl migrate repair accept " + file + "` records the new hash"
	case migrate.DriftMissing:
		return "restore the file, or `meshctl migrate repair forget " + file + "` drops its row"
	case migrate.DriftOutOfOrder:
		return "rename the files to sort last, or run `meshctl migrate up` without --strict to apply them"
	}
	return ""
}

// remedyText phrases the migrate package's remedies as meshctl commands:
// the one place where the library's ways out become command lines.
func remedyText(file string, rs []migrate.Remedy) string {
	if file == "" {
		file = "FILE"
	}
	var parts []string
	for _, r := range rs {
		switch r {
		case migrate.RemedyFixAndRerun:
			parts = append(parts, "fix it and rerun `meshctl migrate up`")
		case migrate.RemedyRerun:
			parts = append(parts, "rerun `meshctl migrate up` to continue")
		case migrate.RemedyResume:
			parts = append(parts, "if the cause is outside the file (a lock, the data), remove it and run `meshctl migrate up --resume` (continues at the failed statement, the file unchanged)")
		case migrate.RemedyRetryFile:
			parts = append(parts, "to change the file, make it safe to run again from the start and run `meshctl migrate up --retry-file`")
		case migrate.RemedyResolveApplied:
			parts = append(parts, "if you completed it by hand, `meshctl migrate repair resolve --applied "+file+"`")
		case migrate.RemedyDropIndexes:
			parts = append(parts, "drop the invalid index first")
		case migrate.RemedyStatus:
			parts = append(parts, "`meshctl migrate status` shows which files are applied")
		case migrate.RemedyWaitForLock:
			parts = append(parts, "wait for that run to finish or raise --lock-wait")
		case migrate.RemedyGrant:
			parts = append(parts, "have it granted, or run as a role that has it")
		case migrate.RemedyLint:
			parts = append(parts, "see `meshctl migrate lint`")
		case migrate.RemedyCheckFolder:
			parts = append(parts, "check --dir and its permissions")
		}
	}
	return strings.Join(parts, "; ")
}

// withRemedies appends remedyText to err's message when err has remedies.
func withRemedies(err error, file string, rs []migrate.Remedy) error {
	if t := remedyText(file, rs); t != "" {
		return fmt.Errorf("%w; %s", err, t)
	}
	return err
}

// jsonError returns err. Under --json the error's errorJSON reaches stdout
// through run, the one error path; it stays here as the place a verb
// marks "this error ends my output".
func jsonError(_ *env, err error) error { return err }

// progress prints the runner's events on stderr. On a terminal (and
// without --no-progress) a run of several files numbers them, [n/N]; logs
// and CI output keep the plain lines.
func progress(e *env) migrate.Option {
	counted, width := e.progressTerminal()
	var lastWatch string // the last statement-progress text shown
	return migrate.WithProgress(func(ev migrate.Event) {
		if ev.Kind == migrate.EventStatementProgress {
			line := watchLine(ev)
			switch {
			case counted:
				if width > 0 && len([]rune(line)) >= width {
					line = string([]rune(line)[:width-1])
				}
				fmt.Fprintf(e.stderr, "\r\033[K%s", line)
				lastWatch = line
			case watchKey(ev) != lastWatch:
				// Logs get a line when the phase or the blockers change.
				fmt.Fprintln(e.stderr, line)
				lastWatch = watchKey(ev)
			}
			return
		}
		if counted && lastWatch != "" {
			fmt.Fprint(e.stderr, "\r\033[K")
		}
		lastWatch = ""
		switch ev.Kind {
		case migrate.EventLockWait:
			if ev.Holder != nil {
				fmt.Fprintf(e.stderr, "waiting for the migration lock, held by %s\n", ev.Holder)
			} else {
				fmt.Fprintln(e.stderr, "waiting for the migration lock (holder not visible to this role)")
			}
		case migrate.EventLockAcquired:
			if e.verbose || ev.Duration > time.Second {
				fmt.Fprintf(e.stderr, "migration lock acquired after %s\n", ev.Duration.Round(time.Millisecond))
			}
		case migrate.EventFileDone:
			n := ""
			if counted && ev.Total > 1 {
				n = fmt.Sprintf("[%*d/%d] ", len(strconv.Itoa(ev.Total)), ev.Index, ev.Total)
			}
			fmt.Fprintf(e.stderr, "%sapplied %s (%s)\n", n, ev.File, ev.Duration.Round(10*time.Microsecond))
		case migrate.EventStatementDone:
			if e.verbose {
				fmt.Fprintf(e.stderr, "  %s: statement #%d done\n", ev.File, ev.Statement)
			}
		case migrate.EventRetry:
			fmt.Fprintf(e.stderr, "%s: lock not available, retrying in %s\n", ev.File, ev.Duration)
		case migrate.EventWarning:
			fmt.Fprintf(e.stderr, "warning: %s\n", ev.Message)
		}
	})
}

// watchLine describes a long-running no-transaction statement:
//
//	0005_idx.sql #2 running 12s: building index: scanning table 1,234/56,789 blocks; blocked by pid 4242 (psql, idle in transaction since 17:58:01Z)
func watchLine(ev migrate.Event) string {
	p := ev.Progress
	var b strings.Builder
	fmt.Fprintf(&b, "%s #%d running %s", ev.File, ev.Statement, ev.Duration.Round(time.Second))
	if p.Phase != "" {
		b.WriteString(": " + p.Phase)
		switch {
		case p.BlocksTotal > 0:
			fmt.Fprintf(&b, " %s/%s blocks", thousands(p.BlocksDone), thousands(p.BlocksTotal))
		case p.TuplesTotal > 0:
			fmt.Fprintf(&b, " %s/%s tuples", thousands(p.TuplesDone), thousands(p.TuplesTotal))
		}
	}
	for i, bl := range p.Blockers {
		if i == 0 {
			b.WriteString("; blocked by")
		} else {
			b.WriteString(",")
		}
		app := bl.ApplicationName
		if app == "" {
			app = "no application_name"
		}
		fmt.Fprintf(&b, " pid %d (%s, %s", bl.PID, app, bl.State)
		if bl.Since != nil {
			fmt.Fprintf(&b, " since %s", bl.Since.UTC().Format("15:04:05Z"))
		}
		b.WriteString(")")
	}
	return b.String()
}

// watchKey is what, when it changes, earns a new log line.
func watchKey(ev migrate.Event) string {
	k := ev.Progress.Phase
	for _, b := range ev.Progress.Blockers {
		k += fmt.Sprintf(" %d", b.PID)
	}
	return k
}

func migrateStatus(c *cli.Context) error {
	e := envFrom(c)
	r, err := newRunner(c, e)
	if err != nil {
		return jsonError(e, err)
	}
	st, err := r.Status(c.Context)
	if err != nil {
		return jsonError(e, migrateError(err))
	}
	if e.json {
		if err := e.printJSON(st); err != nil {
			return err
		}
	} else {
		rows := [][]string{}
		for _, f := range st.Files {
			at, dur, note := "", "", f.How
			if f.AppliedAt != nil {
				at = f.AppliedAt.Format("2006-01-02 15:04:05")
			}
			if f.DurationMS != nil {
				dur = fmt.Sprintf("%.1f ms", *f.DurationMS)
			}
			sum := short(f.SHA256)
			switch f.State {
			case migrate.StateChanged:
				sum = short(f.AppliedSHA256) + " -> " + short(f.SHA256)
				note = f.Change + " change"
			case migrate.StateMissingFile:
				sum = short(f.AppliedSHA256)
			case migrate.StateRenamed:
				note = "was " + f.RenamedFrom
			case migrate.StateFailed:
				if f.Failure.Statement > 0 {
					note = fmt.Sprintf("statement #%d (line %d): %s", f.Failure.Statement, f.Failure.Line, f.Failure.Error)
				} else {
					note = "interrupted after " + count(f.Failure.StatementsDone, "statement", "statements")
				}
			}
			if f.NoTransaction {
				note = strings.TrimSpace("no-transaction " + note)
			}
			rows = append(rows, []string{f.Filename, string(f.State), sum, at, dur, note})
		}
		if err := e.table([]string{"file", "state", "hash", "applied at utc", "duration", "note"}, rows); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, summary(st))
	}
	if c.Bool("exit-code") {
		switch {
		case st.Drift():
			return withCode(ExitDrift, nil)
		case st.Pending():
			return withCode(ExitPending, nil)
		}
	}
	return nil
}

func summary(st *migrate.Status) string {
	var parts []string
	for _, s := range []migrate.State{migrate.StateApplied, migrate.StatePending, migrate.StateChanged,
		migrate.StateMissingFile, migrate.StateOutOfOrder, migrate.StateFailed, migrate.StateRenamed} {
		if n := st.Counts[s]; n > 0 || s == migrate.StateApplied || s == migrate.StatePending {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	return strings.Join(parts, ", ") + " (table " + st.Table + ")"
}

// planOptions are the flags that decide what up would apply; plan and up
// --dry-run read them the same way as up (flags a verb lacks read as unset).
func planOptions(c *cli.Context) []migrate.CallOption {
	var opts []migrate.CallOption
	for flag, o := range map[string]migrate.CallOption{"strict": migrate.Strict(), "resume": migrate.Resume(), "retry-file": migrate.RetryFile()} {
		if c.Bool(flag) {
			opts = append(opts, o)
		}
	}
	if to := c.String("to"); to != "" {
		opts = append(opts, migrate.To(to))
	}
	return opts
}

func migratePlan(c *cli.Context) error {
	e := envFrom(c)
	r, err := newRunner(c, e)
	if err != nil {
		return jsonError(e, err)
	}
	p, err := r.Plan(c.Context, planOptions(c)...)
	if err != nil {
		return jsonError(e, migrateError(err))
	}
	switch {
	case e.json && c.Bool("sql"):
		out := struct {
			*migrate.Plan
			SQL []migrate.PlannedStatement `json:"sql"`
		}{Plan: p, SQL: []migrate.PlannedStatement{}}
		for _, s := range p.Steps {
			out.SQL = append(out.SQL, s.SQL()...)
		}
		if err := e.printJSON(out); err != nil {
			return err
		}
	case e.json:
		if err := e.printJSON(p); err != nil {
			return err
		}
	case c.Bool("sql"):
		printPlanSQL(e, p)
	default:
		rows := [][]string{}
		for i, s := range p.Steps {
			var nerr, nwarn int
			for _, f := range s.Findings {
				if f.Severity == migrate.SeverityError {
					nerr++
				} else {
					nwarn++
				}
			}
			rows = append(rows, []string{fmt.Sprint(i + 1), s.Filename, string(s.State), s.Mode, fmt.Sprint(s.Statements),
				count(nerr, "error", "errors") + ", " + count(nwarn, "warning", "warnings")})
		}
		if len(rows) == 0 {
			fmt.Fprintln(e.stdout, "nothing to apply: the database is up to date")
		} else if err := e.table([]string{"#", "file", "state", "mode", "statements", "lint"}, rows); err != nil {
			return err
		}
		for _, s := range p.Steps {
			for _, f := range s.Findings {
				printFinding(e, f)
			}
		}
		for _, w := range p.Warnings {
			fmt.Fprintf(e.stdout, "warning: %s\n", w)
		}
	}
	return migrateError(p.Err())
}

// printPlanSQL prints what up would send as an SQL script for review: each
// file with its transaction mode, each statement after a comment naming
// its file:line:column. Warnings and why up would refuse go to stderr, so
// stdout stays SQL.
func printPlanSQL(e *env, p *migrate.Plan) {
	if len(p.Steps) == 0 {
		fmt.Fprintln(e.stdout, "-- nothing to apply: the database is up to date")
	}
	for i, s := range p.Steps {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		switch {
		case s.Mode == "no-transaction" && s.Resume:
			fmt.Fprintf(e.stdout, "-- %s: no-transaction, resumed: each statement runs and commits on its own; the ones before are done\n", s.Filename)
		case s.Mode == "no-transaction":
			fmt.Fprintf(e.stdout, "-- %s: no-transaction: each statement runs and commits on its own\n", s.Filename)
		default:
			fmt.Fprintf(e.stdout, "-- %s: transaction: sent as one piece; its statements and its tracking row commit together or not at all\n", s.Filename)
		}
		for _, st := range s.SQL() {
			fmt.Fprintf(e.stdout, "-- %s:%d:%d\n%s\n", st.File, st.Line, st.Col, st.SQL)
		}
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(e.stderr, "warning: %s\n", w)
	}
}

func migrateNew(c *cli.Context) error {
	e := envFrom(c)
	if c.NArg() != 1 {
		return usageError("migrate new needs exactly one NAME, e.g. meshctl migrate new add_topic_index --dir ./migrations")
	}
	created, err := migrate.CreateFile(c.String("dir"), c.Args().First(), c.Bool("no-transaction"))
	if err != nil {
		return jsonError(e, migrateError(err))
	}
	if e.json {
		return e.printJSON(created)
	}
	fmt.Fprintf(e.stdout, "created %s\n", created.Path)
	return nil
}

func printFinding(e *env, f migrate.Finding) {
	fmt.Fprintf(e.stdout, "%s:%d:%d: %s [%s] %s\n    why: %s\n    fix: %s\n", f.File, f.Line, f.Col, f.Severity, f.Rule, f.Message, f.Why, f.Fix)
}

func migrateUp(c *cli.Context) error {
	if c.Bool("dry-run") {
		return migratePlan(c)
	}
	e := envFrom(c)
	// An error before the runner exists (flags, folder, files) is reported
	// like one from Up: under --json, the same object with "error" set.
	res, err := &migrate.UpResult{}, error(nil)
	if c.Bool("resume") && c.Bool("retry-file") {
		err = usageError("--resume and --retry-file exclude each other: pick one")
	} else {
		opts := append([]migrate.Option{},
			migrate.WithLockWait(c.Duration("lock-wait")),
			migrate.WithLockTimeout(c.Duration("lock-timeout")),
			migrate.WithStatementTimeout(c.Duration("statement-timeout")),
			migrate.WithLockRetries(c.Int("lock-retries"), 500*time.Millisecond),
			migrate.WithBatch(c.Int("batch"), migrate.DefaultBatchBytes),
			migrate.WithShowRowValues(c.Bool("show-row-values")),
			progress(e),
		)
		var r *migrate.Runner
		if r, err = newRunner(c, e, opts...); err == nil {
			// Warnings reach stderr as progress events.
			res, err = r.Up(c.Context, planOptions(c)...)
		}
	}
	if e.json {
		if res.Applied == nil {
			res.Applied = []migrate.FileResult{}
		}
		if res.Warnings == nil {
			res.Warnings = []string{}
		}
		out := struct {
			*migrate.UpResult
			Error *errorJSON `json:"error,omitempty"`
		}{UpResult: res}
		out.Error = envelope(migrateError(err))
		if perr := e.printJSON(out); perr != nil && err == nil {
			err = perr
		}
	} else {
		switch {
		case res.UpToDate:
			fmt.Fprintln(e.stdout, "up to date: nothing to apply")
		case len(res.Applied) > 0:
			var total time.Duration
			for _, a := range res.Applied {
				total += a.Duration
			}
			fmt.Fprintf(e.stdout, "applied %s in %s\n", count(len(res.Applied), "file", "files"), total.Round(time.Millisecond))
		}
	}
	return migrateError(err)
}

func migrateBootstrap(c *cli.Context) error {
	e := envFrom(c)
	through := c.String("through")
	if through == "" {
		return jsonError(e, usageError("bootstrap needs --through FILE: the last file already applied by hand (it will not mark everything on disk)"))
	}
	r, err := newRunner(c, e, migrate.WithLockWait(c.Duration("lock-wait")), progress(e))
	if err != nil {
		return jsonError(e, err)
	}
	res, err := r.Bootstrap(c.Context, through, c.Bool("dry-run"))
	if err != nil {
		return jsonError(e, migrateError(err))
	}
	if res.Marked == nil {
		res.Marked = []string{}
	}
	if res.AlreadyApplied == nil {
		res.AlreadyApplied = []string{}
	}
	if e.json {
		return e.printJSON(res)
	}
	verb := "marked as applied (bootstrapped, not executed)"
	if res.DryRun {
		verb = "would be marked as applied (dry run: nothing written)"
	}
	fmt.Fprintf(e.stdout, "%s %s:\n", count(len(res.Marked), "file", "files"), verb)
	for _, m := range res.Marked {
		fmt.Fprintf(e.stdout, "  %s\n", m)
	}
	if len(res.AlreadyApplied) > 0 {
		fmt.Fprintf(e.stdout, "%s already recorded, left alone\n", count(len(res.AlreadyApplied), "file", "files"))
	}
	return nil
}

type lintOutput struct {
	Files    int               `json:"files"`
	Errors   int               `json:"errors"`
	Warnings int               `json:"warnings"`
	Findings []migrate.Finding `json:"findings"`
}

func migrateLint(c *cli.Context) error {
	e := envFrom(c)
	// ReadSource: what LoadSource refuses (a BOM, psql meta-commands, COPY
	// FROM STDIN) lint reports as findings, with the others.
	src, err := migrate.ReadSource(migrationSource(c))
	if err != nil {
		return jsonError(e, migrateError(err))
	}
	out := lintOutput{Files: len(src.Files), Findings: migrate.Lint(src)}
	if out.Findings == nil {
		out.Findings = []migrate.Finding{}
	}
	for _, f := range out.Findings {
		if f.Severity == migrate.SeverityError {
			out.Errors++
		} else {
			out.Warnings++
		}
	}
	if e.json {
		if err := e.printJSON(out); err != nil {
			return err
		}
	} else {
		for _, f := range out.Findings {
			printFinding(e, f)
		}
		fmt.Fprintf(e.stdout, "%s: %s, %s\n", count(out.Files, "file", "files"), count(out.Errors, "error", "errors"), count(out.Warnings, "warning", "warnings"))
	}
	if out.Errors > 0 {
		return withCode(ExitError, nil)
	}
	return nil
}
