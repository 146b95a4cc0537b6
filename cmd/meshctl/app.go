package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"
)

// newApp builds the command tree. Each verb's command is defined in its own
// file; this is the only place they are listed.
func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "meshctl",
		Usage: "ops and admin toolkit for a claudemesh broker's PostgreSQL database",
		UsageText: `meshctl [global options] command [command options]

Examples:
   meshctl --database-url postgres://ops@db:5432/claudemesh migrate status
   DATABASE_URL=postgres://ops@db/claudemesh meshctl --json migrate status`,
		Description: "Exit codes: 0 ok, 1 operational error, 2 usage error; see the README for the codes each check adds.",
		Writer:      stdout,
		ErrWriter:   stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{
				Name:    "database-url",
				Usage:   "PostgreSQL `URL` or key=value DSN (the password is never printed)",
				EnvVars: []string{"DATABASE_URL"},
			},
			&cli.BoolFlag{Name: "json", Usage: "machine-readable output on stdout; logs and progress go to stderr"},
			// NO_COLOR is read by envFrom, not as the flag's EnvVars: the
			// convention (no-color.org) is any non-empty value, and urfave/cli
			// would refuse NO_COLOR=yes as "not a bool" and fail every command.
			&cli.BoolFlag{Name: "no-color", Usage: "no colour in human output (also when NO_COLOR is set to any value)"},
			&cli.BoolFlag{Name: "no-progress", Usage: "no progress display on stderr (it is only shown when stderr is a terminal)"},
			&cli.BoolFlag{Name: "verbose", Usage: "more detail on stderr"},
		},
		Commands:             commands(),
		EnableBashCompletion: true,
		HideHelpCommand:      false,
		OnUsageError: func(c *cli.Context, err error, isSub bool) error {
			return usageError("%s (see meshctl --help)", flagErrorText(err))
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run maps errors to codes; never os.Exit inside the library
	}
	return app
}

// commands lists every verb. Add new verbs here.
func commands() []*cli.Command {
	cmds := []*cli.Command{
		// In the order an operator reaches for them: schema and data
		// first, then checks and deploys, the mesh verbs, the rest.
		migrateCommand(),
		backfillCommand(),
		auditCommand(),
		dbCommand(),
		gateCommand(),
		meshCommand(),
		apikeyCommand(),
		memberCommand(),
		sweepCommand(),
		vectorsCommand(),
		dashboardsCommand(),
		versionCommand(),
		completionCommand(),
	}
	for _, c := range cmds {
		setUsageErrors(c, "meshctl")
	}
	return cmds
}

// flagErrorText is a flag-parsing error as an operator reads it: the
// standard flag package names a flag with one dash ("-table") and says
// "flag provided but not defined"; meshctl's flags are written --table.
func flagErrorText(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		name = strings.TrimPrefix(name, "-")
		if name == "database-url" {
			return "--database-url is a global flag: give it before the command (meshctl --database-url URL migrate status)"
		}
		return "unknown flag --" + name
	}
	if rest, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return "flag --" + strings.TrimPrefix(rest, "-") + " needs a value"
	}
	if m := badFlagValue.FindStringSubmatch(msg); m != nil {
		return "invalid value " + m[1] + " for --" + m[2]
	}
	return msg
}

// badFlagValue matches the flag package's `invalid value "x" for flag
// -name: parse error` (the reason says nothing more for numbers and
// durations).
var badFlagValue = regexp.MustCompile(`^invalid value (".*") for flag -([A-Za-z0-9][A-Za-z0-9-]*): `)

// setUsageErrors makes flag-parsing mistakes anywhere in the tree exit 2,
// naming the command whose --help to read, and gives every leaf command
// the same checks of what it was given (checkInput).
func setUsageErrors(c *cli.Command, parent string) {
	path := parent + " " + c.Name
	if c.OnUsageError == nil {
		c.OnUsageError = func(ctx *cli.Context, err error, isSub bool) error {
			return usageError("%s (see %s --help)", flagErrorText(err), path)
		}
	}
	if len(c.Subcommands) == 0 {
		// Required flags are checked by checkInput like every other
		// mistake: urfave/cli would print the whole help on stdout (no
		// JSON under --json) and exit 1.
		var required []string
		for _, f := range c.Flags {
			if sf, ok := f.(*cli.StringFlag); ok && sf.Required {
				sf.Required = false
				required = append(required, sf.Name)
			}
		}
		before := c.Before
		c.Before = func(ctx *cli.Context) error {
			for _, name := range required {
				if !ctx.IsSet(name) {
					return usageError("--%s is required (see %s --help)", name, path)
				}
			}
			if err := checkInput(ctx, path); err != nil {
				return err
			}
			if before != nil {
				return before(ctx)
			}
			return nil
		}
	}
	for _, s := range c.Subcommands {
		setUsageErrors(s, path)
	}
}

// zeroAllowed names the numeric flags for which 0 means something
// (statement-timeout 0: the server's default; lock-retries 0: no retry;
// lock-wait 0: try the lock once).
var zeroAllowed = map[string]bool{"statement-timeout": true, "lock-retries": true, "lock-wait": true}

// checkInput refuses, for every command alike, what a flag parser lets
// through: an empty value (--dir ”), a negative or meaningless zero
// duration or count (--lock-wait -5s), and arguments a command does not
// take (migrate up --dir d 0001_x.sql). Each would otherwise run with a
// default the operator did not choose.
func checkInput(ctx *cli.Context, path string) error {
	for _, f := range ctx.Command.Flags {
		name := f.Names()[0]
		if !ctx.IsSet(name) {
			continue
		}
		switch f.(type) {
		case *cli.StringFlag:
			if strings.TrimSpace(ctx.String(name)) == "" {
				return usageError("--%s needs a value (see %s --help)", name, path)
			}
		case *cli.DurationFlag:
			if d := ctx.Duration(name); d < 0 || d == 0 && !zeroAllowed[name] {
				return usageError("--%s must be a positive duration, got %s (see %s --help)", name, d, path)
			}
		case *cli.Float64Flag:
			if v := ctx.Float64(name); v <= 0 {
				return usageError("--%s must be a positive number, got %v (see %s --help)", name, v, path)
			}
		case *cli.IntFlag:
			if n := ctx.Int(name); n < 0 || n == 0 && !zeroAllowed[name] {
				return usageError("--%s must be a positive number, got %d (see %s --help)", name, n, path)
			}
		}
	}
	if ctx.Command.ArgsUsage == "" && ctx.Args().Present() {
		return usageError("unexpected argument %q: %s takes none (see %s --help)", shownArg(ctx.Args().First()), path, path)
	}
	return nil
}

// run executes meshctl with args and returns the process exit code.
//
// Every failure takes this one path: its line on stderr, its exit code
// (exitCode), and under --json its errorJSON on stdout, unless the verb
// already wrote its result there (a report that carries the error, as
// migrate up's does).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	out := &countingWriter{w: stdout}
	app := newApp(out, stderr)
	args = hoistGlobalSwitches(args)
	err := runApp(ctx, app, args)
	if err != nil {
		reportError(stderr, err)
		if wantsJSON(args) && out.n == 0 {
			if env := envelope(err); env != nil {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				_ = enc.Encode(struct {
					Error *errorJSON `json:"error"`
				}{env})
			}
		}
	}
	return exitCode(err)
}

func runApp(ctx context.Context, app *cli.App, args []string) error {
	if len(args) > 1 {
		if f := unknownGlobalFlag(app, args[1:]); f != "" {
			return usageError("unknown flag %s (see meshctl --help)", f)
		}
		if name, help := unknownCommand(app, args[1:]); name != "" {
			return usageError("unknown command %q (see %s --help)", shownArg(name), help)
		}
	}
	err := app.RunContext(ctx, flagsFirst(app, args))
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		// Interrupted: the verb saw it as the server's cancel (57014) or a
		// failed connect; say what really happened.
		err = ctx.Err()
	}
	return err
}

// countingWriter counts what a verb wrote to stdout.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
