package main

import (
	"fmt"
	"os"
	"os/user"

	"github.com/urfave/cli/v2"

	"github.com/claudemesh/meshctl/migrate"
)

// repairCommand: meshctl migrate repair accept|forget|resolve|rename.
func repairCommand(source []cli.Flag, lockWait cli.Flag) *cli.Command {
	flags := func(extra ...cli.Flag) []cli.Flag {
		out := append([]cli.Flag{}, source...)
		out = append(out, lockWait,
			&cli.BoolFlag{Name: "dry-run", Usage: "show what would change; write nothing"},
			&cli.BoolFlag{Name: "yes", Usage: "do not ask for confirmation (required when stdin is not a terminal)"},
			&cli.StringFlag{Name: "reason", Usage: "why, as `TEXT`, recorded in the history table with who and when"})
		return append(out, extra...)
	}
	return &cli.Command{
		Name:  "repair",
		Usage: "change the tracking table by hand, for states up will not resolve (recorded in <table>_history)",
		Description: `Each repair runs under the migration lock, writes one durable transaction, records what it
changed, who, when and why in <table>_history, and runs no migration SQL. It shows the change and
asks for confirmation on a terminal; elsewhere pass --yes. --dry-run writes nothing.`,
		Subcommands: []*cli.Command{
			{
				Name: "accept", Usage: "record the current sha256 of a changed applied file (the old one kept in the history)",
				ArgsUsage: "FILE", UsageText: "meshctl migrate repair accept --reason 'reformatted only' 0002_topics.sql",
				Flags: flags(), Action: repairAction(migrate.RepairAccept, 1),
			},
			{
				Name: "forget", Usage: "delete the tracking row of a file that is no longer in the folder",
				ArgsUsage: "FILE", UsageText: "meshctl migrate repair forget --dry-run 0007_old.sql\nmeshctl migrate repair forget --yes 0007_old.sql",
				Flags: flags(), Action: repairAction(migrate.RepairForget, 1),
			},
			{
				Name: "resolve", Usage: "settle a failed no-transaction file after checking the database: --applied or --not-applied",
				ArgsUsage: "FILE", UsageText: "meshctl migrate repair resolve --applied 0009_index.sql",
				Flags: flags(&cli.BoolFlag{Name: "applied", Usage: "its effect is complete: record it as applied"},
					&cli.BoolFlag{Name: "not-applied", Usage: "clear the failure: the next up runs it from its first statement"}),
				Action: repairAction(migrate.RepairResolve, 1),
			},
			{
				Name: "rename", Usage: "move the tracking row of a renamed file to its new name (same sha256)",
				ArgsUsage: "OLD NEW", UsageText: "meshctl migrate repair rename 0004_tpoics.sql 0004_topics.sql",
				Flags: flags(), Action: repairAction(migrate.RepairRename, 2),
			},
		},
	}
}

func repairAction(action string, nargs int) cli.ActionFunc {
	return func(c *cli.Context) error {
		e := envFrom(c)
		args := c.Args().Slice()
		if len(args) != nargs {
			want := "FILE"
			if nargs == 2 {
				want = "OLD NEW"
			}
			return jsonError(e, usageError("meshctl migrate repair %s needs %s, after the flags (see meshctl migrate repair %s --help)", action, want, action))
		}
		applied := c.Bool("applied")
		if action == migrate.RepairResolve && applied == c.Bool("not-applied") {
			return jsonError(e, usageError("meshctl migrate repair resolve needs exactly one of --applied and --not-applied"))
		}
		r, err := newRunner(c, e, migrate.WithLockWait(c.Duration("lock-wait")), progress(e))
		if err != nil {
			return jsonError(e, err)
		}
		do := func(dry bool) (*migrate.RepairResult, error) {
			o := migrate.RepairOptions{DryRun: dry, Reason: c.String("reason"), Actor: actor()}
			switch action {
			case migrate.RepairAccept:
				return r.RepairAccept(c.Context, args[0], o)
			case migrate.RepairForget:
				return r.RepairForget(c.Context, args[0], o)
			case migrate.RepairResolve:
				return r.RepairResolve(c.Context, args[0], applied, o)
			}
			return r.RepairRename(c.Context, args[0], args[1], o)
		}
		// Always look first: the preview is what is confirmed.
		res, err := do(true)
		if err != nil {
			return jsonError(e, migrateError(err))
		}
		if !c.Bool("dry-run") {
			if err := askFirst(c, e, res.Change); err != nil {
				return err
			}
			if res, err = do(false); err != nil {
				return jsonError(e, migrateError(err))
			}
		}
		if e.json {
			return e.printJSON(res)
		}
		if res.DryRun {
			fmt.Fprintf(e.stdout, "would %s (dry run: nothing written)\n", res.Change)
		} else {
			fmt.Fprintf(e.stdout, "done: %s\n", res.Change)
		}
		return nil
	}
}

// actor names who ran the repair, for the history table.
func actor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}
