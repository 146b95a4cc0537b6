package broker

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRunFailsClosed: a startup migration that fails stops the broker
// with an error (the process exits non-zero).
func TestRunFailsClosed(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	// The first migration creates schema mesh: make it fail.
	if _, err := db.Pool.Exec(context.Background(), `CREATE SCHEMA mesh`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := Run(ctx, Config{DatabaseURL: db.URL, Port: freePort(t), StartupTimeout: 10 * time.Second}, nil)
	var fe *migrate.FileError
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Run: %v, want a migration failure", err)
	}
	if !errorsAs(err, &fe) || fe.File != "0000_mesh_core.sql" {
		t.Fatalf("want the first file's failure, got %v", err)
	}
}

// TestRunSkipMigrate: BROKER_SKIP_MIGRATE=1 runs no SQL from the
// migrations; a later SIGTERM (context cancel) returns nil.
func TestRunSkipMigrate(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{DatabaseURL: db.URL, Port: port, SkipMigrate: true, DrainDelay: 0}, nil)
	}()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	for i := 0; ; i++ {
		resp, err := http.Get(base + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if i > 100 {
			t.Fatal("never ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if pgtest.RelExists(t, db.Pool, "mesh.__cmh_migrations") || pgtest.RelExists(t, db.Pool, "mesh.mesh") {
		t.Fatal("skipped migration wrote the schema")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
