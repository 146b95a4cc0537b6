// Command migratebench compares meshctl's migration runner with
// pressly/goose v3 (its Provider with its Postgres session locker) on the
// same PostgreSQL server: the same 200 no-op files and the same 200 small
// DDL files, interleaved A B A B, a fresh database for every run; each run
// also applies one file alone, to separate the fixed cost (connect, lock,
// tracking table) from the cost per file. It also
// times a warm run (nothing pending) against 10,000 tracked rows.
//
//	go run ./bench/migratebench --database-url postgres://postgres:pw@127.0.0.1:5432/postgres
//
// The DSN must be a role that may CREATE DATABASE; the program creates and
// drops databases named migratebench_*. Times include opening the
// connection, since both tools must do that, and exclude process start.
package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/claudemesh/meshctl/migrate"
)

func main() {
	dsn := flag.String("database-url", os.Getenv("DATABASE_URL"), "superuser DSN of a maintenance database")
	runs := flag.Int("runs", 7, "runs per tool and file kind (>= 5)")
	files := flag.Int("files", 200, "files per run")
	warm := flag.Int("warm-rows", 10000, "tracked rows for the warm run")
	only := flag.String("kinds", "noop,ddl", "file kinds to run, comma-separated")
	flag.Parse()
	kinds = strings.Split(*only, ",")
	if err := run(context.Background(), os.Stdout, *dsn, *runs, *files, *warm); err != nil {
		fmt.Fprintln(os.Stderr, "migratebench:", err)
		os.Exit(1)
	}
}

var kinds = []string{"noop", "ddl"}

// noop and ddl files carry goose's annotation, a plain comment to meshctl,
// so both tools read the very same bytes.
func folder(kind string, n int) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i := 1; i <= n; i++ {
		var body string
		switch kind {
		case "noop":
			body = "-- +goose Up\nSELECT 1;\n"
		case "ddl":
			body = fmt.Sprintf("-- +goose Up\nCREATE TABLE t%d (id bigint PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());\n"+
				"CREATE INDEX t%d_name ON t%d (name);\n", i, i, i)
		}
		fsys[fmt.Sprintf("%05d_%s.sql", i, kind)] = &fstest.MapFile{Data: []byte(body)}
	}
	return fsys
}

type tool struct {
	name  string
	apply func(ctx context.Context, dsn string, fsys fstest.MapFS) (int, error)
}

var tools = []tool{
	{"meshctl", func(ctx context.Context, dsn string, fsys fstest.MapFS) (int, error) {
		r, err := migrate.New(connector(dsn), fsys)
		if err != nil {
			return 0, err
		}
		res, err := r.Up(ctx)
		return len(res.Applied), err
	}},
	// The same runner with --batch 1: every file its own round trip and its own durable commit.
	{"batch_1", func(ctx context.Context, dsn string, fsys fstest.MapFS) (int, error) {
		r, err := migrate.New(connector(dsn), fsys, migrate.WithBatch(1, 1<<20))
		if err != nil {
			return 0, err
		}
		res, err := r.Up(ctx)
		return len(res.Applied), err
	}},
	{"goose", func(ctx context.Context, dsn string, fsys fstest.MapFS) (int, error) {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return 0, err
		}
		defer db.Close()
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return 0, err
		}
		p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithSessionLocker(locker))
		if err != nil {
			return 0, err
		}
		res, err := p.Up(ctx)
		return len(res), err
	}},
}

func run(ctx context.Context, w io.Writer, dsn string, runs, n, warmRows int) error {
	if dsn == "" {
		return fmt.Errorf("no server: pass --database-url or set DATABASE_URL")
	}
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(ctx)
	var version string
	_ = admin.QueryRow(ctx, "SELECT current_setting('server_version') || ', fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit')").Scan(&version)
	fmt.Fprintf(w, "PostgreSQL %s; %d runs x %d files per tool and kind, interleaved, fresh database each run\n\n", version, runs, n)

	fresh := func(name string) (string, func(), error) {
		_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0"); err != nil {
			return "", nil, err
		}
		u, err := url.Parse(dsn)
		if err != nil {
			return "", nil, err
		}
		u.Path = "/" + name
		return u.String(), func() { _, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") }, nil
	}

	// Each run applies n files and, for the fixed cost (connect, lock,
	// tracking table), 1 file; marginal = (T(n) - T(1)) / (n - 1).
	perFile := map[string][]float64{}  // kind/tool -> total ms / n
	marginal := map[string][]float64{} // kind/tool -> marginal ms per file
	fixed := map[string][]float64{}    // kind/tool -> T(1) ms
	one := func(t tool, kind string, fsys fstest.MapFS, want int) (float64, error) {
		db, drop, err := fresh("migratebench_" + t.name)
		if err != nil {
			return 0, err
		}
		defer drop()
		start := time.Now()
		applied, err := t.apply(ctx, db, fsys)
		d := time.Since(start)
		if err != nil {
			return 0, fmt.Errorf("%s %s: %w", t.name, kind, err)
		}
		if applied != want {
			return 0, fmt.Errorf("%s %s applied %d files, want %d", t.name, kind, applied, want)
		}
		return float64(d.Microseconds()) / 1000, nil
	}
	for _, kind := range kinds {
		fsys, single := folder(kind, n), folder(kind, 1)
		for r := 0; r < runs; r++ {
			for _, t := range tools { // A B A B ...
				tn, err := one(t, kind, fsys, n)
				if err != nil {
					return err
				}
				t1, err := one(t, kind, single, 1)
				if err != nil {
					return err
				}
				key := kind + "/" + t.name
				perFile[key] = append(perFile[key], tn/float64(n))
				marginal[key] = append(marginal[key], (tn-t1)/float64(n-1))
				fixed[key] = append(fixed[key], t1)
			}
		}
	}
	fmt.Fprintf(w, "%-5s %-8s | %-29s | %-29s | %s\n", "", "", "total/files ms (median min-max)", "marginal ms/file (med min-max)", "1-file run ms (median)")
	for _, kind := range kinds {
		for _, t := range tools {
			key := kind + "/" + t.name
			a, m, f := stats(perFile[key]), stats(marginal[key]), stats(fixed[key])
			fmt.Fprintf(w, "%-5s %-8s | %7.3f  %7.3f-%-7.3f      | %7.3f  %7.3f-%-7.3f      | %6.1f\n", kind, t.name,
				a.median, a.min, a.max, m.median, m.min, m.max, f.median)
		}
		for _, m := range []string{"meshctl", "batch_1"} {
			fmt.Fprintf(w, "%-5s %s/goose: total/files %.2fx, marginal per file %.2fx\n", kind, m,
				stats(perFile[kind+"/"+m]).median/stats(perFile[kind+"/goose"]).median,
				stats(marginal[kind+"/"+m]).median/stats(marginal[kind+"/goose"]).median)
		}
		fmt.Fprintln(w)
	}
	return warmRun(ctx, w, fresh, runs, warmRows)
}

// warmRun times Up with nothing pending against warmRows tracked rows.
func warmRun(ctx context.Context, w io.Writer, fresh func(string) (string, func(), error), runs, rows int) error {
	db, drop, err := fresh("migratebench_warm")
	if err != nil {
		return err
	}
	defer drop()
	fsys := folder("noop", rows)
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	// Rows as upstream writes them; the runner only reads here.
	if _, err := conn.Exec(ctx, `CREATE SCHEMA mesh; CREATE TABLE mesh.__cmh_migrations (filename text PRIMARY KEY, sha256 text NOT NULL, applied_at timestamp NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	var data [][]any
	for name, f := range fsys {
		sum := sha256.Sum256(f.Data)
		data = append(data, []any{name, hex.EncodeToString(sum[:])})
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"mesh", "__cmh_migrations"}, []string{"filename", "sha256"}, pgx.CopyFromRows(data)); err != nil {
		return err
	}
	var withNew, upOnly, status []float64
	for i := 0; i < runs; i++ {
		start := time.Now()
		r, err := migrate.New(connector(db), fsys)
		if err != nil {
			return err
		}
		mid := time.Now()
		res, err := r.Up(ctx)
		end := time.Now()
		if err != nil {
			return err
		}
		if !res.UpToDate {
			return fmt.Errorf("warm run applied %d files", len(res.Applied))
		}
		withNew = append(withNew, float64(end.Sub(start).Microseconds())/1000)
		upOnly = append(upOnly, float64(end.Sub(mid).Microseconds())/1000)
		start = time.Now()
		st, err := r.Status(ctx)
		if err != nil {
			return err
		}
		if st.Counts[migrate.StateApplied] != rows {
			return fmt.Errorf("warm status: %d applied, want %d", st.Counts[migrate.StateApplied], rows)
		}
		status = append(status, float64(time.Since(start).Microseconds())/1000)
	}
	a, b, c := stats(withNew), stats(upOnly), stats(status)
	fmt.Fprintf(w, "warm run, %d tracked rows, nothing pending (%d runs):\n", rows, runs)
	fmt.Fprintf(w, "  New (read + hash %d files) + Up: median %.1f ms, min %.1f, max %.1f\n", rows, a.median, a.min, a.max)
	fmt.Fprintf(w, "  Up alone (connect, read table, compare): median %.1f ms, min %.1f, max %.1f\n", b.median, b.min, b.max)
	fmt.Fprintf(w, "  Status (connect, read every row with times and extras, classify): median %.1f ms, min %.1f, max %.1f\n", c.median, c.min, c.max)
	return nil
}

type summary struct{ median, min, max, iqr float64 }

func stats(xs []float64) summary {
	s := slices.Clone(xs)
	slices.Sort(s)
	q := func(p float64) float64 {
		i := p * float64(len(s)-1)
		lo := int(i)
		if lo+1 >= len(s) {
			return s[lo]
		}
		return s[lo] + (i-float64(lo))*(s[lo+1]-s[lo])
	}
	return summary{median: q(0.5), min: s[0], max: s[len(s)-1], iqr: q(0.75) - q(0.25)}
}

// connector opens each of the runner's connections to dsn.
func connector(dsn string) migrate.Connector {
	return func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, dsn) }
}
