package dashboards

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Catalog is the set of series names, and their labels, that a target
// exposes, as Prometheus stores them after a scrape: a histogram family h
// becomes h_bucket (with le), h_sum and h_count; a summary s becomes s
// (with quantile), s_sum and s_count.
type Catalog struct {
	labels  map[string]map[string]bool
	counter map[string]bool // series that only grow (counters, histogram and summary parts)
}

// promSeries are series Prometheus records for every target itself.
var promSeries = []string{"up", "scrape_duration_seconds", "scrape_samples_scraped",
	"scrape_samples_post_metric_relabeling", "scrape_series_added"}

// ParseExposition reads a Prometheus text exposition (what /metrics
// returns for Accept: text/plain).
func ParseExposition(r io.Reader) (*Catalog, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("exposition: %w", err)
	}
	c := &Catalog{labels: map[string]map[string]bool{}, counter: map[string]bool{}}
	add := func(name string, counter bool, m *dto.Metric, extra ...string) {
		ls := c.labels[name]
		if ls == nil {
			ls = map[string]bool{}
			c.labels[name] = ls
		}
		for _, lp := range m.GetLabel() {
			ls[lp.GetName()] = true
		}
		for _, e := range extra {
			ls[e] = true
		}
		if counter {
			c.counter[name] = true
		}
	}
	for name, f := range fams {
		ms := f.GetMetric()
		if len(ms) == 0 {
			ms = []*dto.Metric{{}}
		}
		for _, m := range ms {
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				add(name+"_bucket", true, m, "le")
				add(name+"_sum", true, m)
				add(name+"_count", true, m)
			case dto.MetricType_SUMMARY:
				add(name, false, m, "quantile")
				add(name+"_sum", true, m)
				add(name+"_count", true, m)
			case dto.MetricType_COUNTER:
				add(name, true, m)
			default:
				add(name, false, m)
			}
		}
	}
	for _, s := range promSeries {
		c.labels[s] = map[string]bool{}
	}
	return c, nil
}

// LoadCatalog reads an exposition from a live /metrics URL (http or https)
// or from a saved file.
func LoadCatalog(ctx context.Context, client *http.Client, source string) (*Catalog, error) {
	if strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://") {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, source, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "text/plain;version=0.0.4")
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: HTTP %d", redact(source), resp.StatusCode)
		}
		return ParseExposition(io.LimitReader(resp.Body, 64<<20))
	}
	f, err := os.Open(source)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseExposition(f)
}

// redact drops user information from a URL for messages.
func redact(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.Index(u[i+3:], "@"); j >= 0 && !strings.Contains(u[i+3:i+3+j], "/") {
			return u[:i+3] + u[i+3+j+1:]
		}
	}
	return u
}

// Names returns the catalog's series names, sorted.
func (c *Catalog) Names() []string {
	out := make([]string, 0, len(c.labels))
	for n := range c.labels {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (c *Catalog) lookup(name string) (map[string]bool, bool) {
	if c == nil {
		return nil, false
	}
	ls, ok := c.labels[name]
	return ls, ok
}

// suggest names the closest existing series, for a misspelt metric.
func (c *Catalog) suggest(name string) string {
	best, bestD := "", 1<<30
	for _, n := range c.Names() {
		if d := distance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" && bestD <= len(name)/3 {
		return " (did you mean " + best + "?)"
	}
	return ""
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
