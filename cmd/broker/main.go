// Command broker runs the reference claudemesh broker (package broker),
// configured by environment variables; see docs/broker.md.
package main

import (
	"context"
	"fmt"
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
	if len(os.Args) > 1 && (os.Args[1] == "-version" || os.Args[1] == "--version") {
		fmt.Printf("broker %s (%s)\n", version, commit)
		return
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cfg, err := broker.ConfigFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "broker:", err)
		os.Exit(2)
	}
	cfg.Version, cfg.Commit = version, commit
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := broker.Run(ctx, cfg, log); err != nil {
		log.Error("broker stopped", "err", err.Error())
		os.Exit(1)
	}
}
