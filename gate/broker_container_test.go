package gate

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/claudemesh/meshctl/internal/brokertest"
)

// The gate against the reference broker's image and a PostgreSQL
// container (internal/brokertest).

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
	r := brokertest.NewRig(t)
	commit := headCommit(t) // scripts/broker-image/build stamps HEAD's commit
	port := brokertest.LoopbackPort(t)
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
	r.StartPG()
	r.StartBroker("a", port)
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
	port2 := brokertest.LoopbackPort(t)
	r.StartBroker("b", port2, "EXPECTED_MIGRATION=9999_not_yet.sql")
	res, err := Ready(context.Background(), Config{URL: fmt.Sprintf("http://127.0.0.1:%d", port2), Timeout: 30 * time.Second,
		Interval: 300 * time.Millisecond, MaxInterval: time.Second, Successes: 1})
	wantClass("expected migration missing (broker)", err, ClassMigration)
	if res != nil && !strings.Contains(res.Detail, "not_ready") {
		t.Errorf("the broker's reason is not in the detail: %q", res.Detail)
	}

	// Database stopped: the broker's probe notices within a second or two.
	r.StopPG()
	// 25 successes in a row span five probe intervals (the broker probes
	// every second), so the gate cannot pass on the probe's stale state.
	_, err = quick(func(c *Config) { c.Timeout = 20 * time.Second; c.Successes = 25 })
	wantClass("database stopped", err, ClassDBDown)
}
