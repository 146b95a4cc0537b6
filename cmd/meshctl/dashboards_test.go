package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDashboardsLintCLI(t *testing.T) {
	good := filepath.Join("..", "..", "dashboards", "broker.json")
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(strings.Replace(string(data), `rate(broker_messages_routed_total{job=~\"$job\"}[$__rate_interval])`, `broker_messages_routed_total{job=~\"$job\"}`, 1)), 0o644)
	metrics := filepath.Join(t.TempDir(), "metrics.txt")
	os.WriteFile(metrics, []byte("# TYPE broker_queue_depth gauge\nbroker_queue_depth 3\n"), 0o644)

	if code, stdout, stderr := runCLI(t, "dashboards", "lint", good); code != ExitOK || !strings.Contains(stdout, "0 errors") || stderr != "" {
		t.Errorf("clean dashboard: exit %d %q %q", code, stdout, stderr)
	}
	code, stdout, stderr := runCLI(t, "dashboards", "lint", bad)
	if code != ExitLintFindings || !strings.Contains(stdout, `panel "Messages routed per second"`) || !strings.Contains(stdout, "[counter-rate]") ||
		!strings.Contains(stdout, "fix: ") || stderr != "" {
		t.Errorf("counter without rate: exit %d %q %q", code, stdout, stderr)
	}
	// Against an exposition that lacks most metrics: metric-exists findings, in JSON.
	code, stdout, _ = runCLI(t, "--json", "dashboards", "lint", "--metrics", metrics, good)
	var rep lintReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != ExitLintFindings || rep.Errors == 0 {
		t.Fatalf("exit %d, %v, %s", code, err, stdout)
	}
	for _, f := range rep.Findings {
		if f.Rule != "metric-exists" || strings.Contains(f.Message, "broker_queue_depth ") {
			t.Errorf("unexpected finding %+v", f)
		}
	}
	// Two files with one uid.
	if code, stdout, _ := runCLI(t, "dashboards", "lint", good, good); code != ExitLintFindings || !strings.Contains(stdout, "[uid]") {
		t.Errorf("duplicate uid: exit %d %q", code, stdout)
	}
	// Operational and usage errors keep their own codes.
	if code, _, stderr := runCLI(t, "dashboards", "lint", "--metrics", "http://127.0.0.1:1/metrics", good); code != ExitError {
		t.Errorf("unreachable --metrics: exit %d %q", code, stderr)
	}
	for _, args := range [][]string{{"dashboards", "lint"}, {"dashboards", "lint", "/no/such.json"}} {
		code, stdout, stderr := runCLI(t, args...)
		if code != ExitUsage || stdout != "" {
			t.Errorf("%v: exit %d %q", args, code, stdout)
		}
		assertOneLine(t, stderr, "")
	}
}
