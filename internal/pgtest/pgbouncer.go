package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Pool modes accepted by StartPgBouncer.
const (
	PoolSession     = "session"
	PoolTransaction = "transaction"
)

// PgBouncerPoolSize is the default_pool_size of the poolers StartPgBouncer
// runs: small, so a second busy client really moves the first one onto a
// different server connection in transaction mode.
const PgBouncerPoolSize = 2

// pgbouncerBinary finds pgbouncer: on PATH, or where Debian's package puts
// it (/usr/sbin, which is not on a non-root PATH).
func pgbouncerBinary() (string, error) {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	const debian = "/usr/sbin/pgbouncer"
	if _, err := os.Stat(debian); err == nil {
		return debian, nil
	}
	return "", fmt.Errorf("pgbouncer not found on PATH or at /usr/sbin/pgbouncer (apt-get install pgbouncer, or run scripts/test-env)")
}

// syncBuffer collects pgbouncer's log for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// StartPgBouncer runs a PgBouncer in front of db's server, in the given
// pool mode (PoolSession or PoolTransaction), and returns a superuser DSN
// for db through it. The pooler listens on a free 127.0.0.1 port, keeps at
// most PgBouncerPoolSize server connections per database, and is stopped
// when the test ends.
//
// When the pgbouncer binary is missing the test skips, or fails under
// CI=true or MESHCTL_REQUIRE_DOCKER=1, like the PostgreSQL server itself.
func StartPgBouncer(t testing.TB, db *DB, mode string) string {
	t.Helper()
	if mode != PoolSession && mode != PoolTransaction {
		t.Fatalf("pgtest: pool mode %q: want %q or %q", mode, PoolSession, PoolTransaction)
	}
	bin, err := pgbouncerBinary()
	if err != nil {
		unavailable(t, err)
	}
	up, err := url.Parse(db.URL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	pass, _ := up.User.Password()
	// pgbouncer refuses to run as root; it then switches to this user, which
	// must be able to read the config, so the folder is not a 0700 TempDir.
	runAs := ""
	if os.Geteuid() == 0 {
		runAs = "nobody"
		if _, err := user.Lookup("postgres"); err == nil {
			runAs = "postgres"
		}
	}
	dir, err := os.MkdirTemp("", "pgtest-pgbouncer-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	userlist := filepath.Join(dir, "userlist.txt")
	if err := os.WriteFile(userlist, []byte(fmt.Sprintf("%q %q\n", up.User.Username(), pass)), 0o644); err != nil {
		t.Fatalf("pgtest: %v", err)
	}

	// A free port can be taken by someone else before pgbouncer binds it:
	// try a few.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		ini := filepath.Join(dir, "pgbouncer.ini")
		conf := fmt.Sprintf(`[databases]
* = host=%s port=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = plain
auth_file = %s
pool_mode = %s
default_pool_size = %d
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 100
ignore_startup_parameters = extra_float_digits
server_tls_sslmode = disable
log_connections = 0
log_disconnections = 0
`, up.Hostname(), up.Port(), port, userlist, mode, PgBouncerPoolSize)
		if err := os.WriteFile(ini, []byte(conf), 0o644); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		args := []string{ini}
		if runAs != "" {
			args = append([]string{"-u", runAs}, args...)
		}
		log := &syncBuffer{}
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = log, log
		// Its own process group, so a ^C to go test does not race Cleanup.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("pgtest: start pgbouncer: %v", err)
		}
		// exited is closed when pgbouncer ends, with its status in werr.
		exited := make(chan struct{})
		var werr error
		go func() { werr = cmd.Wait(); close(exited) }()

		pu := *up
		pu.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		dsn := pu.String()
		if err := waitAccepting(dsn, exited, &werr); err != nil {
			stopPgBouncer(cmd, exited)
			lastErr = fmt.Errorf("%v\npgbouncer log:\n%s", err, log.String())
			continue
		}
		t.Cleanup(func() { stopPgBouncer(cmd, exited) })
		return dsn
	}
	t.Fatalf("pgtest: pgbouncer did not start: %v", lastErr)
	return ""
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitAccepting polls until a real query passes through the pooler (which
// also proves the credentials reach the server), pgbouncer exits, or 15 s
// pass.
func waitAccepting(dsn string, exited <-chan struct{}, werr *error) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := pingSimple(ctx, dsn)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("pgbouncer exited: %v (last connect error: %v)", *werr, err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgbouncer not accepting connections after 15 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func pingSimple(ctx context.Context, dsn string) error {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "SELECT 1", pgx.QueryExecModeSimpleProtocol)
	return err
}

// stopPgBouncer asks pgbouncer to shut down now (SIGINT: close everything)
// and kills it if it has not exited within 5 s.
func stopPgBouncer(cmd *exec.Cmd, exited <-chan struct{}) {
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}
