package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/claudemesh/meshctl/internal/dbconn"
	"github.com/claudemesh/meshctl/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// runCLI runs meshctl in-process, as main does, and returns what it printed.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"meshctl"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// assertOneLine checks the error output an operator sees: one line,
// prefixed, with no secret and no Go internals.
func assertOneLine(t *testing.T, stderr string, secret string) {
	t.Helper()
	if strings.Count(strings.TrimRight(stderr, "\n"), "\n") != 0 || !strings.HasPrefix(stderr, "meshctl: ") {
		t.Errorf("want one line starting with 'meshctl: ', got %q", stderr)
	}
	for _, bad := range []string{secret, "goroutine", "panic", ".go:"} {
		if bad != "" && strings.Contains(stderr, bad) {
			t.Errorf("stderr contains %q: %q", bad, stderr)
		}
	}
}

func TestConnectionFailuresAreOneSafeLine(t *testing.T) {
	// A listener that accepts and never answers: a connect timeout, on loopback only.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	silentPort := silent.Addr().(*net.TCPAddr).Port

	tests := []struct {
		name, dsn string
		code      int
		says      string
	}{
		{"refused url", "postgres://u:s3cret@127.0.0.1:1/x", ExitError, "cannot reach the database server at 127.0.0.1:1/x"},
		{"refused kv", "host=127.0.0.1 port=1 user=u password=s3cret dbname=x", ExitError, "cannot reach"},
		{"refused kv quoted", "host=127.0.0.1 port=1 user=u password='s3cret' dbname=x", ExitError, "cannot reach"},
		{"bad url", "postgres://u:s3cret@[::1/x", ExitUsage, "invalid database URL"},
		{"bad kv", "host=127.0.0.1 password=s3cret port=notaport", ExitUsage, "invalid database URL"},
		{"timeout", "postgres://u:s3cret@127.0.0.1:" + itoa(silentPort) + "/x?connect_timeout=1", ExitError, "timed out connecting"},
		{"missing", "", ExitUsage, "no database given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("DATABASE_URL", "")
			code, stdout, stderr := runCLI(t, "--database-url", tt.dsn, "db", "ping")
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout not empty: %q", stdout)
			}
			if !strings.Contains(stderr, tt.says) {
				t.Errorf("stderr %q does not say %q", stderr, tt.says)
			}
			assertOneLine(t, stderr, "s3cret")
		})
	}
}

func TestConnectionFailuresAgainstRealServer(t *testing.T) {
	good, err := url.Parse(pgtest.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	wrongPW := *good
	wrongPW.User = url.UserPassword("postgres", "s3cret")
	noDB := *good
	noDB.Path = "/no_such_database"
	host, port, _ := net.SplitHostPort(good.Host)
	kvWrong := "host=" + host + " port=" + port + " user=postgres password=s3cret dbname=postgres sslmode=disable"

	for _, tt := range []struct{ name, dsn, says string }{
		{"wrong password url", wrongPW.String(), "the database refused the login"},
		{"wrong password kv", kvWrong, "the database refused the login"},
		{"missing database", noDB.String(), "the database does not exist"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "--database-url", tt.dsn, "db", "ping")
			if code != ExitError {
				t.Errorf("exit %d, want %d (stderr %q)", code, ExitError, stderr)
			}
			if !strings.Contains(stderr, tt.says) {
				t.Errorf("stderr %q does not say %q", stderr, tt.says)
			}
			pw, _ := good.User.Password()
			assertOneLine(t, stderr, "s3cret")
			if strings.Contains(stderr, pw) {
				t.Errorf("stderr leaks the real password: %q", stderr)
			}
		})
	}
}

func TestPingJSONAndApplicationName(t *testing.T) {
	db := pgtest.NewDB(t)
	code, stdout, stderr := runCLI(t, "--json", "--database-url", db.URL, "db", "ping")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r pingResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if r.Database != db.Name || !r.MeshSchema || !r.TrackingTable || r.Applied == 0 {
		t.Errorf("unexpected ping result %+v", r)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := dbconn.OpenPool(ctx, db.URL, appName)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var app string
	if err := pool.QueryRow(ctx, `SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()`).Scan(&app); err != nil {
		t.Fatal(err)
	}
	if app != "meshctl" {
		t.Errorf("application_name = %q, want meshctl", app)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"no-such-command"},
		{"db", "ping", "--no-such-flag"},
		{"completion", "fish"},
		{"migrate", "no-such-verb"},
		{"--json", "audit", "--verbose", "no-such-verb"},
		{"vectors", "no-such-verb", "x.json"},
	} {
		code, _, stderr := runCLI(t, args...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, code, ExitUsage, stderr)
		}
		assertOneLine(t, stderr, "")
	}
}

// NO_COLOR means "no colour" whatever its value (no-color.org); it must
// never make a command fail.
func TestNoColorAnyValue(t *testing.T) {
	for _, v := range []string{"1", "yes", "true", "0"} {
		t.Setenv("NO_COLOR", v)
		if code, _, stderr := runCLI(t, "version"); code != ExitOK {
			t.Errorf("NO_COLOR=%s: exit %d, stderr %q", v, code, stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runCLI(t, "--json", "version")
	var v versionInfo
	if code != 0 || json.Unmarshal([]byte(stdout), &v) != nil || v.GoVersion == "" || v.Version == "" {
		t.Fatalf("version: exit %d, %q", code, stdout)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// Every command that talks to the database fails the same way on a bad
// DSN: exit 1, one line, no password, nothing on stdout. The list must
// grow with every new database verb.
func TestEveryDatabaseCommandHidesThePassword(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCLI(t, "audit", "keygen", "--out", dir+"/ops", "--name", "test")
	if code != 0 {
		t.Fatalf("keygen: %s", stderr)
	}
	dbCommands := [][]string{
		{"db", "ping"},
		{"migrate", "status"},
		{"migrate", "status", "--exit-code"},
		{"migrate", "plan"},
		{"migrate", "up"},
		{"migrate", "up", "--dry-run"},
		{"migrate", "bootstrap", "--through", "0001_audit_log.sql"},
		{"audit", "verify", "--all"},
		{"audit", "checkpoint", "--key", dir + "/ops.key", "--out", dir + "/out.cp", "--all"},
	}
	dsns := []struct {
		dsn  string
		exit int
	}{
		{"postgres://u:s3cret@127.0.0.1:1/x", ExitError},
		{"host=127.0.0.1 port=1 user=u password=s3cret dbname=x", ExitError},
		{"postgres://u:s3cret@[::1/x", ExitUsage},
		{"postgres://u:s3@cr:et@127.0.0.1:1/x", ExitError},
	}
	for _, cmd := range dbCommands {
		for _, d := range dsns {
			dsn := d.dsn
			for _, asJSON := range []bool{false, true} {
				args := append([]string{"--database-url", dsn}, cmd...)
				if asJSON {
					args = append([]string{"--json"}, args...)
				}
				code, stdout, stderr := runCLI(t, args...)
				if code != d.exit {
					t.Errorf("%v: exit %d, want %d (stderr %q)", args, code, d.exit, stderr)
				}
				for _, secret := range []string{"s3cret", "s3@cr:et", "cr:et"} {
					assertOneLine(t, stderr, secret)
				}
				if strings.Contains(stdout, "s3cret") || strings.Contains(stdout, "cr:et") {
					t.Errorf("%v: stdout leaks the password: %q", args, stdout)
				}
			}
		}
	}
}

// A flag mistake names the full command whose help to read.
func TestUsageErrorNamesTheFullCommand(t *testing.T) {
	code, _, stderr := runCLI(t, "migrate", "lint", "--bogus")
	if code != ExitUsage || !strings.Contains(stderr, "(see meshctl migrate lint --help)") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// Global switches work after the command too, as operators type them.
func TestGlobalSwitchesAfterTheCommand(t *testing.T) {
	code, stdout, stderr := runCLI(t, "version", "--json")
	var v versionInfo
	if code != 0 || json.Unmarshal([]byte(stdout), &v) != nil {
		t.Fatalf("version --json: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	got := hoistGlobalSwitches([]string{"meshctl", "migrate", "status", "--json", "--", "--verbose"})
	want := []string{"meshctl", "--json", "migrate", "status", "--", "--verbose"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("hoist = %v, want %v", got, want)
	}
}
