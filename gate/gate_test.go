package gate

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// reply is one scripted answer of the fake broker.
type reply struct {
	status     int
	body       any // marshalled to JSON; a string is written as is
	retryAfter string
	delay      time.Duration
}

func ready(version, commit, applied string) reply {
	return reply{200, map[string]any{"status": "ready", "version": version, "commit": commit, "gitSha": commit,
		"schema": map[string]any{"applied": applied}}, "", 0}
}

func notReady(reason string) reply {
	return reply{503, map[string]any{"status": "not_ready", "reason": reason, "schema": map[string]any{}}, "", 0}
}

// script serves replies in order, repeating the last one.
func script(t *testing.T, tls bool, replies ...reply) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health/ready" {
			http.NotFound(w, r)
			return
		}
		i := int(n.Add(1)) - 1
		rp := replies[min(i, len(replies)-1)]
		if rp.delay > 0 {
			select {
			case <-time.After(rp.delay):
			case <-r.Context().Done():
				return
			}
		}
		if rp.retryAfter != "" {
			w.Header().Set("Retry-After", rp.retryAfter)
		}
		w.WriteHeader(rp.status)
		if s, ok := rp.body.(string); ok {
			w.Write([]byte(s))
		} else {
			json.NewEncoder(w).Encode(rp.body)
		}
	})
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close)
	return ts, &n
}

// waits records the pauses Ready asks for and sleeps 1 ms instead.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return sleep(ctx, time.Millisecond)
}

const sha = "0123456789abcdef0123456789abcdef01234567"

func TestReady(t *testing.T) {
	closedPort := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr
	}()
	cases := []struct {
		name      string
		url       string // overrides the fake server
		tls       bool
		replies   []reply
		cfg       func(*Config)
		wantClass Class // ClassReady: Ready returns nil
		attempts  int   // 0: do not check
	}{
		{"three ready in a row", "", false, []reply{ready("1.0", sha, "0003_x.sql")}, nil, ClassReady, 3},
		{"not yet listening", closedPort, false, nil, nil, ClassRefused, 0},
		{"DNS failure", "http://broker.invalid:8080", false, nil, nil, ClassDNS, 0},
		{"TLS failure: unknown authority", "", true, []reply{ready("1.0", sha, "x")}, nil, ClassTLS, 0},
		{"slow responses time out", "", false, []reply{{200, "{}", "", 2 * time.Second}},
			func(c *Config) { c.AttemptTimeout = 50 * time.Millisecond }, ClassTimeout, 0},
		{"plain 502 from a proxy", "", false, []reply{{502, "<html>bad gateway</html>", "", 0}}, nil, ClassHTTP, 0},
		{"200 that is not a health body", "", false, []reply{{200, "hello", "", 0}}, nil, ClassHTTP, 0},
		{"database down", "", false, []reply{notReady("database unreachable")}, nil, ClassDBDown, 0},
		{"expected migration missing (broker's reason)", "", false, []reply{notReady("migration 0009_x.sql is not applied")}, nil, ClassMigration, 0},
		{"draining", "", false, []reply{notReady("draining")}, nil, ClassDraining, 0},
		{"startup migration running", "", false, []reply{notReady("startup migration not finished")}, nil, ClassNotReady, 0},
		{"wrong version", "", false, []reply{ready("1.0", sha, "x")},
			func(c *Config) { c.ExpectVersion = "fedcba9876" }, ClassVersion, 0},
		{"version by commit prefix", "", false, []reply{ready("1.0", sha, "x")},
			func(c *Config) { c.ExpectVersion = sha[:7] }, ClassReady, 3},
		{"version by full commit", "", false, []reply{ready("1.0", sha, "x")},
			func(c *Config) { c.ExpectVersion = strings.ToUpper(sha) }, ClassReady, 3},
		{"a 6-digit prefix is not enough", "", false, []reply{ready("1.0", sha, "x")},
			func(c *Config) { c.ExpectVersion = sha[:6] }, ClassVersion, 0},
		{"expected migration not yet applied (gate's check)", "", false, []reply{ready("1.0", sha, "0003_x.sql")},
			func(c *Config) { c.ExpectMigration = "migrations/0004_y.sql" }, ClassMigration, 0},
		{"expected migration applied before the newest", "", false, []reply{ready("1.0", sha, "0003_x.sql")},
			func(c *Config) { c.ExpectMigration = "/src/migrations/0002_w.sql" }, ClassReady, 3},
		{"dirty schema", "", false, []reply{{200, map[string]any{"status": "ready", "schema": map[string]any{"dirty": true}}, "", 0}},
			func(c *Config) { c.ExpectSchemaClean = true }, ClassDirty, 0},
		{"flapping then steady", "", false, []reply{ready("1", sha, "x"), notReady("database unreachable"), ready("1", sha, "x"),
			notReady("draining"), ready("1", sha, "x")}, nil, ClassReady, 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url
			if url == "" {
				ts, _ := script(t, tc.tls, tc.replies...)
				url = ts.URL
			}
			w := &waits{}
			var seen []Attempt
			cfg := Config{URL: url, Timeout: 400 * time.Millisecond, Interval: 10 * time.Millisecond, AttemptTimeout: 2 * time.Second,
				Sleep: w.sleep, OnAttempt: func(a Attempt) { seen = append(seen, a) }}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			res, err := Ready(context.Background(), cfg)
			if tc.wantClass == ClassReady {
				if err != nil || !res.Ready {
					t.Fatalf("want ready, got %v (%+v)", err, res)
				}
			} else {
				var ge *Error
				if !errors.As(err, &ge) || ge.Class != tc.wantClass {
					t.Fatalf("want class %s, got %v", tc.wantClass, err)
				}
				if res.Ready || res.LastFailure != tc.wantClass {
					t.Errorf("result %+v", res)
				}
			}
			if tc.attempts > 0 && res.Attempts != tc.attempts {
				t.Errorf("%d attempts, want %d", res.Attempts, tc.attempts)
			}
			if len(seen) != res.Attempts {
				t.Errorf("OnAttempt called %d times for %d attempts", len(seen), res.Attempts)
			}
			for i, a := range seen {
				if a.N != i+1 || a.Detail == "" {
					t.Errorf("attempt %d: %+v", i+1, a)
				}
			}
			if last := seen[len(seen)-1]; last.Next != 0 {
				t.Errorf("the last attempt announces a next one in %s", last.Next)
			}
		})
	}
}

// A 503 with Retry-After (seconds, or an HTTP date) sets the next wait;
// the gate still waits for the successes it needs.
func TestRetryAfter(t *testing.T) {
	for _, ra := range []string{"1", time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)} {
		ts, _ := script(t, false, reply{503, map[string]any{"status": "not_ready", "reason": "draining"}, ra, 0}, ready("1", sha, "x"))
		w := &waits{}
		var first Attempt
		res, err := Ready(context.Background(), Config{URL: ts.URL, Timeout: 10 * time.Second, Interval: 10 * time.Millisecond,
			Successes: 2, Sleep: w.sleep, OnAttempt: func(a Attempt) {
				if a.N == 1 {
					first = a
				}
			}})
		if err != nil || res.Attempts != 3 {
			t.Fatalf("Retry-After %q: %v, %+v", ra, err, res)
		}
		if !first.RetryAfter || first.Next < 500*time.Millisecond || first.Next > 2*time.Second || w.d[0] != first.Next {
			t.Errorf("Retry-After %q: first wait %s (from header: %v), slept %v", ra, first.Next, first.RetryAfter, w.d)
		}
		if w.d[1] != 10*time.Millisecond {
			t.Errorf("after a success the pause is the interval, got %s", w.d[1])
		}
	}
}

// Retry-After longer than the time left: the last attempt happens at the
// deadline instead of sleeping past it.
func TestRetryAfterCappedByTimeout(t *testing.T) {
	ts, _ := script(t, false, reply{503, "", "3600", 0})
	w := &waits{}
	_, err := Ready(context.Background(), Config{URL: ts.URL, Timeout: 300 * time.Millisecond, Interval: 10 * time.Millisecond, Sleep: w.sleep})
	var ge *Error
	if !errors.As(err, &ge) || ge.Class != ClassHTTP {
		t.Fatalf("got %v", err)
	}
	if len(w.d) == 0 || w.d[0] > 300*time.Millisecond {
		t.Errorf("waits %v exceed the timeout", w.d)
	}
}

// Strictly alternating answers never reach 2 in a row; the verdict is the
// last failure's class.
func TestFlappingNeverPasses(t *testing.T) {
	var n atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			w.WriteHeader(503)
			json.NewEncoder(w).Encode(map[string]any{"status": "not_ready", "reason": "database unreachable"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "ready"})
	}))
	defer ts.Close()
	w := &waits{}
	res, err := Ready(context.Background(), Config{URL: ts.URL, Timeout: 300 * time.Millisecond, Interval: 5 * time.Millisecond, Successes: 2, Sleep: w.sleep})
	var ge *Error
	if !errors.As(err, &ge) || ge.Class != ClassDBDown || res.Attempts < 4 {
		t.Fatalf("got %v after %d attempts", err, res.Attempts)
	}
}

// Backoff doubles from Interval up to MaxInterval, with full jitter.
func TestBackoff(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999} {
		c := Config{Interval: time.Second, MaxInterval: 8 * time.Second, Rand: func() float64 { return r }}
		prevMax := time.Duration(0)
		for n := 1; n <= 6; n++ {
			d := c.backoff(n)
			ceil := min(time.Second<<(n-1), 8*time.Second)
			if d < 500*time.Millisecond || d > ceil {
				t.Errorf("rand %.3f, failure %d: %s outside [0.5s, %s]", r, n, d, ceil)
			}
			if r > 0.99 && d < prevMax {
				t.Errorf("at the top of the jitter the wait shrank: %s < %s", d, prevMax)
			}
			prevMax = d
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, u := range []string{"", "broker:8080", "ftp://x/", "http://"} {
		_, err := Ready(context.Background(), Config{URL: u})
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("URL %q: want a ConfigError, got %v", u, err)
		}
	}
	_, err := Ready(context.Background(), Config{URL: "http://u:s3cret@x/", Interval: time.Second, MaxInterval: time.Millisecond})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("got %v", err)
	}
}

// The password of a URL never reaches the result.
func TestRedact(t *testing.T) {
	ts, _ := script(t, false, ready("1", sha, "x"))
	u := strings.Replace(ts.URL, "http://", "http://ops:s3cret@", 1)
	res, err := Ready(context.Background(), Config{URL: u, Successes: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	if strings.Contains(string(b), "s3cret") {
		t.Errorf("password in %s", b)
	}
}

func TestContextCancel(t *testing.T) {
	ts, _ := script(t, false, notReady("draining"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := Ready(ctx, Config{URL: ts.URL, Interval: 20 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v", err)
	}
}

// An expected migration that is not a migration file's name is refused:
// by name order "." (from "./$UNSET") or a bare version would pass.
func TestExpectMigrationMustBeAFileName(t *testing.T) {
	for _, m := range []string{"./", ".", "0004", "notes.txt", "migrations/"} {
		_, err := Ready(context.Background(), Config{URL: "http://x/", ExpectMigration: m})
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("ExpectMigration %q: want a ConfigError, got %v", m, err)
		}
	}
}

// Only a full SHA may extend the broker's short commit; a longer prefix
// that is not one must not match.
func TestVersionMatchesFullSHAOnly(t *testing.T) {
	for _, c := range []struct {
		expect, commit string
		want           bool
	}{
		{"abc1234", "abc1234def", true},
		{"ABC1234DEF", "abc1234def", true},
		{"abc1234def" + strings.Repeat("0", 30), "abc1234def", true},
		{"ABC1234DEF99999", "abc1234def", false},
		{"abc1234def" + strings.Repeat("z", 30), "abc1234def", false},
		{"abc123", "abc1234def", false},
	} {
		if got := versionMatches(c.expect, "v1", c.commit); got != c.want {
			t.Errorf("versionMatches(%q, commit %q) = %v, want %v", c.expect, c.commit, got, c.want)
		}
	}
}

// A URL that does not parse, or carries a query, is still shown without
// what may be a password or a token.
func TestRedactUnparseableAndQuery(t *testing.T) {
	for _, u := range []string{"http://ops:S3cretPW@broker.internal:80a/", "http://ops:S3cret PW@broker/", "http://ops:S3cretPW@b@roker:x/"} {
		_, err := Ready(context.Background(), Config{URL: u})
		if err == nil || strings.Contains(err.Error(), "S3cret") || strings.Contains(err.Error(), " PW") {
			t.Errorf("%q: %v", u, err)
		}
	}
	for _, u := range []string{"http://broker/health/ready?token=S3cretPW", "http://ops:S3cretPW@broker/?a=b&token=S3cretPW"} {
		if r := Redact(u); strings.Contains(r, "S3cret") {
			t.Errorf("Redact(%q) = %q", u, r)
		}
	}
}
