package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/claudemesh/meshctl/broker"
	"github.com/claudemesh/meshctl/internal/brokertest"
	"github.com/claudemesh/meshctl/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// prometheusBinary finds Debian's prometheus (scripts/test-env installs
// it); MESHCTL_TEST_PROMETHEUS overrides.
func prometheusBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MESHCTL_TEST_PROMETHEUS"); p != "" {
		return p
	}
	p, err := exec.LookPath("prometheus")
	if err != nil {
		if pgtest.Required() {
			t.Fatalf("prometheus is required here (CI=true) but not installed: run scripts/test-env (%v)", err)
		}
		t.Skipf("no prometheus binary (%v); CI=true makes this fail", err)
	}
	return p
}

// startBroker runs the reference broker (broker.Run, as the binary does)
// on a fresh database and returns its base URL.
func startBroker(t *testing.T) string {
	t.Helper()
	db := pgtest.NewEmptyDB(t)
	port := brokertest.LoopbackPort(t)
	cfg, err := broker.ConfigFromEnv(func(k string) string {
		return map[string]string{"DATABASE_URL": db.URL, "BROKER_PORT": strconv.Itoa(port)}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Version, cfg.Commit = "test", "0123456789abcdef0123456789abcdef01234567"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- broker.Run(ctx, cfg, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("broker: %v", err)
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(t, 60*time.Second, base+"/health/ready", "broker ready")
	return base
}

// waitFor polls u until it answers 200.
func waitFor(t *testing.T, limit time.Duration, u, what string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not up within %s (last: %v)", what, u, limit, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startPrometheus runs Prometheus on loopback, scraping target every
// second, and returns its base URL.
func startPrometheus(t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: broker
    static_configs:
      - targets: [%q]
`, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	port := brokertest.LoopbackPort(t)
	var logs strings.Builder
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", logs.String())
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(t, 30*time.Second, base+"/-/ready", "prometheus")
	return base
}

// promResult is the part of /api/v1/query's answer the test reads.
type promResult struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		ResultType string            `json:"resultType"`
		Result     []json.RawMessage `json:"result"`
	} `json:"data"`
}

func promGet(t *testing.T, u string) promResult {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r promResult
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%s: %v: %s", u, err, body)
	}
	return r
}

// The shipped dashboard against a real Prometheus scraping a real broker
// under a small load: every panel's every query returns at least one
// series (a panel that would show "No data" fails), and the job variable's
// query lists the broker's job.
func TestDashboardAgainstPrometheus(t *testing.T) {
	bin := prometheusBinary(t)
	base := startBroker(t)
	prom := startPrometheus(t, bin, strings.TrimPrefix(base, "http://"))

	// Small load: the health routes and an unauthenticated REST call.
	ctx, stop := context.WithCancel(context.Background())
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		for ctx.Err() == nil {
			for _, p := range []string{"/health", "/health/ready", "/v1/meshes"} {
				if resp, err := http.Get(base + p); err == nil {
					resp.Body.Close()
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	defer func() { stop(); <-loadDone }()

	// The lint passes against the live exposition too.
	cat, err := LoadCatalog(context.Background(), http.DefaultClient, base+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("broker.json")
	if err != nil {
		t.Fatal(err)
	}
	if fs := Lint([]File{{"broker.json", data}}, Options{Metrics: cat}); len(fs) > 0 {
		t.Errorf("lint against the live broker: %v", fs)
	}

	// Wait until Prometheus has scraped the broker for a while (rate over
	// $__rate_interval needs two samples; give it more).
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := promGet(t, prom+"/api/v1/query?query="+url.QueryEscape(`count_over_time(up{job="broker"}[1m])`))
		if len(r.Data.Result) > 0 {
			var s struct {
				Value [2]any `json:"value"`
			}
			_ = json.Unmarshal(r.Data.Result[0], &s)
			if n, _ := strconv.Atoi(fmt.Sprint(s.Value[1])); n >= 8 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("Prometheus did not scrape the broker 8 times within 60 s")
		}
		time.Sleep(500 * time.Millisecond)
	}

	d, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	qs := d.Queries()
	if len(qs) < len(d.AllPanels()) {
		t.Fatalf("%d queries for %d panels", len(qs), len(d.AllPanels()))
	}
	now := strconv.FormatInt(time.Now().Unix(), 10)
	// The check can fail: a query naming a metric the broker lacks (as
	// upstream's empty panel did) returns nothing.
	if r := promGet(t, prom+"/api/v1/query?time="+now+"&query="+url.QueryEscape(`sum(rate(broker_messages_total[1m]))`)); len(r.Data.Result) != 0 {
		t.Fatalf("a missing metric returned series: %+v", r)
	}
	panelsWithData := map[int]bool{}
	for _, q := range qs {
		r := promGet(t, prom+"/api/v1/query?time="+now+"&query="+url.QueryEscape(q.Expanded))
		if r.Status != "success" {
			t.Errorf("panel %q query %s: %s: %s", q.Panel, q.RefID, r.Error, q.Expanded)
			continue
		}
		if len(r.Data.Result) == 0 {
			t.Errorf("panel %q query %s returns no series (Grafana would show No data): %s", q.Panel, q.RefID, q.Expanded)
			continue
		}
		panelsWithData[q.PanelID] = true
	}
	for _, p := range d.AllPanels() {
		if p.Type != "row" && !panelsWithData[*p.ID] {
			t.Errorf("panel %q shows no data", p.Title)
		}
	}
	// The job variable's query (label_values) lists the broker's job.
	resp, err := http.Get(prom + "/api/v1/label/job/values?match[]=broker_connections_active")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var lv struct {
		Data []string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&lv); err != nil || len(lv.Data) != 1 || lv.Data[0] != "broker" {
		t.Errorf("label_values(broker_connections_active, job) = %v (%v), want [broker]", lv.Data, err)
	}
	t.Logf("%d queries of %d panels evaluated through Prometheus; each returned series", len(qs), len(panelsWithData))
}
