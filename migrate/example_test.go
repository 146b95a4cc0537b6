package migrate_test

import (
	"context"
	"fmt"
	"log"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/migrate"
	"github.com/claudemesh/meshctl/migrations"
)

// Lint reads a folder without a database and reports what would hurt in
// production: here, an index built under a write lock on a table the file
// did not create.
func ExampleLint() {
	src, err := migrate.LoadSource(fstest.MapFS{
		"0001_users.sql": {Data: []byte("CREATE TABLE users (id int, email text);")},
		"0002_email.sql": {Data: []byte("CREATE INDEX users_email ON users (email);")},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range migrate.Lint(src) {
		fmt.Printf("%s:%d:%d %s %s\n", f.File, f.Line, f.Col, f.Severity, f.Rule)
	}
	// Output: 0002_email.sql:1:1 warning index-without-concurrently
}

// New takes how to connect, not a DSN: the caller picks the driver
// settings and application_name. Per-call choices are arguments of Up.
func ExampleNew() {
	ctx := context.Background()
	connect := func(ctx context.Context) (*pgx.Conn, error) {
		return pgx.Connect(ctx, "postgres://ops@db.internal/claudemesh?application_name=deployer")
	}
	r, err := migrate.New(connect, migrations.FS,
		migrate.WithLockWait(2*time.Minute),
		migrate.WithProgress(func(e migrate.Event) { log.Println(e.Kind, e.File) }))
	if err != nil {
		log.Fatal(err) // a *migrate.SourceError: the folder or a file is unusable
	}
	res, err := r.Up(ctx, migrate.To("0002_topics.sql"), migrate.Strict())
	for _, a := range res.Applied {
		fmt.Println("applied", a.Filename, a.Duration)
	}
	if err != nil {
		log.Fatal(err) // *migrate.FileError, *LockError, *DriftError, ...
	}
}
