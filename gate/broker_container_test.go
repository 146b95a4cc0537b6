package gate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

// The gate against the reference broker's image (scripts/broker-image)
// and a PostgreSQL container on a Docker network the test creates, as the
// broker's own container tests run them; the test reaches both through
// ports published on 127.0.0.1.

const pgPassword = "gate-secret"

type rig struct {
	t      *testing.T
	pool   *dockertest.Pool
	net    *dockertest.Network
	prefix string
	image  string
	pg     *dockertest.Resource
	all    []*dockertest.Resource
}

func dockerMissing(t *testing.T, err error) {
	t.Helper()
	if pgtest.Required() {
		t.Fatalf("Docker is required here (CI=true) but unavailable: %v", err)
	}
	t.Skipf("no Docker: %v (CI=true makes this fail)", err)
}

func newRig(t *testing.T) *rig {
	t.Helper()
	if os.Getenv("MESHCTL_TEST_POSTGRES_IMAGE") == "" && pgtest.Required() {
		t.Fatal("MESHCTL_TEST_POSTGRES_IMAGE is not set: run eval \"$(scripts/test-env)\"")
	}
	p, err := dockertest.NewPool("")
	if err == nil {
		err = p.Client.Ping()
	}
	if err != nil {
		dockerMissing(t, err)
	}
	_, file, _, _ := runtime.Caller(0)
	var stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(filepath.Dir(file), "..", "scripts", "broker-image", "build"))
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		dockerMissing(t, fmt.Errorf("broker image: %v: %s", err, stderr.String()))
	}
	r := &rig{t: t, pool: p, prefix: fmt.Sprintf("gate%d-%d", os.Getpid(), time.Now().UnixNano()%1e6), image: strings.TrimSpace(string(out))}
	if r.net, err = p.CreateNetwork(r.prefix + "-net"); err != nil {
		t.Fatalf("create network: %v", err)
	}
	t.Cleanup(func() {
		for _, c := range r.all {
			if t.Failed() {
				var buf bytes.Buffer
				_ = p.Client.Logs(docker.LogsOptions{Container: c.Container.ID, OutputStream: &buf, ErrorStream: &buf, Stdout: true, Stderr: true, Tail: "30"})
				t.Logf("logs of %s:\n%s", c.Container.Name, buf.String())
			}
			_ = p.Purge(c)
		}
		_ = r.net.Close()
	})
	return r
}

func (r *rig) run(opts *dockertest.RunOptions) *dockertest.Resource {
	r.t.Helper()
	opts.Networks = []*dockertest.Network{r.net}
	opts.Labels = map[string]string{"meshctl.pgtest.pid": strconv.Itoa(os.Getpid())} // reaped like pgtest's containers
	c, err := r.pool.RunWithOptions(opts, func(hc *docker.HostConfig) { hc.RestartPolicy = docker.RestartPolicy{Name: "no"} })
	if err != nil {
		r.t.Fatalf("start %s: %v", opts.Name, err)
	}
	_ = c.Expire(1800)
	r.all = append(r.all, c)
	return c
}

func splitImage(img string) (string, string) {
	if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
		return img[:i], img[i+1:]
	}
	return img, "latest"
}

func (r *rig) startPG() {
	r.t.Helper()
	img := os.Getenv("MESHCTL_TEST_POSTGRES_IMAGE")
	if img == "" {
		img = pgtest.DefaultImage
	}
	repo, tag := splitImage(img)
	r.pg = r.run(&dockertest.RunOptions{Name: r.prefix + "-pg", Repository: repo, Tag: tag,
		Env: []string{"POSTGRES_PASSWORD=" + pgPassword, "POSTGRES_USER=postgres", "POSTGRES_DB=postgres"},
		Cmd: []string{"postgres", "-c", "fsync=off"}})
	dsn := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%s/postgres?sslmode=disable", pgPassword, r.pg.GetPort("5432/tcp"))
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		conn, err := pgx.Connect(ctx, dsn)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("PostgreSQL never accepted connections: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// stopPG stops PostgreSQL as `docker stop` would (SIGINT, the image's stop
// signal) and waits for it to exit.
func (r *rig) stopPG() {
	r.t.Helper()
	if err := r.pool.Client.KillContainer(docker.KillContainerOptions{ID: r.pg.Container.ID, Signal: docker.SIGINT}); err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := r.pool.Client.WaitContainerWithContext(r.pg.Container.ID, ctx); err != nil {
		r.t.Fatalf("wait for PostgreSQL to stop: %v", err)
	}
}

// startBroker runs a broker replica published on hostPort of 127.0.0.1.
func (r *rig) startBroker(name string, hostPort int, env ...string) {
	r.t.Helper()
	repo, tag := splitImage(r.image)
	e := append([]string{"DATABASE_URL=postgres://postgres:" + pgPassword + "@" + r.prefix + "-pg:5432/postgres?sslmode=disable",
		"BROKER_DRAIN_DELAY=0s"}, env...)
	r.run(&dockertest.RunOptions{Name: r.prefix + "-" + name, Repository: repo, Tag: tag, Env: e,
		ExposedPorts: []string{"7900/tcp"},
		PortBindings: map[docker.Port][]docker.PortBinding{"7900/tcp": {{HostIP: "127.0.0.1", HostPort: strconv.Itoa(hostPort)}}}})
}

func loopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func headCommit(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// One rig, five situations: not yet listening then coming up; ready with
// the expected version and migration; wrong version; expected migration
// missing (the gate's check and the broker's own EXPECTED_MIGRATION); the
// database stopped.
func TestGateAgainstBrokerContainer(t *testing.T) {
	r := newRig(t)
	commit := headCommit(t) // scripts/broker-image/build stamps HEAD's commit
	port := loopbackPort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)

	// Not yet listening: the gate starts before the broker exists.
	type outcome struct {
		res *Result
		err error
	}
	var classes []Class
	done := make(chan outcome, 1)
	go func() {
		res, err := Ready(context.Background(), Config{URL: url, Timeout: 3 * time.Minute, Interval: 200 * time.Millisecond,
			MaxInterval: time.Second, AttemptTimeout: 3 * time.Second, Successes: 3, ExpectVersion: commit,
			OnAttempt: func(a Attempt) { classes = append(classes, a.Class) }})
		done <- outcome{res, err}
	}()
	time.Sleep(time.Second)
	r.startPG()
	r.startBroker("a", port)
	o := <-done
	if o.err != nil {
		t.Fatalf("the gate never opened: %v (classes %v)", o.err, classes)
	}
	if classes[0] != ClassRefused {
		t.Errorf("first attempt %s, want %s (nothing listening yet); classes %v", classes[0], ClassRefused, classes)
	}
	if !strings.HasPrefix(commit, o.res.Commit) || o.res.Migration == "" {
		t.Errorf("observed commit %q migration %q", o.res.Commit, o.res.Migration)
	}
	applied := o.res.Migration
	t.Logf("not listening then up: %d attempts, classes %v", o.res.Attempts, classes)

	quick := func(mut func(*Config)) (*Result, error) {
		c := Config{URL: url, Timeout: 4 * time.Second, Interval: 200 * time.Millisecond, Successes: 2}
		mut(&c)
		return Ready(context.Background(), c)
	}
	wantClass := func(name string, err error, class Class) {
		t.Helper()
		var ge *Error
		if !errors.As(err, &ge) || ge.Class != class {
			t.Errorf("%s: got %v, want class %s", name, err, class)
		}
	}

	if _, err := quick(func(c *Config) {
		c.ExpectVersion = commit
		c.ExpectMigration = "migrations/" + applied
		c.ExpectSchemaClean = true
	}); err != nil {
		t.Errorf("ready with version, migration and clean schema: %v", err)
	}
	_, err := quick(func(c *Config) { c.ExpectVersion = strings.Repeat("f", 40) })
	wantClass("wrong version", err, ClassVersion)
	_, err = quick(func(c *Config) { c.ExpectMigration = "9999_not_yet.sql" })
	wantClass("expected migration missing (gate)", err, ClassMigration)

	// The broker's own EXPECTED_MIGRATION: it answers not_ready itself.
	port2 := loopbackPort(t)
	r.startBroker("b", port2, "EXPECTED_MIGRATION=9999_not_yet.sql")
	res, err := Ready(context.Background(), Config{URL: fmt.Sprintf("http://127.0.0.1:%d", port2), Timeout: 30 * time.Second,
		Interval: 300 * time.Millisecond, MaxInterval: time.Second, Successes: 1})
	wantClass("expected migration missing (broker)", err, ClassMigration)
	if res != nil && !strings.Contains(res.Detail, "not_ready") {
		t.Errorf("the broker's reason is not in the detail: %q", res.Detail)
	}

	// Database stopped: the broker's probe notices within a second or two.
	r.stopPG()
	_, err = quick(func(c *Config) { c.Timeout = 15 * time.Second })
	wantClass("database stopped", err, ClassDBDown)
}
