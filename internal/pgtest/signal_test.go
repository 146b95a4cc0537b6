package pgtest_test

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

// TestChildHoldsServer is the child half of TestInterruptPurgesContainer:
// it starts the server, says so, and waits to be interrupted.
func TestChildHoldsServer(t *testing.T) {
	if os.Getenv("PGTEST_CHILD") != "1" {
		t.Skip("helper process for TestInterruptPurgesContainer")
	}
	pgtest.NewDB(t)
	os.Stdout.WriteString("READY\n")
	time.Sleep(2 * time.Minute)
}

// Ctrl-C during a test run removes the package's container.
func TestInterruptPurgesContainer(t *testing.T) {
	pgtest.ServerURL(t) // skips or fails like any integration test without Docker
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildHoldsServer$", "-test.v")
	cmd.Env = append(os.Environ(), "PGTEST_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "READY") {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("child exited before starting its server")
		}
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("child did not start its server")
	}

	pool, err := dockertest.NewPool("")
	if err != nil {
		t.Fatal(err)
	}
	label := "meshctl.pgtest.pid=" + strconv.Itoa(cmd.Process.Pid)
	count := func() int {
		cs, err := pool.Client.ListContainers(docker.ListContainersOptions{
			All: true, Filters: map[string][]string{"label": {label}}})
		if err != nil {
			t.Fatal(err)
		}
		return len(cs)
	}
	if n := count(); n != 1 {
		t.Fatalf("child runs %d containers, want 1", n)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for count() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("container still there 30 s after the child was interrupted")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
