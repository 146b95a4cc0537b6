package dashboards

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/claudemesh/meshctl/broker"
)

// brokerExposition serves the reference broker's own /metrics (its real
// registry; the pool is lazy and never connects).
func brokerExposition(t *testing.T) *httptest.Server {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ts := httptest.NewServer(broker.New(broker.Config{}, pool, nil).Handler())
	t.Cleanup(ts.Close)
	// The HTTP series exist once a request has been served (as after
	// Prometheus's first scrape).
	resp, err := http.Get(ts.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return ts
}

func brokerJSON(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("broker.json")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The shipped dashboard has no finding at all, also against the broker's
// real exposition, and covers every metric the broker defines.
func TestBrokerDashboardIsClean(t *testing.T) {
	ts := brokerExposition(t)
	cat, err := LoadCatalog(context.Background(), http.DefaultClient, ts.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	data := brokerJSON(t)
	if fs := Lint([]File{{"broker.json", data}}, Options{Metrics: cat}); len(fs) != 0 {
		for _, f := range fs {
			t.Error(f)
		}
	}
	d, _ := Parse(data)
	used := strings.Join(func() []string {
		var out []string
		for _, q := range d.Queries() {
			out = append(out, q.Expanded)
		}
		return out
	}(), "\n")
	for _, name := range cat.Names() {
		if !strings.HasPrefix(name, "broker_") || strings.HasSuffix(name, "_sum") || strings.HasSuffix(name, "_count") {
			continue
		}
		if !strings.Contains(used, name) {
			t.Errorf("the broker exposes %s but no panel queries it", name)
		}
	}
	for _, p := range d.AllPanels() {
		if p.Description == "" || p.FieldConfig.Defaults.Unit == "" {
			t.Errorf("panel %q lacks a description or unit", p.Title)
		}
	}
}

// mutate decodes broker.json, applies f to it and lints the result.
func mutate(t *testing.T, cat *Catalog, f func(d map[string]any)) []Finding {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(brokerJSON(t), &d); err != nil {
		t.Fatal(err)
	}
	f(d)
	data, _ := json.Marshal(d)
	return Lint([]File{{"x.json", data}}, Options{Metrics: cat})
}

func panelAt(d map[string]any, i int) map[string]any {
	return d["panels"].([]any)[i].(map[string]any)
}

func target(d map[string]any, i int) map[string]any {
	return panelAt(d, i)["targets"].([]any)[0].(map[string]any)
}

// Each rule fires on the mistake it describes, naming the panel, and only
// that rule fires.
func TestRulesFire(t *testing.T) {
	ts := brokerExposition(t)
	cat, err := LoadCatalog(context.Background(), http.DefaultClient, ts.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, rule string
		sev        Severity
		f          func(d map[string]any)
	}{
		{"no uid", RuleUID, SeverityError, func(d map[string]any) { delete(d, "uid") }},
		{"long uid", RuleUID, SeverityError, func(d map[string]any) { d["uid"] = strings.Repeat("u", 41) }},
		{"duplicate panel id", RulePanelID, SeverityError, func(d map[string]any) { panelAt(d, 1)["id"] = 1 }},
		{"missing panel id", RulePanelID, SeverityError, func(d map[string]any) { delete(panelAt(d, 1), "id") }},
		{"wider than 24", RuleGridPos, SeverityError, func(d map[string]any) { panelAt(d, 5)["gridPos"].(map[string]any)["x"] = 13 }},
		{"hard-coded datasource uid", RuleDatasource, SeverityError, func(d map[string]any) {
			panelAt(d, 4)["datasource"] = map[string]any{"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
		}},
		{"datasource by name", RuleDatasource, SeverityError, func(d map[string]any) { target(d, 4)["datasource"] = "Prometheus" }},
		{"undefined datasource variable", RuleDatasource, SeverityError, func(d map[string]any) {
			panelAt(d, 4)["datasource"] = map[string]any{"type": "prometheus", "uid": "${ds}"}
		}},
		{"no datasource anywhere", RuleDatasource, SeverityError, func(d map[string]any) {
			delete(panelAt(d, 4), "datasource")
			delete(target(d, 4), "datasource")
			delete(panelAt(d, 4)["targets"].([]any)[1].(map[string]any), "datasource")
		}},
		{"time series without unit", RuleUnit, SeverityError, func(d map[string]any) {
			panelAt(d, 5)["fieldConfig"] = map[string]any{"defaults": map[string]any{}}
		}},
		{"stat without unit", RuleUnit, SeverityWarning, func(d map[string]any) {
			panelAt(d, 0)["fieldConfig"] = map[string]any{"defaults": map[string]any{}}
		}},
		{"no description", RuleDescription, SeverityWarning, func(d map[string]any) { panelAt(d, 6)["description"] = "" }},
		{"syntax error", RulePromQL, SeverityError, func(d map[string]any) {
			target(d, 6)["expr"] = `sum by (priority) (rate(broker_messages_routed_total[$__rate_interval])`
		}},
		{"unknown macro stays and fails", RulePromQL, SeverityError, func(d map[string]any) { target(d, 6)["expr"] = `rate(broker_messages_routed_total[$__nope])` }},
		{"raw counter", RuleCounterRate, SeverityError, func(d map[string]any) { target(d, 6)["expr"] = `sum(broker_messages_routed_total)` }},
		{"raw histogram bucket (typed by the exposition)", RuleCounterRate, SeverityError, func(d map[string]any) {
			target(d, 12)["expr"] = `histogram_quantile(0.5, sum by (le) (broker_http_request_duration_seconds_bucket))`
		}},
		{"rate over a gauge", RuleRateGauge, SeverityError, func(d map[string]any) { target(d, 9)["expr"] = `max(rate(broker_queue_depth[5m]))` }},
		{"metric that does not exist", RuleMetricExists, SeverityError, func(d map[string]any) { target(d, 9)["expr"] = `max(broker_queue_length)` }},
		{"label that does not exist", RuleLabelExists, SeverityError, func(d map[string]any) {
			target(d, 6)["expr"] = `sum(rate(broker_messages_routed_total{kind="x"}[5m]))`
		}},
		{"grouping label that does not exist", RuleLabelExists, SeverityError, func(d map[string]any) {
			target(d, 6)["expr"] = `sum by (reason) (rate(broker_messages_routed_total[5m]))`
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := mutate(t, cat, tc.f)
			if len(fs) != 1 {
				t.Fatalf("want exactly one %s finding, got %d: %v", tc.rule, len(fs), fs)
			}
			f := fs[0]
			if f.Rule != tc.rule || f.Severity != tc.sev || f.Fix == "" || f.Message == "" {
				t.Errorf("got %+v, want rule %s severity %s with a message and a fix", f, tc.rule, tc.sev)
			}
			if tc.rule != RuleUID && f.Panel == "" {
				t.Errorf("finding names no panel: %+v", f)
			}
			if HasErrors(fs) != (tc.sev == SeverityError) {
				t.Errorf("HasErrors = %v for a %s", HasErrors(fs), tc.sev)
			}
		})
	}
}

func TestMetricSuggestion(t *testing.T) {
	ts := brokerExposition(t)
	cat, err := LoadCatalog(context.Background(), http.DefaultClient, ts.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	fs := mutate(t, cat, func(d map[string]any) { target(d, 9)["expr"] = `max(broker_queue_dept)` })
	if len(fs) != 1 || !strings.Contains(fs[0].Message, "did you mean broker_queue_depth?") {
		t.Errorf("want a suggestion of broker_queue_depth, got %v", fs)
	}
}

// Without --metrics, unknown names pass (only the exposition can say).
func TestNoCatalogNoNameRules(t *testing.T) {
	fs := mutate(t, nil, func(d map[string]any) { target(d, 9)["expr"] = `max(broker_queue_length{nope="1"})` })
	if len(fs) != 0 {
		t.Errorf("got %v", fs)
	}
}

func TestUIDUniqueAcrossFiles(t *testing.T) {
	data := brokerJSON(t)
	fs := Lint([]File{{"a.json", data}, {"b.json", data}}, Options{})
	if len(fs) != 1 || fs[0].Rule != RuleUID || fs[0].File != "b.json" || !strings.Contains(fs[0].Message, "a.json") {
		t.Errorf("got %v", fs)
	}
}

func TestInvalidJSON(t *testing.T) {
	fs := Lint([]File{{"bad.json", []byte(`{"uid": "x",`)}}, Options{})
	if len(fs) != 1 || fs[0].Rule != RuleJSON || fs[0].Severity != SeverityError {
		t.Errorf("got %v", fs)
	}
}

// Expand substitutes every macro and variable form, and the result parses.
func TestExpand(t *testing.T) {
	vars := map[string]string{"job": "broker", "route": "GET /health"}
	cases := map[string]string{
		`rate(x_total{job=~"$job"}[$__rate_interval])`:     `rate(x_total{job=~"broker"}[1m])`,
		`rate(x_total{job=~"${job}"}[$__interval])`:        `rate(x_total{job=~"broker"}[30s])`,
		`increase(x_total{job=~"${job:regex}"}[$__range])`: `increase(x_total{job=~"broker"}[5m])`,
		`rate(x_total{route="[[route]]"}[5m])`:             `rate(x_total{route="GET /health"}[5m])`,
		`rate(x_total{job="$unknown"}[5m])`:                `rate(x_total{job="$unknown"}[5m])`,
		`x / ($__interval_ms / 1000) + $__range_s`:         `x / (30000 / 1000) + 300`,
	}
	for in, want := range cases {
		if got := Expand(in, vars); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}

// A saved exposition file works like a URL, and histogram families become
// their _bucket/_sum/_count series.
func TestCatalogFromFile(t *testing.T) {
	ts := brokerExposition(t)
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	path := t.TempDir() + "/metrics.txt"
	f, _ := os.Create(path)
	if _, err := f.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cat, err := LoadCatalog(context.Background(), nil, path)
	if err != nil {
		t.Fatal(err)
	}
	for name, label := range map[string]string{
		"broker_http_request_duration_seconds_bucket": "le",
		"broker_http_request_duration_seconds_count":  "route",
		"broker_connections_rejected_total":           "reason",
	} {
		ls, ok := cat.lookup(name)
		if !ok || !ls[label] {
			t.Errorf("%s with label %s missing from the catalog", name, label)
		}
	}
	if _, ok := cat.lookup("broker_http_request_duration_seconds"); ok {
		t.Error("a histogram family's bare name is not a series")
	}
	if _, err := ParseExposition(strings.NewReader("this is { not an exposition\n")); err == nil {
		t.Error("garbage parsed as an exposition")
	}
}

// Upstream's dashboard has a panel that was empty from the start: it
// rates broker_connections_rejected, a name the broker never exposed (the
// counter is broker_connections_rejected_total). Without --metrics the
// name's shape gives it away; with the broker's exposition it is an error
// naming the right series.
func TestUpstreamEmptyPanel(t *testing.T) {
	dash := []byte(`{"uid": "u", "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]},
	  "panels": [{"id": 7, "type": "timeseries", "title": "Connections rejected / sec", "description": "d",
	    "datasource": {"uid": "${datasource}"}, "gridPos": {"h": 8, "w": 12, "x": 0, "y": 0},
	    "fieldConfig": {"defaults": {"unit": "cps"}},
	    "targets": [{"refId": "A", "expr": "sum(rate(broker_connections_rejected[1m])) by (reason)"}]}]}`)
	fs := Lint([]File{{"upstream.json", dash}}, Options{})
	if len(fs) != 1 || fs[0].Rule != RuleRateGauge || fs[0].Severity != SeverityWarning || fs[0].Panel != "Connections rejected / sec" {
		t.Errorf("without --metrics: %v", fs)
	}
	ts := brokerExposition(t)
	cat, err := LoadCatalog(context.Background(), http.DefaultClient, ts.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	fs = Lint([]File{{"upstream.json", dash}}, Options{Metrics: cat})
	if len(fs) != 1 || fs[0].Rule != RuleMetricExists || !strings.Contains(fs[0].Message, "did you mean broker_connections_rejected_total?") {
		t.Errorf("with the broker's exposition: %v", fs)
	}
}
