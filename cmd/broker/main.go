// Command broker runs the reference claudemesh broker (package broker),
// configured by environment variables; see docs/broker.md.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/claudemesh/meshctl/broker"
)

// Set with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program; it returns the exit code: 0 after a clean
// shutdown, 1 when the broker fails (a startup migration included), 2 for
// bad configuration or arguments.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "-version" || args[0] == "--version") {
		fmt.Fprintf(stdout, "broker %s (%s)\n", version, commit)
		return 0
	}
	if len(args) > 0 {
		fmt.Fprintln(stderr, "broker: takes no arguments (configure it with environment variables; see docs/broker.md)")
		return 2
	}
	cfg, err := broker.ConfigFromEnv(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "broker:", err)
		return 2
	}
	cfg.Version, cfg.Commit = version, commit
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	if err := broker.Run(ctx, cfg, log); err != nil {
		log.Error("broker stopped", "err", err.Error())
		return 1
	}
	return 0
}
