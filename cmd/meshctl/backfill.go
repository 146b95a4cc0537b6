package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/urfave/cli/v2"

	"github.com/claudemesh/meshctl/backfill"
	"github.com/claudemesh/meshctl/internal/dbconn"
	"github.com/claudemesh/meshctl/migrate"
)

func backfillCommand() *cli.Command {
	return &cli.Command{
		Name:  "backfill",
		Usage: "run data backfills (#general, owner-member, notifications): batched, resumable, idempotent",
		Description: `Each batch is one transaction that writes its rows and the job's cursor
(mesh.meshctl_backfill) together: after a crash, a kill or Ctrl-C, run again to continue.
Exit codes: 0 done (or stopped cleanly), 1 error, 2 bad input.`,
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Usage:     "list the backfills with their state and progress",
				UsageText: "meshctl backfill list\nmeshctl --json backfill list",
				Action:    backfillList,
			},
			{
				Name:      "status",
				Usage:     "show the stored state of one backfill, or of all",
				UsageText: "meshctl backfill status notifications\nmeshctl --json backfill status",
				ArgsUsage: "[NAME]",
				Action:    backfillList,
			},
			{
				Name:  "run",
				Usage: "run backfills by name, or --all, continuing from their stored cursors",
				UsageText: `meshctl backfill run notifications
meshctl backfill run --all --max-rate 2000 --max-lag 5s
meshctl backfill run owner-member --dry-run`,
				ArgsUsage: "NAME... | --all",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "all", Usage: "run every backfill, in order (general, owner-member, notifications)"},
					&cli.BoolFlag{Name: "dry-run", Usage: "count what would be written and show a sample; write nothing, store no cursor"},
					&cli.BoolFlag{Name: "restart", Usage: "start from the beginning instead of the stored cursor (safe: writes are idempotent)"},
					&cli.IntFlag{Name: "batch-size", Usage: "fixed `N` rows per batch (default: adapt toward --target-batch)"},
					&cli.DurationFlag{Name: "target-batch", Value: 250 * time.Millisecond, Usage: "batch duration `DUR` the adaptive size aims at"},
					&cli.Float64Flag{Name: "max-rate", Usage: "at most `N` rows scanned per second"},
					&cli.DurationFlag{Name: "max-lag", Usage: "pause while a streaming replica's replay lag exceeds `DUR`"},
					&cli.DurationFlag{Name: "lock-timeout", Value: 2 * time.Second, Usage: "lock_timeout `DUR` of each batch"},
					&cli.DurationFlag{Name: "statement-timeout", Value: 30 * time.Second, Usage: "statement_timeout `DUR` of each batch"},
					&cli.StringFlag{Name: "until", Usage: "notifications: only messages created before `TIMESTAMP` (RFC 3339, e.g. 2025-06-01T12:00:00Z; " +
						"default: when the notifications migration was applied, from the tracking table)"},
					&cli.IntFlag{Name: "max-message-bytes", Value: backfill.DefaultMaxBody, Usage: "notifications: the broker's MAX_MESSAGE_BYTES `N`; " +
						"a body that decodes to more is skipped as oversized"},
					&cli.StringFlag{Name: "tracking-table", Value: migrate.DefaultTable, Usage: "notifications: the migration tracking table `schema.name` the default --until is read from"},
				},
				Action: backfillRun,
			},
		},
	}
}

func backfillConnect(c *cli.Context) (*env, *pgx.Conn, error) {
	e := envFrom(c)
	conn, err := dbconn.Connect(c.Context, e.databaseURL, appName)
	if err != nil {
		return nil, nil, err
	}
	return e, conn, nil
}

func backfillList(c *cli.Context) error {
	var names []string
	if c.Command.Name == "status" {
		if c.NArg() > 1 {
			return usageError("backfill status takes at most one name (see meshctl backfill status --help)")
		}
		if c.NArg() == 1 {
			j, err := backfill.Lookup(c.Args().First())
			if err != nil {
				return usageError("%v", err)
			}
			names = []string{j.Name()}
		}
	}
	e, conn, err := backfillConnect(c)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	states, err := backfill.States(c.Context, conn)
	if err != nil {
		return backfillError(err)
	}
	if names != nil {
		states = filterStates(states, names[0])
	}
	if e.json {
		return e.printJSON(states)
	}
	desc := map[string]string{}
	for _, j := range backfill.Jobs() {
		desc[j.Name()] = j.Description()
	}
	var rows [][]string
	for _, s := range states {
		rows = append(rows, []string{s.Name, s.Status, thousands(s.Scanned), thousands(s.Written), skippedText(s.Skipped), timeText(s.UpdatedAt), desc[s.Name]})
	}
	return e.table([]string{"backfill", "state", "scanned", "written", "skipped", "updated", "description"}, rows)
}

func filterStates(states []backfill.State, name string) []backfill.State {
	for _, s := range states {
		if s.Name == name {
			return []backfill.State{s}
		}
	}
	return nil
}

func skippedText(m map[string]int64) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s %s", thousands(v), k))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func timeText(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func backfillRun(c *cli.Context) error {
	var jobs []backfill.Job
	switch {
	case c.Bool("all") && c.NArg() > 0:
		return usageError("give backfill names or --all, not both (see meshctl backfill run --help)")
	case c.Bool("all"):
		jobs = backfill.Jobs()
	case c.NArg() == 0:
		return usageError("name the backfills to run, or --all (see meshctl backfill list)")
	default:
		for _, n := range c.Args().Slice() {
			j, err := backfill.Lookup(n)
			if err != nil {
				return usageError("%v", err)
			}
			jobs = append(jobs, j)
		}
	}
	until, err := parseUntil(c.String("until"))
	if err != nil {
		return err
	}
	e, conn, err := backfillConnect(c)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var results []*backfill.Result
	for _, j := range jobs {
		res, err := runOneBackfill(c, e, conn, j, until)
		if res != nil {
			results = append(results, res)
		}
		if err != nil {
			return backfillError(err)
		}
		if res.Stopped {
			break
		}
	}
	if e.json {
		// One line, like the batch lines before it (JSON lines).
		return json.NewEncoder(e.stdout).Encode(struct {
			Summary []*backfill.Result `json:"summary"`
		}{results})
	}
	for _, r := range results {
		state := "done"
		switch {
		case r.DryRun:
			state = "dry run: would write"
		case r.Stopped:
			state = "stopped (run again to continue)"
		}
		verb := "written"
		if r.DryRun {
			verb = "rows"
		}
		cutoff := ""
		if r.Until != nil {
			cutoff = ", messages before " + r.Until.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(e.stdout, "%s: %s — scanned %s, %s %s, skipped %s, %s in %s%s\n", r.Job, state, thousands(r.Scanned),
			verb, thousands(r.Written), skippedText(r.Skipped), count(r.Batches, "batch", "batches"), r.Duration.Round(time.Millisecond), cutoff)
		for _, s := range r.Sample {
			fmt.Fprintf(e.stdout, "  would: %s\n", s)
		}
	}
	if len(results) > 0 && results[len(results)-1].Stopped {
		return errors.New("interrupted: the current batch was completed and its cursor stored; run the same command to continue")
	}
	return nil
}

func runOneBackfill(c *cli.Context, e *env, conn *pgx.Conn, j backfill.Job, until time.Time) (*backfill.Result, error) {
	opt := backfill.Options{
		Until:         until,
		TrackingTable: c.String("tracking-table"),
		MaxBody:       c.Int("max-message-bytes"),
		DryRun:        c.Bool("dry-run"),
		Restart:       c.Bool("restart"),
		BatchSize:     c.Int("batch-size"),
		TargetBatch:   c.Duration("target-batch"),
		MaxRate:       c.Float64("max-rate"),
		MaxLag:        c.Duration("max-lag"),
		LockTimeout:   c.Duration("lock-timeout"),
		StmtTimeout:   c.Duration("statement-timeout"),
	}
	var bar *rowBar
	if e.json {
		// One JSON line per batch (and per wait) on stdout, then the summary.
		enc := json.NewEncoder(e.stdout)
		opt.Progress = func(ev backfill.Event) {
			if ev.Kind == backfill.EventBatch || ev.Kind == backfill.EventWait {
				_ = enc.Encode(ev)
			}
		}
	} else if ok, width := e.progressTerminal(); ok {
		bar = newRowBar(e.stderr, j.Name(), -1, width)
		opt.Progress = func(ev backfill.Event) {
			bar.total = ev.Total
			switch ev.Kind {
			case backfill.EventBatch:
				bar.extra = fmt.Sprintf("batch %d (%s)", ev.BatchSize, ev.BatchDuration.Round(time.Millisecond))
			case backfill.EventWait:
				bar.extra = "waiting: " + ev.Reason
			}
			bar.update(ev.Scanned)
		}
	} else {
		opt.Progress = func(ev backfill.Event) {
			if ev.Kind == backfill.EventWait {
				fmt.Fprintf(e.stderr, "%s: waiting: %s\n", j.Name(), ev.Reason)
			}
		}
	}
	res, err := backfill.Run(c.Context, conn, j, opt)
	if bar != nil {
		bar.clear()
	}
	return res, err
}

// parseUntil reads --until: RFC 3339 with its offset (a space may stand
// for the T); "" is the zero time (the default cutoff).
func parseUntil(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, strings.Replace(s, " ", "T", 1))
	if err != nil {
		return time.Time{}, usageError("--until %q: want an RFC 3339 time with its offset, e.g. 2025-06-01T12:00:00Z", s)
	}
	return t, nil
}

// backfillError adds what to do to the package's typed errors.
func backfillError(err error) error {
	var se *backfill.SchemaError
	var pe *backfill.PrivilegeError
	var ce *backfill.CutoffError
	switch {
	case errors.As(err, &ce):
		return withCode(ExitUsage, fmt.Errorf("%v: pass --until TIMESTAMP, the time the broker began writing notifications "+
			"(RFC 3339, e.g. 2025-06-01T12:00:00Z), or --tracking-table if the migrations are tracked elsewhere", err))
	case errors.As(err, &se):
		return withCode(ExitUsage, fmt.Errorf("%v (run meshctl migrate up first)", err))
	case errors.As(err, &pe):
		return err
	}
	return err
}
