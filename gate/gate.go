// Package gate decides whether a deployed broker may be promoted.
//
// Ready polls the broker's /health/ready until it has answered "ready" K
// times in a row, with everything the caller expects (version, migration,
// clean schema), or until the overall timeout. Failed attempts back off
// exponentially with full jitter (capped at MaxInterval) and honour
// Retry-After; each attempt has its own timeout. Every failed attempt is
// classified (Class), and the last class is the verdict a pipeline
// branches on.
//
// Migrations gives the same verdict about the expected migration from the
// tracking table itself, for pipelines that reach the database but not the
// broker.
//
// The package returns data and typed errors; it never prints. Callers see
// every attempt through Config.OnAttempt.
package gate

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Class names why an attempt failed (or "ready").
type Class string

const (
	ClassReady      Class = "ready"
	ClassRefused    Class = "connection_refused" // nothing listens on the port
	ClassDNS        Class = "dns"                // the host name does not resolve
	ClassTLS        Class = "tls"                // handshake or certificate failure
	ClassTimeout    Class = "attempt_timeout"    // no complete answer within the attempt timeout
	ClassHTTP       Class = "http_error"         // 5xx or another non-200 status without a not_ready body
	ClassDBDown     Class = "db_down"            // not_ready: database unreachable
	ClassMigration  Class = "migration_missing"  // the expected migration is not applied
	ClassDraining   Class = "draining"           // not_ready: the broker is shutting down
	ClassNotReady   Class = "not_ready"          // not_ready for another reason (startup migration running)
	ClassVersion    Class = "version_mismatch"   // another version answers
	ClassDirty      Class = "schema_dirty"       // the broker reports a dirty schema
	ClassConnection Class = "connection_error"   // any other transport failure (reset, EOF)
)

// Health is what /health/ready returns (the reference broker's body).
type Health struct {
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	DB      string `json:"db"`
	Version string `json:"version"`
	Commit  string `json:"commit"`
	GitSHA  string `json:"gitSha"`
	Schema  struct {
		Applied  string `json:"applied"`
		Required string `json:"required"`
		Dirty    bool   `json:"dirty"`
	} `json:"schema"`
}

// Config of a Ready run. Zero durations and counts take the defaults.
type Config struct {
	URL               string        // the broker's base URL or its /health/ready URL
	Timeout           time.Duration // overall; default 5m
	Interval          time.Duration // first backoff step and the pause between successes; default 2s
	MaxInterval       time.Duration // backoff cap; default 16 × Interval
	AttemptTimeout    time.Duration // per attempt; default 10s
	Successes         int           // consecutive ready answers needed; default 3
	ExpectVersion     string        // commit SHA (or a prefix of at least 7) or version string; "" accepts any
	ExpectMigration   string        // migration file (path or name); "" accepts any
	ExpectSchemaClean bool          // a dirty schema fails the attempt
	Client            *http.Client  // default: a client with no overall timeout
	OnAttempt         func(Attempt) // called after every attempt
	// Sleep waits d or until ctx ends (tests replace it); Rand returns
	// [0,1) for jitter.
	Sleep func(ctx context.Context, d time.Duration) error
	Rand  func() float64
}

// Attempt is one probe.
type Attempt struct {
	N           int           `json:"n"`
	Class       Class         `json:"class"`
	Status      int           `json:"status,omitempty"` // HTTP status; 0 without a response
	Detail      string        `json:"detail"`
	Elapsed     time.Duration `json:"elapsed_ns"`  // this attempt's duration
	Consecutive int           `json:"consecutive"` // ready answers in a row so far
	Next        time.Duration `json:"next_ns"`     // wait before the next attempt; 0 after the last
	RetryAfter  bool          `json:"retry_after"` // Next came from Retry-After
	Health      *Health       `json:"-"`
	retry       string        // the Retry-After header
}

// Result summarises a run.
type Result struct {
	Ready       bool          `json:"ready"`
	Attempts    int           `json:"attempts"`
	Elapsed     time.Duration `json:"-"`
	ElapsedSec  float64       `json:"elapsed_seconds"`
	LastClass   Class         `json:"last_class"`
	LastFailure Class         `json:"last_failure,omitempty"` // the last failed attempt's class, even after successes
	Detail      string        `json:"detail,omitempty"`
	Version     string        `json:"observed_version,omitempty"`
	Commit      string        `json:"observed_commit,omitempty"`
	Migration   string        `json:"observed_migration,omitempty"`
	URL         string        `json:"url"`
}

// Error is a gate that did not open: the class of the last failure.
type Error struct {
	Class  Class
	Detail string
}

func (e *Error) Error() string { return fmt.Sprintf("not ready: %s: %s", e.Class, e.Detail) }

// ConfigError is a Config that cannot be run (bad URL, nonsense numbers).
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

func (c *Config) defaults() error {
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Minute
	}
	if c.Interval == 0 {
		c.Interval = 2 * time.Second
	}
	if c.MaxInterval == 0 {
		c.MaxInterval = 16 * c.Interval
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = 10 * time.Second
	}
	if c.Successes == 0 {
		c.Successes = 3
	}
	if c.Client == nil {
		c.Client = &http.Client{Transport: defaultTransport()}
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.Timeout < 0 || c.Interval < 0 || c.AttemptTimeout < 0 || c.Successes < 0 || c.MaxInterval < c.Interval {
		return &ConfigError{"timeouts, intervals and the number of successes must be positive (and the backoff cap at least the interval)"}
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &ConfigError{fmt.Sprintf("the broker URL must be an http or https URL, got %q", Redact(c.URL))}
	}
	if !strings.HasSuffix(u.Path, "/health/ready") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/health/ready"
	}
	c.URL = u.String()
	if c.ExpectMigration != "" {
		c.ExpectMigration = filepath.Base(c.ExpectMigration)
		// Name order decides coverage, so anything else ("." from an
		// unset variable in "./$MIG", a bare version) would pass.
		if !migrationName.MatchString(c.ExpectMigration) {
			return &ConfigError{fmt.Sprintf("the expected migration %q is not a migration file name (NNNN_name.sql)", c.ExpectMigration)}
		}
	}
	return nil
}

// migrationName is the shape of a migration file's name.
var migrationName = regexp.MustCompile(`^[0-9]+_[^/]*\.sql$`)

// defaultTransport is http.DefaultTransport's copy with a dialer that
// answers names under .invalid at once, as RFC 6761 §6.4 asks of
// resolution libraries (Go's resolver would ask the network).
func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err == nil {
			h := strings.ToLower(strings.TrimSuffix(host, "."))
			if h == "invalid" || strings.HasSuffix(h, ".invalid") {
				return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
			}
		}
		return d.DialContext(ctx, network, addr)
	}
	return t
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Ready polls until the broker is ready Successes times in a row. It
// returns the summary and nil, or the summary and an *Error naming the last
// failure's class; a *ConfigError before any attempt; ctx's error when ctx
// ends first.
func Ready(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	start := time.Now()
	deadline := start.Add(cfg.Timeout)
	res := &Result{URL: Redact(cfg.URL)}
	consecutive, failures := 0, 0
	for {
		res.Attempts++
		a := cfg.attempt(ctx)
		a.N = res.Attempts
		if h := a.Health; h != nil {
			res.Version, res.Commit, res.Migration = h.Version, h.Commit, h.Schema.Applied
			if res.Commit == "" {
				res.Commit = h.GitSHA
			}
		}
		res.LastClass, res.Detail = a.Class, a.Detail
		var wait time.Duration
		if a.Class == ClassReady {
			consecutive++
			failures = 0
			wait = cfg.Interval
		} else {
			consecutive = 0
			failures++
			res.LastFailure = a.Class
			wait = cfg.backoff(failures)
		}
		a.Consecutive = consecutive
		if ra, ok := a.retryAfter(); ok && a.Class != ClassReady {
			wait, a.RetryAfter = ra, true
		}
		done := consecutive >= cfg.Successes
		left := time.Until(deadline)
		if !done && (left <= 0 || ctx.Err() != nil) {
			wait = 0
		} else if !done && wait > left {
			wait = left // one last attempt at the deadline
		}
		if done {
			wait = 0
		}
		a.Next = wait
		if cfg.OnAttempt != nil {
			cfg.OnAttempt(a)
		}
		res.Elapsed = time.Since(start)
		res.ElapsedSec = res.Elapsed.Seconds()
		if done {
			res.Ready = true
			return res, nil
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if left <= 0 {
			class := res.LastFailure
			if class == "" {
				class = ClassTimeout
			}
			return res, &Error{Class: class, Detail: fmt.Sprintf("%d ready in a row needed, %d after %s (%d attempts): %s",
				cfg.Successes, consecutive, cfg.Timeout, res.Attempts, res.Detail)}
		}
		if err := cfg.Sleep(ctx, wait); err != nil {
			res.Elapsed = time.Since(start)
			res.ElapsedSec = res.Elapsed.Seconds()
			return res, err
		}
	}
}

// backoff is the wait after the n-th consecutive failure: full jitter over
// Interval × 2^(n-1), capped at MaxInterval, never below Interval/2.
func (c *Config) backoff(n int) time.Duration {
	d := c.Interval
	for i := 1; i < n && d < c.MaxInterval; i++ {
		d *= 2
	}
	d = min(d, c.MaxInterval)
	lo := c.Interval / 2
	return lo + time.Duration(c.Rand()*float64(d-lo))
}

// attempt probes once.
func (c *Config) attempt(ctx context.Context) Attempt {
	begin := time.Now()
	a := c.probe(ctx)
	a.Elapsed = time.Since(begin)
	return a
}

func (c *Config) probe(ctx context.Context) Attempt {
	actx, cancel := context.WithTimeout(ctx, c.AttemptTimeout)
	defer cancel()
	a := Attempt{}
	req, err := http.NewRequestWithContext(actx, http.MethodGet, c.URL, nil)
	if err != nil {
		a.Class, a.Detail = ClassConnection, err.Error()
		return a
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Client.Do(req)
	if err != nil {
		a.Class, a.Detail = classifyTransport(actx, err)
		return a
	}
	defer resp.Body.Close()
	a.Status = resp.StatusCode
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		a.Class, a.Detail = classifyTransport(actx, err)
		return a
	}
	a.retry = resp.Header.Get("Retry-After")
	var h Health
	parsed := json.Unmarshal(body, &h) == nil && h.Status != ""
	if parsed {
		a.Health = &h
	}
	switch {
	case parsed && h.Status == "not_ready":
		a.Class, a.Detail = notReadyClass(h.Reason), fmt.Sprintf("HTTP %d not_ready: %s", resp.StatusCode, h.Reason)
	case resp.StatusCode != http.StatusOK:
		a.Class, a.Detail = ClassHTTP, fmt.Sprintf("HTTP %d", resp.StatusCode)
		if s := strings.TrimSpace(string(body)); s != "" && !parsed {
			a.Detail += ": " + firstLine(s, 120)
		}
	case !parsed || h.Status != "ready":
		a.Class, a.Detail = ClassHTTP, fmt.Sprintf("HTTP %d without a ready status", resp.StatusCode)
	default:
		a.Class, a.Detail = c.verdict(&h)
	}
	return a
}

// verdict checks a "ready" answer against what the caller expects.
func (c *Config) verdict(h *Health) (Class, string) {
	commit := h.Commit
	if commit == "" {
		commit = h.GitSHA
	}
	if c.ExpectVersion != "" && !versionMatches(c.ExpectVersion, h.Version, commit) {
		return ClassVersion, fmt.Sprintf("running version %q commit %q, expected %q", h.Version, commit, c.ExpectVersion)
	}
	if c.ExpectMigration != "" && !MigrationCovered(c.ExpectMigration, h.Schema.Applied) {
		applied := h.Schema.Applied
		if applied == "" {
			applied = "none"
		}
		return ClassMigration, fmt.Sprintf("migration %s is not applied (newest applied: %s)", c.ExpectMigration, applied)
	}
	if c.ExpectSchemaClean && h.Schema.Dirty {
		return ClassDirty, "the broker reports a dirty schema"
	}
	return ClassReady, fmt.Sprintf("version %s, commit %s, migration %s", h.Version, short(commit), h.Schema.Applied)
}

// MigrationCovered reports whether expected is applied when applied is the
// newest applied file: migration files apply in name order, so every file
// that sorts at or before the newest applied one is in.
func MigrationCovered(expected, applied string) bool {
	return applied != "" && filepath.Base(expected) <= applied
}

func versionMatches(expect, version, commit string) bool {
	if expect == version {
		return true
	}
	if commit == "" || len(expect) < 7 {
		return false
	}
	e, c := strings.ToLower(expect), strings.ToLower(commit)
	// Either the expected SHA is a prefix of the broker's commit, or a
	// full SHA (40 hex digits) starts with the broker's short commit.
	return strings.HasPrefix(c, e) || isFullSHA(e) && strings.HasPrefix(e, c) && len(c) >= 7
}

// isFullSHA reports whether s is a full git commit id (40 hex digits).
func isFullSHA(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 20
}

func notReadyClass(reason string) Class {
	r := strings.ToLower(reason)
	switch {
	case strings.Contains(r, "drain"):
		return ClassDraining
	case strings.Contains(r, "database"):
		return ClassDBDown
	case strings.Contains(r, "migration") && strings.Contains(r, "not applied"):
		return ClassMigration
	}
	return ClassNotReady
}

// classifyTransport names a failure to get a response.
func classifyTransport(actx context.Context, err error) (Class, string) {
	msg := err.Error()
	var dnsErr *net.DNSError
	var uaErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invErr x509.CertificateInvalidError
	var verErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case errors.As(err, &dnsErr):
		return ClassDNS, "cannot resolve " + dnsErr.Name + ": " + dnsErr.Err
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassRefused, "connection refused"
	case errors.As(err, &uaErr), errors.As(err, &hostErr), errors.As(err, &invErr), errors.As(err, &verErr),
		errors.As(err, &recErr), errors.As(err, &alert), strings.Contains(msg, "tls: "):
		return ClassTLS, "TLS: " + stripURL(msg)
	case errors.Is(actx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return ClassTimeout, "no answer within the attempt timeout"
	}
	return ClassConnection, stripURL(msg)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// stripURL drops the `Get "URL": ` prefix of url.Error messages (the URL
// is printed once elsewhere, redacted).
func stripURL(msg string) string {
	if i := strings.Index(msg, "\": "); i >= 0 && strings.HasPrefix(msg, "Get \"") {
		return msg[i+3:]
	}
	return msg
}

func (a *Attempt) retryAfter() (time.Duration, bool) {
	v := strings.TrimSpace(a.retry)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// Redact removes user information (a password) from a URL for output.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Unparseable (a space or a bad port, say): still never show what
		// may be credentials, up to the last '@', or a query.
		if i := strings.Index(raw, "://"); i >= 0 {
			if at := strings.LastIndexByte(raw[i+3:], '@'); at >= 0 {
				raw = raw[:i+3] + "xxxxx" + raw[i+3+at:]
			}
		}
		if q := strings.IndexByte(raw, '?'); q >= 0 {
			raw = raw[:q] + "?xxxxx"
		}
		return raw
	}
	u.User = nil
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery, u.ForceQuery = "xxxxx", false // a token, perhaps
	}
	return u.String()
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func firstLine(s string, n int) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
