// Command meshctl is the operator's toolkit for a claudemesh broker's
// PostgreSQL database: migrations, backfills, audit-chain verification and
// crypto review vectors.
//
// main only wires: each verb lives in its own file, calls one domain
// package, and formats what it returns. Exit codes come from exit.go.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

// appName is meshctl's application_name on every connection it opens, so
// operators can find it in pg_stat_activity (unless the DSN names another).
const appName = "meshctl"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func init() {
	// urfave/cli must never exit the process itself: run maps every error
	// to a documented exit code.
	cli.OsExiter = func(int) {}
}
