package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/urfave/cli/v2"

	"github.com/claudemesh/meshctl/audit"
	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/meshfmt"
	"github.com/claudemesh/meshctl/migrations"
)

// hostileFixture is a migrated database with one mesh and its audit chain,
// a key pair, a checkpoint and a copy of the migrations: what every probe
// may touch and must leave as it was.
type hostileFixture struct {
	db      *pgtest.DB
	dir     string // files: keys, checkpoint, migrations, probes' inputs
	secrets []string
}

func newHostileFixture(t *testing.T, bin string) *hostileFixture {
	t.Helper()
	ctx := context.Background()
	fx := &hostileFixture{db: pgtest.NewDB(t), dir: t.TempDir()}
	if _, err := fx.db.Pool.Exec(ctx, `INSERT INTO public."user" (id) VALUES ('o');
		INSERT INTO mesh.mesh (id, name, slug, owner_user_id, owner_secret_key) VALUES ('m1', 'Team', 'my-team', 'o', repeat('ab', 64))`); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		tx, err := fx.db.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := audit.Append(ctx, tx, audit.Event{MeshID: "m1", EventType: "state_set", Payload: []byte(fmt.Sprintf(`{"n":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mig := filepath.Join(fx.dir, "migrations")
	if err := os.MkdirAll(mig, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".sql") {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, p)
		if err == nil {
			err = os.WriteFile(filepath.Join(mig, filepath.Base(p)), b, 0o644)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--database-url", fx.db.URL}, args...)...)
		cmd.Dir = fx.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("audit", "keygen", "--out", "ops")
	run("audit", "checkpoint", "--key", "ops.key", "--out", "audit.cp", "--all")
	key, err := os.ReadFile(filepath.Join(fx.dir, "ops.key"))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(fx.db.URL)
	pw, _ := u.User.Password()
	fx.secrets = []string{pw, "s3cret", strings.TrimSpace(string(key)), strings.Repeat("ab", 32)}
	return fx
}

// state is everything a probe must not change: the database's catalog and
// rows of interest, and every file under the fixture folder.
func (fx *hostileFixture) state(t *testing.T) []string {
	t.Helper()
	out := catalog(t, fx.db.Pool)
	rows, err := fx.db.Pool.Query(context.Background(), `SELECT 'audit ' || id || ' ' || hash FROM mesh.audit_log
		UNION ALL SELECT 'mesh ' || id || ' ' || slug FROM mesh.mesh ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	more, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, more...)
	_ = filepath.WalkDir(fx.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			out = append(out, "walk error "+p)
			return nil
		}
		info, _ := d.Info()
		line := "file " + strings.TrimPrefix(p, fx.dir)
		if info != nil {
			line += " " + info.Mode().String()
		}
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			sum := sha256.Sum256(b)
			line += " " + hex.EncodeToString(sum[:8])
		}
		out = append(out, line)
		return nil
	})
	sort.Strings(out)
	return out
}

// probe is one hostile or careless invocation.
type probe struct {
	name string
	args []string // {dsn} is the fixture's URL, {dir} the fixture folder
	env  []string
	exit int
	want string // in the error line
}

// TestHostileInputs runs every probe against the built binary, with and
// without --json: the documented exit code, exactly one "meshctl: " line
// on stderr (and under --json the error object on stdout), no secret in
// any output, no control character from the input on the terminal, and
// the database and files exactly as before.
func TestHostileInputs(t *testing.T) {
	bin := buildMeshctl(t)
	fx := newHostileFixture(t, bin)
	u, _ := url.Parse(fx.db.URL)
	host, port := u.Hostname(), u.Port()
	withUser := func(user, pass string) string {
		v := *u
		if pass == "" {
			v.User = url.User(user)
		} else {
			v.User = url.UserPassword(user, pass)
		}
		return v.String()
	}
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
			defer c.Close() // held open, never answered
		}
	}()
	web := replierForTest(t, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

	write := func(name string, body []byte) string {
		p := filepath.Join(fx.dir, "inputs", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	migDir := func(name string, files map[string][]byte) string {
		for f, b := range files {
			write(filepath.Join(name, f), b)
		}
		return filepath.Join(fx.dir, "inputs", name)
	}
	// withMigrations is the reference folder plus one pending file.
	withMigrations := func(name, file, body string) string {
		files := map[string][]byte{file: []byte(body)}
		entries, _ := os.ReadDir(filepath.Join(fx.dir, "migrations"))
		for _, e := range entries {
			b, _ := os.ReadFile(filepath.Join(fx.dir, "migrations", e.Name()))
			files[e.Name()] = b
		}
		return migDir(name, files)
	}
	// A tracking table without upstream's NOT NULL constraints, holding a
	// row with no sha256: a database of its own, so the fixture's stays
	// as it is.
	nullDB := pgtest.NewEmptyDB(t)
	if _, err := nullDB.Pool.Exec(context.Background(), `CREATE SCHEMA mesh;
		CREATE TABLE mesh.__cmh_migrations (filename text PRIMARY KEY, sha256 text, applied_at timestamp DEFAULT now());
		INSERT INTO mesh.__cmh_migrations (filename) VALUES ('0000_mesh_core.sql')`); err != nil {
		t.Fatal(err)
	}
	nullSHA := nullDB.URL
	nodb := *u
	nodb.Path = "/nope"
	noDB := nodb.String()
	pgpassHome := filepath.Join(fx.dir, "inputs", "home")
	write("home/.pgpass", []byte(fmt.Sprintf("%s:%s:*:postgres:wrong-s3cret\n", host, port)))
	if err := os.Chmod(filepath.Join(pgpassHome, ".pgpass"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyDir := filepath.Join(fx.dir, "inputs", "empty")
	if err := os.MkdirAll(emptyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	loop := filepath.Join(fx.dir, "inputs", "loop")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	cp, err := os.ReadFile(filepath.Join(fx.dir, "audit.cp"))
	if err != nil {
		t.Fatal(err)
	}
	truncated := write("truncated.cp", cp[:len(cp)/2])
	edited := write("edited.cp", bytes.Replace(cp, []byte("m1"), []byte("m2"), 1))
	deep := write("deep.json", []byte(strings.Repeat("[", 100000)+strings.Repeat("]", 100000)))
	huge := filepath.Join(fx.dir, "inputs", "huge.json")
	if f, err := os.Create(huge); err == nil {
		_ = f.Truncate(100 << 20) // 100 MB of NUL bytes
		f.Close()
	}

	probes := []probe{
		{"wrong password in URL", []string{"--database-url", withUser("postgres", "wrong-s3cret"), "db", "ping"}, nil, ExitError, "refused the login"},
		{"wrong password key=value", []string{"--database-url", fmt.Sprintf("host=%s port=%s user=postgres password=wrong-s3cret dbname=%s sslmode=disable", host, port, fx.db.Name), "migrate", "status"}, nil, ExitError, "refused the login"},
		{"wrong PGPASSWORD", []string{"--database-url", withUser("postgres", ""), "audit", "verify"}, []string{"PGPASSWORD=wrong-s3cret"}, ExitError, "refused the login"},
		{"wrong .pgpass", []string{"--database-url", withUser("postgres", ""), "db", "ping"}, []string{"HOME=" + pgpassHome, "PGPASSWORD="}, ExitError, "refused the login"},
		{"unreachable host", []string{"--database-url", "postgres://u:s3cret@127.0.0.1:1/x", "migrate", "up"}, nil, ExitError, "cannot reach"},
		{"sslmode=require without TLS", []string{"--database-url", fx.db.URL[:strings.Index(fx.db.URL, "?")] + "?sslmode=require", "db", "ping"}, nil, ExitError, "TLS"},
		{"silent server", []string{"--database-url", "postgres://u:s3cret@" + silent.Addr().String() + "/x?connect_timeout=1", "db", "ping"}, nil, ExitError, "timed out"},
		{"not PostgreSQL", []string{"--database-url", "postgres://u:s3cret@" + web + "/x", "audit", "verify"}, nil, ExitError, "does not speak the PostgreSQL protocol"},
		{"missing database", []string{"--database-url", noDB, "db", "ping"}, nil, ExitError, "does not exist"},
		{"malformed URL", []string{"--database-url", "postgres://u:s3cret@[::1/x", "db", "ping"}, nil, ExitUsage, "invalid database URL"},
		{"no database", []string{"migrate", "status"}, []string{"DATABASE_URL="}, ExitUsage, "no database given"},
		{"dir is a file", []string{"--database-url", "{dsn}", "migrate", "up", "--dir", filepath.Join(fx.dir, "audit.cp")}, nil, ExitUsage, "not a directory"},
		{"dir missing", []string{"--database-url", "{dsn}", "migrate", "up", "--dir", filepath.Join(fx.dir, "nope")}, nil, ExitUsage, "does not exist"},
		{"dir empty", []string{"--database-url", "{dsn}", "migrate", "up", "--dir", emptyDir}, nil, ExitUsage, "no *.sql"},
		{"dir symlink loop", []string{"--database-url", "{dsn}", "migrate", "up", "--dir", loop}, nil, ExitUsage, "symbolic links"},
		{"file name not UTF-8", []string{"--database-url", "{dsn}", "migrate", "up", "--dir", migDir("nonutf8", map[string][]byte{"0001_\xff.sql": []byte("SELECT 1;")})}, nil, ExitUsage, "UTF-8"},
		{"NUL in a file", []string{"--database-url", "{dsn}", "migrate", "up", "--dir", migDir("nul", map[string][]byte{"0001_a.sql": []byte("SELECT 1;\x00")})}, nil, ExitUsage, "NUL"},
		{"BOM", []string{"--database-url", "{dsn}", "migrate", "up", "--dir", migDir("bom", map[string][]byte{"0001_a.sql": []byte("\xef\xbb\xbfCREATE TABLE bom (x int);")})}, nil, ExitUsage, "byte order mark"},
		{"COPY FROM stdin", []string{"--database-url", "{dsn}", "migrate", "up", "--dir", migDir("copy", map[string][]byte{"0001_a.sql": []byte("CREATE TABLE c (x int);\nCOPY c FROM stdin;\n1\n\\.\n")})}, nil, ExitUsage, "COPY"},
		{"psql meta-command", []string{"--database-url", "{dsn}", "migrate", "up", "--dir", migDir("meta", map[string][]byte{"0001_a.sql": []byte("\\set x 1\nSELECT 1;")})}, nil, ExitUsage, "psql"},
		{"escape in a file name", []string{"--database-url", "{dsn}", "migrate", "up", "--dir", migDir("esc", map[string][]byte{"0001_\x1b[2J.sql": []byte("SELECT 1;")})}, nil, ExitUsage, `\x1b`},
		{"escape in a mesh id", []string{"--database-url", "{dsn}", "audit", "verify", "--mesh", "m\x1b[2J\nforged"}, nil, ExitUsage, `\x1b[2J\nforged`},
		{"lock held", []string{"--database-url", "{dsn}", "migrate", "up", "--dir", withMigrations("locked", "0005_locked.sql", "CREATE TABLE locked (x int);"), "--lock-wait", "300ms"}, nil, ExitLocked, "lock not acquired"},
		{"checkpoint key is public", []string{"--database-url", "{dsn}", "audit", "checkpoint", "--key", "ops.pub", "--out", "new.cp", "--all"}, nil, ExitUsage, "ops.pub is a public key"},
		{"key is not a key", []string{"--database-url", "{dsn}", "audit", "verify", "--checkpoint", "audit.cp", "--key", "/etc/hostname"}, nil, ExitUsage, "/etc/hostname"},
		{"checkpoint over its key", []string{"--database-url", "{dsn}", "audit", "checkpoint", "--key", "ops.key", "--out", "ops.key", "--all"}, nil, ExitUsage, "ops.key"},
		{"checkpoint over a file", []string{"--database-url", "{dsn}", "audit", "checkpoint", "--key", "ops.key", "--out", "audit.cp", "--all"}, nil, ExitUsage, "--force"},
		{"keygen over a key", []string{"--database-url", "{dsn}", "audit", "keygen", "--out", "ops"}, nil, ExitUsage, "ops"},
		{"truncated checkpoint", []string{"--database-url", "{dsn}", "audit", "verify", "--checkpoint", truncated, "--key", "ops.pub"}, nil, ExitUsage, "truncated.cp"},
		{"edited checkpoint", []string{"--database-url", "{dsn}", "audit", "verify", "--checkpoint", edited, "--key", "ops.pub"}, nil, ExitTamper, "edited.cp"},
		{"foreign checkpoint", []string{"--database-url", "{dsn}", "audit", "verify", "--checkpoint", "audit.cp", "--key", "ops.pub", "--origin", "other.example/x"}, nil, ExitUsage, "origin"},
		{"malformed vector file", []string{"vectors", "verify", write("bad.json", []byte(`{"algorithm": 1`))}, nil, ExitVectorsMalformed, "bad.json"},
		{"100k-deep vector file", []string{"vectors", "verify", deep}, nil, ExitVectorsMalformed, "deep.json"},
		{"100 MB vector file", []string{"vectors", "verify", huge}, nil, ExitVectorsMalformed, "huge.json"},
		{"unknown flag", []string{"migrate", "status", "--bogus"}, nil, ExitUsage, "bogus"},
		{"unknown command", []string{"migrat"}, nil, ExitUsage, "unknown command"},
		{"unknown subcommand", []string{"audit", "verfy"}, nil, ExitUsage, "unknown command"},
		{"empty value", []string{"--database-url", "{dsn}", "migrate", "up", "--to", ""}, nil, ExitUsage, "--to needs a value"},
		{"negative duration", []string{"--database-url", "{dsn}", "migrate", "up", "--lock-wait", "-5s"}, nil, ExitUsage, "positive"},
		{"stray argument", []string{"--database-url", "{dsn}", "migrate", "up", "0001_s.sql"}, nil, ExitUsage, "unexpected argument"},
		{"NULL sha256 in the tracking table", []string{"--database-url", "{nullsha}", "migrate", "status"}, nil, ExitError, "has no sha256"},
		{"unknown backfill", []string{"--database-url", "{dsn}", "backfill", "run", "nope"}, nil, ExitUsage, "no backfill is called"},
	}
	holder, err := pgx.Connect(context.Background(), fx.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	if _, err := holder.Exec(context.Background(), "SELECT pg_advisory_lock($1)", meshfmt.MigrationLockKey); err != nil {
		t.Fatal(err)
	}
	for _, p := range probes {
		for _, asJSON := range []bool{false, true} {
			name := p.name
			if asJSON {
				name += " --json"
			}
			t.Run(name, func(t *testing.T) {
				before := fx.state(t)
				args := make([]string, 0, len(p.args)+1)
				if asJSON {
					args = append(args, "--json")
				}
				for _, a := range p.args {
					args = append(args, strings.NewReplacer("{dsn}", fx.db.URL, "{nullsha}", nullSHA).Replace(a))
				}
				cmd := exec.Command(bin, args...)
				cmd.Dir = fx.dir
				cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), p.env...)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				_ = cmd.Run()
				code := cmd.ProcessState.ExitCode()
				if code != p.exit {
					t.Errorf("exit %d, want %d\nstderr: %q", code, p.exit, stderr.String())
				}
				var errLines []string
				for _, l := range strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n") {
					if strings.HasPrefix(l, "meshctl: ") {
						errLines = append(errLines, l)
					}
				}
				if len(errLines) != 1 || !strings.HasSuffix(strings.TrimRight(stderr.String(), "\n"), errLines[0]) {
					t.Errorf("want exactly one meshctl: line, last on stderr; got %q", stderr.String())
				} else if !strings.Contains(errLines[0], p.want) {
					t.Errorf("error line %q does not say %q", errLines[0], p.want)
				}
				if asJSON {
					var env struct {
						Error *errorJSON `json:"error"`
					}
					if err := json.Unmarshal(stdout.Bytes(), &env); err != nil || env.Error == nil || env.Error.Exit != code {
						// Reports that carry the error (audit verify's) are JSON too.
						var anyJSON map[string]any
						if json.Unmarshal(stdout.Bytes(), &anyJSON) != nil {
							t.Errorf("stdout is not JSON: %q", stdout.String())
						}
					}
				} else if p.exit != ExitTamper && stdout.Len() > 0 {
					t.Errorf("stdout: %q", stdout.String())
				}
				all := stdout.String() + stderr.String()
				for _, s := range append(fx.secrets, "wrong-s3cret") {
					if s != "" && strings.Contains(all, s) {
						t.Errorf("output contains a secret (%.6s…)", s)
					}
				}
				if strings.ContainsRune(all, 0x1b) && !asJSON {
					t.Errorf("a raw ESC reached the output: %q", all)
				}
				for _, bad := range []string{"goroutine ", "panic:", ".go:"} {
					if strings.Contains(all, bad) {
						t.Errorf("output shows Go internals (%q): %q", bad, all)
					}
				}
				if diff := cmp.Diff(before, fx.state(t)); diff != "" {
					t.Errorf("the probe changed the database or files (-before +after):\n%s", diff)
				}
			})
		}
	}
}

// Every command's --help exits 0 and shows its usage.
func TestHelpEverywhere(t *testing.T) {
	for _, path := range commandPaths() {
		code, stdout, stderr := runCLI(t, append(path, "--help")...)
		if code != 0 || !strings.Contains(stdout, "USAGE") && !strings.Contains(stdout, "meshctl") {
			t.Errorf("%v --help: exit %d\n%s%s", path, code, stdout, stderr)
		}
	}
}

// commandPaths lists every command and subcommand, as argument lists.
func commandPaths() [][]string {
	var out [][]string
	var walk func(prefix []string, cmds []*cli.Command)
	walk = func(prefix []string, cmds []*cli.Command) {
		for _, c := range cmds {
			p := append(append([]string{}, prefix...), c.Name)
			out = append(out, p)
			walk(p, c.Subcommands)
		}
	}
	walk(nil, newApp(nil, nil).Commands)
	return out
}

// replierForTest accepts connections on loopback and answers each with
// reply (a server that is not PostgreSQL).
func replierForTest(t *testing.T, reply string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 512)
				for range 2 {
					if _, err := c.Read(buf); err != nil {
						return
					}
					if _, err := c.Write([]byte(reply)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}
