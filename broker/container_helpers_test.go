package broker

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

// Container tests run the broker image built from the working tree
// (scripts/broker-image/build) next to a PostgreSQL container of their
// own, on a Docker network the test creates: the broker reaches PostgreSQL
// by container name, the test reaches both through ports published on
// 127.0.0.1.

const clusterPassword = "cluster-secret"

var image struct {
	once sync.Once
	name string
	err  error
}

func noDocker(t testing.TB, err error) {
	t.Helper()
	if pgtest.Required() {
		t.Fatalf("Docker is required here (CI=true) but unavailable: %v", err)
	}
	t.Skipf("no Docker: %v (CI=true makes this fail)", err)
}

func brokerImage(t testing.TB) string {
	t.Helper()
	image.once.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		script := filepath.Join(filepath.Dir(file), "..", "scripts", "broker-image", "build")
		var stderr bytes.Buffer
		cmd := exec.Command(script)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			image.err = fmt.Errorf("%s: %v: %s", script, err, stderr.String())
			return
		}
		image.name = strings.TrimSpace(string(out))
	})
	if image.err != nil {
		noDocker(t, image.err)
	}
	return image.name
}

type cluster struct {
	t      testing.TB
	pool   *dockertest.Pool
	net    *dockertest.Network
	prefix string
	pg     *dockertest.Resource
	mu     sync.Mutex
	all    []*dockertest.Resource
}

func newCluster(t testing.TB) *cluster {
	t.Helper()
	if os.Getenv("MESHCTL_TEST_POSTGRES_IMAGE") == "" && pgtest.Required() {
		t.Fatal("MESHCTL_TEST_POSTGRES_IMAGE is not set: run eval \"$(scripts/test-env)\"")
	}
	p, err := dockertest.NewPool("")
	if err == nil {
		err = p.Client.Ping()
	}
	if err != nil {
		noDocker(t, err)
	}
	img := brokerImage(t)
	_ = img
	c := &cluster{t: t, pool: p, prefix: fmt.Sprintf("brk%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)}
	c.net, err = p.CreateNetwork(c.prefix + "-net")
	if err != nil {
		t.Fatalf("create network: %v", err)
	}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, r := range c.all {
			if t.Failed() {
				c.dumpLogs(r)
			}
			_ = p.Purge(r)
		}
		_ = c.net.Close()
	})
	return c
}

func (c *cluster) dumpLogs(r *dockertest.Resource) {
	var buf bytes.Buffer
	_ = c.pool.Client.Logs(docker.LogsOptions{Container: r.Container.ID, OutputStream: &buf, ErrorStream: &buf, Stdout: true, Stderr: true, Tail: "40"})
	c.t.Logf("logs of %s:\n%s", r.Container.Name, buf.String())
}

func (c *cluster) run(opts *dockertest.RunOptions) *dockertest.Resource {
	c.t.Helper()
	opts.Networks = []*dockertest.Network{c.net}
	opts.Labels = map[string]string{"meshctl.pgtest.pid": strconv.Itoa(os.Getpid())} // reaped like pgtest's containers
	r, err := c.pool.RunWithOptions(opts, func(hc *docker.HostConfig) {
		hc.RestartPolicy = docker.RestartPolicy{Name: "no"}
	})
	if err != nil {
		c.t.Fatalf("start %s: %v", opts.Name, err)
	}
	_ = r.Expire(3600)
	c.mu.Lock()
	c.all = append(c.all, r)
	c.mu.Unlock()
	return r
}

func (c *cluster) pgName() string { return c.prefix + "-pg" }

// startPG starts PostgreSQL (data in the container, so it survives a stop
// and start) and waits until it accepts connections.
func (c *cluster) startPG() {
	c.t.Helper()
	img := os.Getenv("MESHCTL_TEST_POSTGRES_IMAGE")
	if img == "" {
		img = pgtest.DefaultImage
	}
	repo, tag, _ := strings.Cut(img, ":")
	if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
		repo, tag = img[:i], img[i+1:]
	}
	c.pg = c.run(&dockertest.RunOptions{Name: c.pgName(), Repository: repo, Tag: tag,
		Env: []string{"POSTGRES_PASSWORD=" + clusterPassword, "POSTGRES_USER=postgres", "POSTGRES_DB=postgres"},
		// fsync=off loses data only when the machine crashes; commits stay
		// synchronous, so a killed or stopped server keeps what it acknowledged.
		Cmd: []string{"postgres", "-c", "fsync=off", "-c", "max_connections=200"}})
	c.waitPG()
}

func (c *cluster) waitPG() {
	c.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		conn, err := pgx.Connect(ctx, c.pgHostURL())
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("PostgreSQL never accepted connections: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// pgHostURL is the DSN from the test process (the published port, which
// changes when the container restarts).
func (c *cluster) pgHostURL() string {
	ci, err := c.pool.Client.InspectContainer(c.pg.Container.ID)
	port := ""
	if err == nil {
		for p, b := range ci.NetworkSettings.Ports {
			if p == "5432/tcp" && len(b) > 0 {
				port = b[0].HostPort
			}
		}
	}
	return fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%s/postgres?sslmode=disable", clusterPassword, port)
}

func (c *cluster) pgPool() *pgxpool.Pool {
	c.t.Helper()
	p, err := pgxpool.New(context.Background(), c.pgHostURL())
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(p.Close)
	return p
}

type brokerC struct {
	r    *dockertest.Resource
	base string
}

// startBroker runs one broker replica; env adds to the defaults.
func (c *cluster) startBroker(name string, env ...string) *brokerC {
	c.t.Helper()
	img := brokerImage(c.t)
	repo, tag := img[:strings.LastIndex(img, ":")], img[strings.LastIndex(img, ":")+1:]
	e := append([]string{
		"DATABASE_URL=postgres://postgres:" + clusterPassword + "@" + c.pgName() + ":5432/postgres?sslmode=disable",
		"BROKER_ADMIN_TOKEN=" + testAdminToken, "BROKER_RATE_BURST=1000000", "BROKER_RATE_PER_MIN=1000000000",
		"BROKER_DRAIN_DELAY=0s",
	}, env...)
	r := c.run(&dockertest.RunOptions{Name: c.prefix + "-" + name, Repository: repo, Tag: tag, Env: e, ExposedPorts: []string{"7900/tcp"}})
	return &brokerC{r: r, base: "http://127.0.0.1:" + r.GetPort("7900/tcp")}
}

// status GETs path and returns the status code (0 if the request failed).
func (b *brokerC) status(path string) int {
	cl := http.Client{Timeout: 3 * time.Second}
	resp, err := cl.Get(b.base + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (b *brokerC) waitReady(t testing.TB, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for b.status("/health/ready") != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("broker %s not ready within %s", b.r.Container.Name, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (b *brokerC) env(t testing.TB, p *pgxpool.Pool) *tenv {
	return &tenv{t: t, base: b.base, pool: p}
}

func (c *cluster) logs(r *dockertest.Resource) string {
	var buf bytes.Buffer
	_ = c.pool.Client.Logs(docker.LogsOptions{Container: r.Container.ID, OutputStream: &buf, ErrorStream: &buf, Stdout: true, Stderr: true})
	return buf.String()
}

// stopPG stops PostgreSQL the way `docker stop` of the image does (its
// stop signal SIGINT: a clean fast shutdown) and waits for the exit.
// dockertest replaces containers' stop signal with SIGWINCH, so the signal
// is sent explicitly.
func (c *cluster) stopPG() {
	c.t.Helper()
	if err := c.pool.Client.KillContainer(docker.KillContainerOptions{ID: c.pg.Container.ID, Signal: docker.SIGINT}); err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.pool.Client.WaitContainerWithContext(c.pg.Container.ID, ctx); err != nil {
		c.t.Fatalf("wait for PostgreSQL to stop: %v", err)
	}
}

func dockerKill(id string) docker.KillContainerOptions {
	return docker.KillContainerOptions{ID: id, Signal: docker.SIGTERM}
}
