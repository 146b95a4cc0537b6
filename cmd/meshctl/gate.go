package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/claudemesh/meshctl/gate"
	"github.com/claudemesh/meshctl/migrate"
)

// gateExit maps a gate class to its exit code (exit.go's table).
var gateExit = map[gate.Class]int{
	gate.ClassRefused:    ExitGateRefused,
	gate.ClassDNS:        ExitGateDNS,
	gate.ClassTLS:        ExitGateTLS,
	gate.ClassTimeout:    ExitGateTimeout,
	gate.ClassHTTP:       ExitGateHTTP,
	gate.ClassDBDown:     ExitGateDBDown,
	gate.ClassMigration:  ExitGateMigration,
	gate.ClassDraining:   ExitGateDraining,
	gate.ClassNotReady:   ExitGateNotReady,
	gate.ClassVersion:    ExitGateVersion,
	gate.ClassDirty:      ExitGateSchemaDirty,
	gate.ClassDrift:      ExitDrift,
	gate.ClassConnection: ExitError,
}

func gateCommand() *cli.Command {
	return &cli.Command{
		Name:  "gate",
		Usage: "decide whether a deployed broker may be promoted (readiness, version, migration)",
		Description: `Exit codes: 0 ready; 21 connection refused; 22 DNS; 23 TLS; 24 attempt timeout; 25 HTTP 5xx or
another non-200; 26 not_ready: database down; 27 expected migration not applied; 28 draining;
29 not_ready for another reason; 30 version mismatch; 31 dirty schema; 4 drift (gate migrations);
1 other errors; 2 bad flags. A failed gate exits with the class of its last failed attempt.`,
		Subcommands: []*cli.Command{
			{
				Name:  "ready",
				Usage: "poll /health/ready until it answers ready --successes times in a row, or --timeout passes",
				UsageText: `meshctl gate ready --url https://broker.internal:8080
meshctl gate ready --url http://127.0.0.1:8080 --expect-version "$GIT_SHA" --expect-migration migrations/0004_notifications.sql --expect-schema-clean
meshctl --json gate ready --url http://127.0.0.1:8080 --timeout 2m --interval 1s --successes 5`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "url", Usage: "the broker's base `URL` (or its /health/ready URL)"},
					&cli.StringFlag{Name: "expect-migration", Usage: "migration `FILE` (path or name) that must be applied"},
					&cli.StringFlag{Name: "expect-version", Usage: "commit `SHA` (7 or more hex digits, or the full SHA) or version string the broker must report"},
					&cli.BoolFlag{Name: "expect-schema-clean", Usage: "fail while the broker reports a dirty schema"},
					&cli.DurationFlag{Name: "timeout", Value: 5 * time.Minute, Usage: "give up after `DUR`"},
					&cli.DurationFlag{Name: "interval", Value: 2 * time.Second, Usage: "first backoff step and the pause between successes, as `DUR`"},
					&cli.DurationFlag{Name: "max-interval", Usage: "backoff cap `DUR`", DefaultText: "16 × --interval"},
					&cli.DurationFlag{Name: "attempt-timeout", Value: 10 * time.Second, Usage: "time `DUR` allowed for one attempt"},
					&cli.IntFlag{Name: "successes", Value: 3, Usage: "`N` consecutive ready answers needed"},
				},
				Action: gateReady,
			},
			{
				Name:  "migrations",
				Usage: "the same verdict from the database's tracking table: the expected file applied, no drift",
				UsageText: `meshctl gate migrations --expect migrations/0004_notifications.sql
meshctl --json gate migrations --expect 0004_notifications.sql --dir ./migrations`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "expect", Usage: "migration `FILE` (path or name) that must be applied"},
					&cli.StringFlag{Name: "dir", Usage: "read migrations from `DIR` instead of the embedded reference schema"},
					&cli.StringFlag{Name: "table", Value: migrate.DefaultTable, Usage: "tracking table as `schema.name`"},
				},
				Action: gateMigrations,
			},
		},
	}
}

// gateSummary is gate ready's --json output.
type gateSummary struct {
	*gate.Result
	Exit int `json:"exit"`
}

func gateReady(c *cli.Context) error {
	e := envFrom(c)
	if !c.IsSet("url") {
		return usageError("gate ready needs --url (see meshctl gate ready --help)")
	}
	cfg := gate.Config{
		URL:               c.String("url"),
		Timeout:           c.Duration("timeout"),
		Interval:          c.Duration("interval"),
		MaxInterval:       c.Duration("max-interval"),
		AttemptTimeout:    c.Duration("attempt-timeout"),
		Successes:         c.Int("successes"),
		ExpectVersion:     c.String("expect-version"),
		ExpectMigration:   c.String("expect-migration"),
		ExpectSchemaClean: c.Bool("expect-schema-clean"),
		OnAttempt: func(a gate.Attempt) {
			line := fmt.Sprintf("attempt %d: %s (%s) in %s", a.N, a.Class, a.Detail, a.Elapsed.Round(time.Millisecond))
			if a.Class == gate.ClassReady {
				line += fmt.Sprintf(", %d in a row", a.Consecutive)
			}
			if a.Next > 0 {
				line += fmt.Sprintf("; next in %s", a.Next.Round(10*time.Millisecond))
				if a.RetryAfter {
					line += " (Retry-After)"
				}
			}
			fmt.Fprintln(e.stderr, line)
		},
	}
	res, err := gate.Ready(c.Context, cfg)
	var ce *gate.ConfigError
	if errors.As(err, &ce) {
		return usageError("%v (see meshctl gate ready --help)", ce)
	}
	code := ExitOK
	var ge *gate.Error
	if errors.As(err, &ge) {
		code = gateCode(ge.Class)
		err = withCode(code, fmt.Errorf("gate %s: %w", res.URL, err))
	} else if err != nil {
		code = exitCode(err)
	}
	if e.json && res != nil {
		if perr := e.printJSON(gateSummary{res, code}); perr != nil && err == nil {
			return perr
		}
	} else if err == nil {
		fmt.Fprintf(e.stdout, "ready: %s after %s, %s (version %s, commit %s, migration %s)\n", res.URL,
			count(res.Attempts, "attempt", "attempts"), res.Elapsed.Round(time.Millisecond), res.Version, res.Commit, res.Migration)
	}
	return err
}

func gateCode(c gate.Class) int {
	if code, ok := gateExit[c]; ok {
		return code
	}
	return ExitError
}

func gateMigrations(c *cli.Context) error {
	e := envFrom(c)
	if !c.IsSet("expect") {
		return usageError("gate migrations needs --expect FILE (see meshctl gate migrations --help)")
	}
	r, err := newRunner(c, e)
	if err != nil {
		return err
	}
	st, err := r.Status(c.Context)
	if err != nil {
		return migrateError(err)
	}
	res, verr := gate.Migrations(st, c.String("expect"))
	var ge *gate.Error
	if errors.As(verr, &ge) {
		verr = withCode(gateCode(ge.Class), verr)
	}
	if e.json {
		if err := e.printJSON(res); err != nil {
			return err
		}
	} else if verr == nil {
		fmt.Fprintf(e.stdout, "ready: %s is applied in %s (%d applied, %d pending, no drift)\n", res.Expect, st.Table, res.Applied, res.Pending)
	}
	return verr
}
