// Package brokertest runs the reference broker for tests of other
// packages: its image and a PostgreSQL container on a Docker network of
// the test's own (Rig), and free loopback ports.
package brokertest

import (
	"bytes"
	"context"
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

// PGPassword is the PostgreSQL superuser's password in a Rig.
const PGPassword = "rig-secret"

// Rig is a Docker network the test creates, with a PostgreSQL container
// and broker containers on it; the test reaches them through ports
// published on 127.0.0.1. Everything is removed when the test ends.
type Rig struct {
	t      testing.TB
	pool   *dockertest.Pool
	net    *dockertest.Network
	prefix string
	Image  string // the broker image
	pg     *dockertest.Resource
	all    []*dockertest.Resource
}

func dockerMissing(t testing.TB, err error) {
	t.Helper()
	if pgtest.Required() {
		t.Fatalf("Docker is required here (CI=true) but unavailable: %v", err)
	}
	t.Skipf("no Docker: %v (CI=true makes this fail)", err)
}

// NewRig builds the broker image from the working tree
// (scripts/broker-image/build) and creates the network. Without Docker it
// skips the test, or fails it under CI=true.
func NewRig(t testing.TB) *Rig {
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
	cmd := exec.Command(filepath.Join(filepath.Dir(file), "..", "..", "scripts", "broker-image", "build"))
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		dockerMissing(t, fmt.Errorf("broker image: %v: %s", err, stderr.String()))
	}
	r := &Rig{t: t, pool: p, prefix: fmt.Sprintf("gate%d-%d", os.Getpid(), time.Now().UnixNano()%1e6), Image: strings.TrimSpace(string(out))}
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

func (r *Rig) run(opts *dockertest.RunOptions) *dockertest.Resource {
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

// StartPG starts PostgreSQL (the image scripts/test-env names) and waits
// until it accepts connections.
func (r *Rig) StartPG() {
	r.t.Helper()
	img := os.Getenv("MESHCTL_TEST_POSTGRES_IMAGE")
	if img == "" {
		img = pgtest.DefaultImage
	}
	repo, tag := splitImage(img)
	r.pg = r.run(&dockertest.RunOptions{Name: r.prefix + "-pg", Repository: repo, Tag: tag,
		Env: []string{"POSTGRES_PASSWORD=" + PGPassword, "POSTGRES_USER=postgres", "POSTGRES_DB=postgres"},
		Cmd: []string{"postgres", "-c", "fsync=off"}})
	dsn := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%s/postgres?sslmode=disable", PGPassword, r.pg.GetPort("5432/tcp"))
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

// StopPG stops PostgreSQL as `docker stop` would (SIGINT, the image's stop
// signal) and waits for it to exit.
func (r *Rig) StopPG() {
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

// StartBroker runs a broker replica published on hostPort of 127.0.0.1,
// connected to the rig's PostgreSQL; env adds to its environment.
func (r *Rig) StartBroker(name string, hostPort int, env ...string) {
	r.t.Helper()
	repo, tag := splitImage(r.Image)
	e := append([]string{"DATABASE_URL=postgres://postgres:" + PGPassword + "@" + r.prefix + "-pg:5432/postgres?sslmode=disable",
		"BROKER_DRAIN_DELAY=0s"}, env...)
	r.run(&dockertest.RunOptions{Name: r.prefix + "-" + name, Repository: repo, Tag: tag, Env: e,
		ExposedPorts: []string{"7900/tcp"},
		PortBindings: map[docker.Port][]docker.PortBinding{"7900/tcp": {{HostIP: "127.0.0.1", HostPort: strconv.Itoa(hostPort)}}}})
}

// LoopbackPort returns a port of 127.0.0.1 nothing listens on.
func LoopbackPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
