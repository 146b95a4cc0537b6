package broker

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestMetricLabelsBounded: client-chosen methods and paths create no
// series beyond the fixed label sets.
func TestMetricLabelsBounded(t *testing.T) {
	e := newEnv(t, nil)
	for i := 0; i < 40; i++ {
		m := "INVENTED" + strconv.Itoa(i)
		for _, path := range []string{"/", "/v1/meshes", "/no/such/route/" + strings.Repeat("x", i), "/v1/topics/t" + strconv.Itoa(i) + "/key"} {
			req, err := http.NewRequest(m, e.base+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	e.do("get", "/health", "", nil) // methods are case-sensitive: "other"
	label := regexp.MustCompile(`(\w+)="([^"]*)"`)
	routes := map[string]bool{}
	var others float64
	for series, v := range e.metricValues() {
		if !strings.HasPrefix(series, "broker_http_requests_total{") {
			continue
		}
		for _, l := range label.FindAllStringSubmatch(series, -1) {
			switch l[1] {
			case "method":
				if !slices.Contains(methodLabels, l[2]) {
					t.Errorf("method label %q outside the fixed set: %s", l[2], series)
				}
				if l[2] == "other" {
					others += v
				}
			case "route":
				routes[l[2]] = true
			}
		}
	}
	if others != 161 {
		t.Errorf("%v requests counted as method other, want 161", others)
	}
	for r := range routes {
		if strings.Contains(r, "xx") || regexp.MustCompile(`/t[0-9]`).MatchString(r) {
			t.Errorf("route label from the request path: %q", r)
		}
	}
}
