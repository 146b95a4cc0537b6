package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"
)

// Server is a PostgreSQL server of one test's own, started with the
// settings the test asks for (e.g. fsync=on, wal_writer_delay=10000ms), on
// a real file system (not tmpfs), and kept running by a supervisor loop in
// its container: when the server's processes are killed, the server is
// started again on the same data directory, so the test sees crash
// recovery as an operator would. It is removed when the test ends.
type Server struct {
	URL string // superuser DSN of the maintenance database "postgres"
	res *dockertest.Resource
	seq int
}

// StartServer starts a Server with the given settings, each "name=value",
// passed to postgres as -c name=value.
func StartServer(t testing.TB, settings ...string) *Server {
	t.Helper()
	if os.Getenv("MESHCTL_TEST_DATABASE_URL") != "" {
		unavailable(t, fmt.Errorf("a server of the test's own needs Docker; MESHCTL_TEST_DATABASE_URL points at a shared server"))
	}
	ServerURL(t) // starts Docker's pool (and fails or skips without it)
	p := srv.dpool
	image := os.Getenv("MESHCTL_TEST_POSTGRES_IMAGE")
	if image == "" {
		image = DefaultImage
	}
	repo, tag := splitImage(image)
	args := []string{}
	for _, s := range settings {
		args = append(args, "-c", s)
	}
	// PID 1 is this shell: it restarts the server after a crash (after the
	// old backends are gone; the new postmaster refuses to start before).
	loop := `while :; do /usr/local/bin/docker-entrypoint.sh postgres "$@"; sleep 0.2; done`
	res, err := p.RunWithOptions(&dockertest.RunOptions{
		Repository: repo, Tag: tag,
		Env:        []string{"POSTGRES_PASSWORD=" + password, "POSTGRES_USER=postgres", "POSTGRES_DB=postgres"},
		Entrypoint: append([]string{"/bin/sh", "-c", loop, "sh"}, args...),
		Labels:     map[string]string{pidLabel: strconv.Itoa(os.Getpid())},
	}, func(hc *docker.HostConfig) {
		hc.AutoRemove = true
		hc.RestartPolicy = docker.RestartPolicy{Name: "no"}
	})
	if err != nil {
		t.Fatalf("pgtest: start %s: %v", image, err)
	}
	_ = res.Expire(3600)
	t.Cleanup(func() { _ = p.Purge(res) })
	u := url.URL{Scheme: "postgres", User: url.UserPassword("postgres", password),
		Host: "127.0.0.1:" + res.GetPort("5432/tcp"), Path: "/postgres", RawQuery: "sslmode=disable"}
	s := &Server{URL: u.String(), res: res}
	s.WaitReady(t)
	return s
}

// WaitReady waits (up to 2 minutes) until the server accepts connections.
func (s *Server) WaitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		c, err := pgx.Connect(ctx, s.URL)
		if err == nil {
			err = c.Ping(ctx)
			_ = c.Close(ctx)
		}
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgtest: server not ready after 2 minutes: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *Server) exec(t testing.TB, script string) string {
	t.Helper()
	var out bytes.Buffer
	code, err := s.res.Exec([]string{"/bin/sh", "-c", script}, dockertest.ExecOptions{StdOut: &out, StdErr: &out})
	if err != nil || code != 0 {
		t.Fatalf("pgtest: %s: exit %d, %v: %s", script, code, err, out.String())
	}
	return out.String()
}

// KillAll kills every process of the server at once with SIGKILL (as a
// power cut would stop them: shared memory, WAL buffers not yet written,
// are lost). The supervisor starts it again; call WaitReady.
func (s *Server) KillAll(t testing.TB) {
	t.Helper()
	// kill -1: every process but PID 1 (the supervisor) and the caller.
	s.exec(t, "kill -9 -1 || true")
}

// KillPostmaster kills the postmaster alone with SIGKILL; its backends
// notice and exit by themselves, and the supervisor starts a new server
// once they are gone. Call WaitReady.
func (s *Server) KillPostmaster(t testing.TB) {
	t.Helper()
	s.exec(t, `kill -9 "$(head -n 1 "${PGDATA:-/var/lib/postgresql/data}/postmaster.pid")"`)
}

// NewDB creates an empty database on the server and returns its DSN.
func (s *Server) NewDB(t testing.TB) string {
	t.Helper()
	s.seq++
	name := fmt.Sprintf("crash%d", s.seq)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	u, _ := url.Parse(s.URL)
	u.Path = "/" + name
	return u.String()
}

// Setting returns the value of a server setting (SHOW name).
func (s *Server) Setting(t testing.TB, name string) string {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer c.Close(ctx)
	var v string
	if err := c.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return strings.TrimSpace(v)
}

// KillBackend kills one server process (a backend, by pid) with SIGKILL:
// the postmaster then restarts every process and recovers, as after a
// crash. Call WaitReady.
func (s *Server) KillBackend(t testing.TB, pid int) {
	t.Helper()
	s.exec(t, fmt.Sprintf("kill -9 %d", pid))
}
