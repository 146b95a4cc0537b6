// Package pgtest gives integration tests a real PostgreSQL server.
//
// One server per test binary (that is, per Go package) runs in a Docker
// container started by dockertest on first use and purged when the tests
// end, after a failed test too, and on SIGINT/SIGTERM. Every test gets its
// own database: NewDB clones a template that already holds the migrated
// reference schema (CREATE DATABASE ... TEMPLATE, milliseconds), NewEmptyDB
// gives an empty one. Tests never share rows.
//
// When no Docker engine answers, tests skip with the reason, unless CI=true
// or MESHCTL_REQUIRE_DOCKER=1, where they fail: CI must never pass by
// skipping. MESHCTL_TEST_POSTGRES_IMAGE picks the image (default
// postgres:16-alpine; scripts/test-env builds a local drop-in where no
// registry is reachable). MESHCTL_TEST_DATABASE_URL, a superuser DSN, uses
// an existing server instead of a container.
//
// StartServer gives one test a server of its own, started with the
// settings it asks for (fsync=on, wal_writer_delay=10000ms, ...), on a real
// file system, under a supervisor that restarts it after the test kills
// it (KillAll: every server process at once; KillPostmaster; KillBackend):
// crash recovery as an operator sees it.
//
// StartPgBouncer puts a real PgBouncer (session or transaction pooling) in
// front of a test database; it skips, or fails where required, when the
// pgbouncer binary is missing.
package pgtest

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"

	"github.com/claudemesh/meshctl/migrate"
	"github.com/claudemesh/meshctl/migrations"
)

// DefaultImage is used when MESHCTL_TEST_POSTGRES_IMAGE is not set.
const DefaultImage = "postgres:16-alpine"

const (
	templateDB = "meshctl_template"
	password   = "pgtest-secret"
	pidLabel   = "meshctl.pgtest.pid"
)

// DB is one test's own database.
type DB struct {
	Name string
	URL  string        // superuser DSN for this database
	Pool *pgxpool.Pool // superuser pool, closed when the test ends
}

// server is the one PostgreSQL this test binary uses.
type server struct {
	once     sync.Once
	err      error
	baseURL  *url.URL // superuser, maintenance database "postgres"
	dpool    *dockertest.Pool
	resource *dockertest.Resource
	mu       sync.Mutex // serialises template creation
	tmplOK   bool
	seq      atomic.Int64
}

var srv server

// Main runs the package's tests and then removes the container. Call it
// from TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		srv.purge()
		os.Exit(130)
	}()
	code := m.Run()
	srv.purge()
	os.Exit(code)
}

// Required reports whether tests must fail, not skip, when Docker or
// PostgreSQL is unavailable (CI=true or MESHCTL_REQUIRE_DOCKER=1).
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("MESHCTL_REQUIRE_DOCKER") == "1"
}

// unavailable skips the test, or fails it where Docker is required.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if Required() {
		t.Fatalf("pgtest: PostgreSQL is required here (CI=true or MESHCTL_REQUIRE_DOCKER=1) but unavailable: %v", err)
	}
	t.Skipf("pgtest: skipping integration test, no PostgreSQL: %v (run `eval \"$(scripts/test-env)\"` first; CI=true makes this fail)", err)
}

func (s *server) start() error {
	if dsn := os.Getenv("MESHCTL_TEST_DATABASE_URL"); dsn != "" {
		u, err := url.Parse(dsn)
		if err != nil {
			return fmt.Errorf("MESHCTL_TEST_DATABASE_URL is not a URL")
		}
		s.baseURL = u
		return nil
	}
	p, err := dockertest.NewPool("")
	if err != nil {
		return fmt.Errorf("no Docker engine: %w", err)
	}
	if err := p.Client.Ping(); err != nil {
		return fmt.Errorf("no Docker engine reachable: %w", err)
	}
	s.dpool = p
	reapOrphans(p)

	image := os.Getenv("MESHCTL_TEST_POSTGRES_IMAGE")
	if image == "" {
		image = DefaultImage
	}
	repo, tag := splitImage(image)
	res, err := p.RunWithOptions(&dockertest.RunOptions{
		Repository: repo,
		Tag:        tag,
		Env:        []string{"POSTGRES_PASSWORD=" + password, "POSTGRES_USER=postgres", "POSTGRES_DB=postgres"},
		// Durability is pointless for throwaway databases; speed is not.
		Cmd: []string{"postgres", "-c", "fsync=off", "-c", "synchronous_commit=off",
			"-c", "full_page_writes=off", "-c", "max_connections=400"},
		Labels: map[string]string{pidLabel: strconv.Itoa(os.Getpid())},
	}, func(hc *docker.HostConfig) {
		hc.AutoRemove = true
		hc.RestartPolicy = docker.RestartPolicy{Name: "no"}
		hc.Tmpfs = map[string]string{"/var/lib/postgresql/data": "rw"}
		// Docker's 64 MB /dev/shm is too small for parallel maintenance
		// on the million-row benchmark tables.
		hc.ShmSize = 512 << 20
	})
	if err != nil {
		return fmt.Errorf("start %s: %w", image, err)
	}
	s.resource = res
	// A safety net if this process dies without running Main's cleanup
	// (e.g. go test's -timeout panic): the engine kills it after 2 hours.
	_ = res.Expire(7200)

	s.baseURL = &url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword("postgres", password),
		Host:     "127.0.0.1:" + res.GetPort("5432/tcp"),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
	p.MaxWait = 90 * time.Second
	return p.Retry(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, s.baseURL.String())
		if err != nil {
			return err
		}
		return c.Close(ctx)
	})
}

func (s *server) purge() {
	if s.dpool != nil && s.resource != nil {
		_ = s.dpool.Purge(s.resource)
		s.resource = nil
	}
}

// reapOrphans removes containers left by test binaries that no longer run.
func reapOrphans(p *dockertest.Pool) {
	cs, err := p.Client.ListContainers(docker.ListContainersOptions{
		All:     true,
		Filters: map[string][]string{"label": {pidLabel}},
	})
	if err != nil {
		return
	}
	for _, c := range cs {
		pid, err := strconv.Atoi(c.Labels[pidLabel])
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		_ = p.Client.RemoveContainer(docker.RemoveContainerOptions{ID: c.ID, Force: true, RemoveVolumes: true})
	}
}

func splitImage(image string) (repo, tag string) {
	slash := strings.LastIndex(image, "/")
	if i := strings.LastIndex(image, ":"); i > slash {
		return image[:i], image[i+1:]
	}
	return image, "latest"
}

// ServerURL returns a superuser DSN for the server's maintenance database,
// starting the server if needed.
func ServerURL(t testing.TB) string {
	t.Helper()
	srv.once.Do(func() { srv.err = srv.start() })
	if srv.err != nil {
		unavailable(t, srv.err)
	}
	return srv.baseURL.String()
}

// URLFor returns the superuser DSN of database name on the test server.
func URLFor(t testing.TB, name string) string {
	t.Helper()
	base := ServerURL(t)
	u, _ := url.Parse(base)
	u.Path = "/" + name
	return u.String()
}

// NewDB returns a fresh database holding the migrated reference schema.
func NewDB(t testing.TB) *DB {
	t.Helper()
	ServerURL(t)
	if err := srv.ensureTemplate(); err != nil {
		t.Fatalf("pgtest: build template database: %v", err)
	}
	return newDB(t, templateDB)
}

// NewEmptyDB returns a fresh database with nothing in it.
func NewEmptyDB(t testing.TB) *DB {
	t.Helper()
	ServerURL(t)
	return newDB(t, "template0")
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

func newDB(t testing.TB, template string) *DB {
	t.Helper()
	name := fmt.Sprintf("t%d_%s", srv.seq.Add(1), unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "_"))
	if len(name) > 63 {
		name = name[:63]
	}
	ctx := context.Background()
	if err := adminExec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", pgx.Identifier{name}.Sanitize(), template)); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	db := &DB{Name: name, URL: URLFor(t, name)}
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	cfg.MaxConns = 16
	db.Pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("pgtest: connect %s: %v", name, err)
	}
	t.Cleanup(func() {
		db.Pool.Close()
		_ = adminExec(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{name}.Sanitize()))
	})
	return db
}

func adminExec(ctx context.Context, sql string) error {
	c, err := pgx.Connect(ctx, srv.baseURL.String())
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql)
	return err
}

// ensureTemplate builds the migrated template database once per server.
func (s *server) ensureTemplate() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tmplOK {
		return nil
	}
	ctx := context.Background()
	_ = adminExec(ctx, "DROP DATABASE IF EXISTS "+templateDB+" WITH (FORCE)")
	if err := adminExec(ctx, "CREATE DATABASE "+templateDB+" TEMPLATE template0"); err != nil {
		return err
	}
	u := *s.baseURL
	u.Path = "/" + templateDB
	c, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return err
	}
	err = applyMigrations(ctx, c, migrations.FS)
	if cerr := c.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	s.tmplOK = true
	return nil
}

// applyMigrations applies the reference schema with meshctl's own runner,
// so template databases are exactly what `meshctl migrate up` makes.
func applyMigrations(ctx context.Context, c *pgx.Conn, fsys fs.FS) error {
	r, err := migrate.NewWithConn(c, fsys)
	if err != nil {
		return err
	}
	_, err = r.Up(ctx)
	return err
}

// RelExists reports whether the relation rel (schema-qualified) exists in
// the database behind pool.
func RelExists(t testing.TB, pool *pgxpool.Pool, rel string) bool {
	t.Helper()
	var ok bool
	if err := pool.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", rel).Scan(&ok); err != nil {
		t.Fatalf("pgtest: look up %s: %v", rel, err)
	}
	return ok
}
