package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/claudemesh/meshctl/audit"
	"github.com/claudemesh/meshctl/broker"
	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrations"
)

// example is one line of a command's --help that starts with "meshctl",
// as an operator would paste it.
type example struct {
	command string // the command it documents, e.g. "migrate up"
	line    string // the shell line
	allowed []int  // exit codes its comment documents besides 0
	hasYes  bool   // the command has --yes
}

// helpExamples collects every example from every command's usage text,
// in the order the command tree lists them.
func helpExamples() []example {
	var out []example
	exitRE := regexp.MustCompile(`exit (\d+)`)
	codeRE := regexp.MustCompile(`\b(\d)\b`)
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			name := strings.TrimSpace(prefix + " " + c.Name)
			hasYes := false
			for _, f := range c.Flags {
				if f.Names()[0] == "yes" {
					hasYes = true
				}
			}
			for _, l := range strings.Split(c.UsageText, "\n") {
				l = strings.TrimSpace(l)
				if !strings.HasPrefix(l, "meshctl ") && !strings.HasPrefix(l, "source <(meshctl") && !strings.HasPrefix(l, "DATABASE_URL=") {
					continue
				}
				ex := example{command: name, line: l, hasYes: hasYes}
				if i := strings.Index(l, "  #"); i >= 0 {
					comment := l[i:]
					ex.line = strings.TrimSpace(l[:i])
					for _, m := range exitRE.FindAllStringSubmatch(comment, -1) {
						n, _ := strconv.Atoi(m[1])
						ex.allowed = append(ex.allowed, n)
						// "exit 3 when pending, 4 on drift": every code listed after "exit".
						for _, m2 := range codeRE.FindAllStringSubmatch(comment[strings.Index(comment, m[0]):], -1) {
							k, _ := strconv.Atoi(m2[1])
							ex.allowed = append(ex.allowed, k)
						}
					}
				}
				out = append(out, ex)
			}
			walk(name, c.Subcommands)
		}
	}
	walk("", newApp(nil, nil).Commands)
	return out
}

// TestHelpExamplesRun runs every example in every --help against a real
// database, in a folder holding what the examples name (./migrations, key
// and checkpoint files, a mesh called my-team, an API key 3f9c2a…, a
// member mallory), and checks each exits 0 or as its comment documents.
// Destructive verbs that would ask on a terminal get --yes.
func TestHelpExamplesRun(t *testing.T) {
	bin := buildMeshctl(t)
	binDir := filepath.Dir(bin)
	db := pgtest.NewDB(t)
	ctx := context.Background()
	mustExecSQL(t, db, `INSERT INTO public."user" (id) VALUES ('o');
		INSERT INTO mesh.mesh (id, name, slug, owner_user_id) VALUES ('m1', 'Team', 'my-team', 'o');
		INSERT INTO mesh.member (id, mesh_id, user_id, peer_pubkey, display_name, role) VALUES
			('a1', 'm1', 'o', repeat('a', 64), 'alice', 'admin'),
			('b1', 'm1', 'x', repeat('b', 64), 'mallory', 'member'),
			('c1', 'm1', 'x', '79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664', 'carol', 'member');
		INSERT INTO mesh.api_key (id, mesh_id, label, secret_hash, secret_prefix) VALUES ('3f9c2a0000000000', 'm1', 'ci', '', 'cm_AAAAAAAA');
		INSERT INTO mesh.topic (id, mesh_id, name) VALUES ('t1', 'm1', 'general');
		INSERT INTO mesh.topic_message (id, topic_id, sender_member_id, nonce, ciphertext) VALUES ('x1', 't1', 'a1', '', encode('hi @mallory', 'base64'));`)
	for i := range 50 {
		tx, err := db.Pool.Begin(ctx)
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
	// A real broker (the same code as the binary) on that database, for the
	// gate and dashboards examples: they name it as http://127.0.0.1:8080
	// or https://broker.internal:8080.
	brokerURL := startBroker(t, db.URL)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "migrations"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".sql") {
			b, _ := fs.ReadFile(migrations.FS, p)
			err = os.WriteFile(filepath.Join(dir, "migrations", filepath.Base(p)), b, 0o644)
		}
		return err
	})
	if err := os.MkdirAll(filepath.Join(dir, "vectors", "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	hello, err := os.ReadFile("../../vectors/data/mesh_hello_test.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"vectors/data/mesh_hello_test.json", "my_test.json"} {
		if err := os.WriteFile(filepath.Join(dir, p), hello, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "dashboards"), 0o755); err != nil {
		t.Fatal(err)
	}
	dash, err := os.ReadFile("../../dashboards/broker.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dashboards", "broker.json"), dash, 0o644); err != nil {
		t.Fatal(err)
	}
	metrics := fetch(t, brokerURL+"/metrics")
	if err := os.WriteFile(filepath.Join(dir, "saved-metrics.txt"), []byte(metrics), 0o644); err != nil {
		t.Fatal(err)
	}
	sh := func(line string) (int, string) {
		cmd := exec.Command("bash", "-c", line)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+binDir+":"+os.Getenv("PATH"), "DATABASE_URL="+db.URL, "NO_COLOR=1", "GIT_SHA=examplesha1234")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		_ = cmd.Run()
		return cmd.ProcessState.ExitCode(), out.String()
	}
	// Examples run in the order their commands are listed, except that the
	// audit verbs follow the life of a key: keygen, checkpoint, then what
	// reads checkpoints. Before the first verify, monday.cp and today.cp
	// are made with the example's key, a row apart.
	rank := map[string]int{"audit keygen": 1, "audit checkpoint": 2, "audit verify": 3, "audit prove": 4, "audit check-proof": 5}
	exs := helpExamples()
	sort.SliceStable(exs, func(i, j int) bool { return rank[exs[i].command] < rank[exs[j].command] })
	hooks := map[string]func(){
		"audit verify": func() {
			if code, out := sh("cp audit.cp monday.cp"); code != 0 {
				t.Fatalf("monday.cp: %s", out)
			}
			tx, err := db.Pool.Begin(ctx)
			if err == nil {
				_, err = audit.Append(ctx, tx, audit.Event{MeshID: "m1", EventType: "state_set", Payload: []byte(`{"n":"later"}`)})
			}
			if err == nil {
				err = tx.Commit(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			if code, out := sh("meshctl audit checkpoint --key ops.key --out today.cp --all"); code != 0 {
				t.Fatalf("today.cp: exit %d\n%s", code, out)
			}
		},
	}
	ran := 0
	for _, ex := range exs {
		if hook := hooks[ex.command]; hook != nil {
			hook()
			delete(hooks, ex.command)
		}
		if strings.Contains(ex.line, "completion zsh") {
			continue // a zsh script: bash cannot source it
		}
		if strings.HasPrefix(ex.command, "migrate repair") {
			// Each needs a database in the state it repairs (a changed,
			// missing, failed or renamed file): TestMigrateRepairCLI and
			// TestFailureMessagesNameACommandThatWorks run them so.
			continue
		}
		line := strings.ReplaceAll(ex.line, "postgres://ops@db:5432/claudemesh", db.URL)
		line = strings.NewReplacer("https://broker.internal:8080", brokerURL, "http://127.0.0.1:8080", brokerURL).Replace(line)
		line = strings.ReplaceAll(line, "DATABASE_URL=postgres://ops@db/claudemesh ", "")
		if ex.hasYes && !strings.Contains(line, "--dry-run") && !strings.Contains(line, "--yes") {
			line += " --yes"
		}
		code, out := sh(line)
		ran++
		ok := code == 0
		for _, a := range ex.allowed {
			ok = ok || code == a
		}
		if !ok {
			t.Errorf("%s: example %q exits %d (documented: 0 %v)\n%s", ex.command, ex.line, code, ex.allowed, out)
		}
	}
	if ran < 40 {
		t.Errorf("only %d examples found", ran)
	}
	t.Logf("%d examples ran", ran)
}

// startBroker runs the reference broker in-process on a free loopback port
// against dsn (already migrated) and returns its base URL once it is ready
// and has served a request (so its HTTP metrics exist).
func startBroker(t *testing.T, dsn string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := broker.Config{DatabaseURL: dsn, Port: port, MaxMessageBytes: broker.DefaultMaxMessageBytes, RateBurst: 10, RatePerMin: 60,
		StartupTimeout: 30 * time.Second, ProbeInterval: 200 * time.Millisecond, Version: "v-examples", Commit: "examplesha1234"}
	go func() { done <- broker.Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for i := 0; ; i++ {
		resp, err := http.Get(base + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		if i > 300 {
			t.Fatalf("the broker never became ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
