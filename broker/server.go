package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/claudemesh/meshctl/internal/dbconn"
	meshops "github.com/claudemesh/meshctl/mesh"
	"github.com/claudemesh/meshctl/migrate"
	"github.com/claudemesh/meshctl/migrations"
)

// AppName is the application_name the broker's sessions carry in
// pg_stat_activity.
const AppName = "claudemesh-broker"

// Server is one broker replica.
type Server struct {
	cfg     Config
	pool    *pgxpool.Pool
	log     *slog.Logger
	m       *metrics
	limit   *limiter
	hub     *hub
	started time.Time

	migrated  atomic.Bool // startup migration done (or skipped)
	draining  atomic.Bool
	lastDBLog atomic.Int64
	state     atomic.Pointer[dbState]

	touchMu sync.Mutex
	touched map[string]time.Time // api key id → last use, flushed off the request path

	// beforeRegister, when set (tests only), runs after a WebSocket's
	// hello is verified and before the hub knows the connection.
	beforeRegister atomic.Pointer[func(memberID string)]
}

// dbState is what the background probe last saw.
type dbState struct {
	Up      bool
	Err     string
	Applied string // newest file in the tracking table
	HasExp  bool   // EXPECTED_MIGRATION is in the tracking table
	Dirty   bool   // failed non-transactional file, changed or out-of-order file
	At      time.Time
}

// PoolConfig parses the DSN the broker's way: dbconn's defaults, the
// broker's application_name, and sessions in UTC so that timestamp columns
// defaulting to now() hold UTC wall time (SPEC §1).
func PoolConfig(dsn string) (*pgxpool.Config, error) {
	pc, err := dbconn.ParseConfig(dsn, AppName)
	if err != nil {
		return nil, err
	}
	pc.ConnConfig.RuntimeParams["timezone"] = "UTC"
	if pc.ConnConfig.ConnectTimeout > 5*time.Second {
		pc.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pc.MaxConns = 20
	return pc, nil
}

// New returns a Server on pool. It does not migrate or listen; see Run.
func New(cfg Config, pool *pgxpool.Pool, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = DefaultProbeInterval
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = DefaultRateBurst
	}
	if cfg.RatePerMin <= 0 {
		cfg.RatePerMin = DefaultRatePerMin
	}
	s := &Server{cfg: cfg, pool: pool, log: log, m: newMetrics(), limit: newLimiter(cfg.RateBurst, cfg.RatePerMin),
		started: time.Now(), touched: map[string]time.Time{}}
	s.hub = newHub(s)
	s.state.Store(&dbState{Err: "not probed yet"})
	return s
}

// Run is the whole broker: listen, migrate (unless skipped), probe, serve
// until ctx is cancelled (SIGTERM), then drain and return. A failed
// startup migration returns an error (the process must exit non-zero).
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pc, err := PoolConfig(cfg.DatabaseURL)
	if err != nil {
		return err
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc) // lazy: no connection yet
	if err != nil {
		return err
	}
	defer pool.Close()
	s := New(cfg, pool, log)

	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	log.Info("listening", "port", cfg.Port, "version", cfg.Version, "commit", cfg.Commit)

	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	go s.probeLoop(bg)
	go s.touchLoop(bg)
	go s.sweepLoop(bg)
	go s.hub.listen(bg)

	migErr := make(chan error, 1)
	go func() { migErr <- s.startupMigrate(ctx) }()

	for {
		select {
		case err := <-migErr:
			if err != nil {
				_ = hs.Close()
				return fmt.Errorf("startup migration: %w", err)
			}
			migErr = nil
		case err := <-serveErr:
			return fmt.Errorf("http server: %w", err)
		case <-ctx.Done():
			s.shutdown(hs)
			return nil
		}
	}
}

// startupMigrate waits (with backoff) until PostgreSQL accepts a
// connection, then applies the embedded migrations under package
// migrate's lock. Any migration failure is fatal (fail closed).
func (s *Server) startupMigrate(ctx context.Context) error {
	if s.cfg.SkipMigrate {
		s.log.Warn("BROKER_SKIP_MIGRATE=1: startup migration skipped")
		s.migrated.Store(true)
		return nil
	}
	conn, err := s.connectWithBackoff(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	r, err := migrate.NewWithConn(conn, migrations.FS, migrate.WithVersion("broker "+s.cfg.Version))
	if err != nil {
		return err
	}
	res, err := r.Up(ctx)
	if res != nil {
		for _, f := range res.Applied {
			s.log.Info("migration applied", "file", f.Filename, "ms", f.DurationMS)
		}
		for _, w := range res.Warnings {
			s.log.Warn("migration warning", "detail", w)
		}
	}
	if err != nil {
		return err
	}
	s.migrated.Store(true)
	s.probe(ctx)
	return nil
}

func (s *Server) connectWithBackoff(ctx context.Context) (*pgx.Conn, error) {
	deadline := time.Now().Add(s.cfg.StartupTimeout)
	wait := 200 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := pgx.ConnectConfig(cctx, s.pool.Config().ConnConfig.Copy())
		cancel()
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if time.Now().Add(wait).After(deadline) {
			return nil, fmt.Errorf("database not reachable within %s: %w", s.cfg.StartupTimeout, err)
		}
		s.log.Info("waiting for the database", "retry_in", wait.String())
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if wait *= 2; wait > 5*time.Second {
			wait = 5 * time.Second
		}
	}
}

// shutdown: readiness 503 first, then WebSockets closed with 1001, then
// in-flight HTTP requests drained.
func (s *Server) shutdown(hs *http.Server) {
	s.draining.Store(true)
	s.log.Info("draining", "delay", s.cfg.DrainDelay.String())
	time.Sleep(s.cfg.DrainDelay)
	s.hub.closeAll()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		s.log.Warn("shutdown", "err", err)
	}
	s.flushTouched(ctx)
	s.log.Info("stopped")
}

// Orphan sweep (SPEC §6): undelivered message_queue rows older than
// meshops.OrphanAge are deleted every SweepInterval, in short batches, by
// the same function as meshctl sweep orphans. Every replica sweeps; the
// DELETE is idempotent.
const SweepInterval = time.Hour

func (s *Server) sweepLoop(ctx context.Context) {
	every(ctx, SweepInterval, false, func() {
		if !s.ready() {
			return
		}
		if n, err := s.sweep(ctx); err != nil {
			s.log.Warn("orphan sweep failed", "err", err)
		} else if n > 0 {
			s.log.Info("orphan sweep", "deleted", n)
		}
	})
}

// every runs fn every d (first at once when now is set) until ctx ends.
func every(ctx context.Context, d time.Duration, now bool, fn func()) {
	if now {
		fn()
	}
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// sweep deletes undelivered queue rows older than OrphanAge.
func (s *Server) sweep(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return meshops.SweepOrphans(ctx, s.pool, meshops.OrphanAge, 1000, nil)
}

func (s *Server) probeLoop(ctx context.Context) {
	every(ctx, s.cfg.ProbeInterval, true, func() { s.probe(ctx) })
}

// probe checks the database and the tracking table, bounded in time.
func (s *Server) probe(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st := &dbState{At: time.Now()}
	err := s.probeSchema(ctx, st)
	if err != nil {
		st.Up = false
		st.Err = "database unreachable"
		s.m.dbHealthy.Set(0)
	} else {
		st.Up = true
		s.m.dbHealthy.Set(1)
	}
	prev := s.state.Swap(st)
	if prev.Up != st.Up {
		s.log.Info("database state", "up", st.Up)
	}
}

func (s *Server) probeSchema(ctx context.Context, st *dbState) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
		return err
	}
	var depth int64
	if err := c.QueryRow(ctx, `SELECT CASE WHEN to_regclass('mesh.message_queue') IS NULL THEN 0
		ELSE (SELECT count(*) FROM mesh.message_queue WHERE delivered_at IS NULL) END`).Scan(&depth); err == nil {
		s.m.queueDepth.Set(float64(depth))
	}
	r, err := migrate.NewWithConn(c.Conn(), migrations.FS)
	if err != nil {
		return nil
	}
	ms, err := r.Status(ctx)
	if err != nil {
		if ctx.Err() != nil || c.Conn().IsClosed() {
			return err
		}
		st.Dirty = true
		return nil
	}
	for _, f := range ms.Files {
		if f.AppliedSHA256 == "" {
			continue
		}
		if f.Filename > st.Applied {
			st.Applied = f.Filename
		}
		if f.Filename == s.cfg.ExpectedMigration {
			st.HasExp = true
		}
	}
	st.Dirty = ms.Counts[migrate.StateFailed]+ms.Counts[migrate.StateChanged]+ms.Counts[migrate.StateOutOfOrder] > 0
	return nil
}

// Handler returns the broker's HTTP routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.instrument(pattern, h)) }
	route("GET /health", s.handleHealth)
	route("GET /health/ready", s.handleReady)
	mux.Handle("GET /metrics", s.instrument("GET /metrics", promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{}).ServeHTTP))
	route("POST /v1/meshes", s.handleCreateMesh)
	route("POST /v1/members", s.auth(capAdmin, s.handleAddMember))
	route("POST /v1/topics", s.auth(capAdmin, s.handleCreateTopic))
	route("GET /v1/topics/{name}/key", s.auth(capRead, s.handleTopicKey))
	route("POST /v1/messages", s.auth(capSend, s.handlePostMessage))
	route("GET /v1/notifications", s.auth(capRead, s.handleListNotifications))
	route("POST /v1/notifications/read", s.auth(capRead, s.handleReadNotifications))
	route("POST /v1/apikeys", s.auth(capAdmin, s.handleCreateAPIKey))
	route("GET /v1/apikeys", s.auth(capAdmin, s.handleListAPIKeys))
	route("DELETE /v1/apikeys/{ref}", s.auth(capAdmin, s.handleRevokeAPIKey))
	route("GET /ws", s.handleWS)
	route("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, "not_found", "no such route")
	})
	return mux
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(c int)           { w.code = c; w.ResponseWriter.WriteHeader(c) }
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) instrument(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: 200}
		h(sw, r)
		s.m.httpRequests.WithLabelValues(route, methodLabel(r.Method), strconv.Itoa(sw.code)).Inc()
		s.m.httpDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// methodLabels are the method label values of broker_http_requests_total:
// the client chooses the method, so anything else is counted as "other"
// (an unbounded label would let any client create series at will).
var methodLabels = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, "other"}

// methodLabel maps a request method to one of methodLabels.
func methodLabel(m string) string {
	if slices.Contains(methodLabels, m) && m != "other" {
		return m
	}
	return "other"
}

// Health is the body of /health and /health/ready.
type Health struct {
	Status  string  `json:"status"`
	Reason  string  `json:"reason"`
	DB      string  `json:"db"`
	Version string  `json:"version"`
	Commit  string  `json:"commit"`
	GitSHA  string  `json:"gitSha"`
	Uptime  float64 `json:"uptime"`
	Schema  Schema  `json:"schema"`
}

// Schema is the database's migration state as the probe last saw it.
type Schema struct {
	Applied  string `json:"applied"`  // newest file in the tracking table
	Required string `json:"required"` // EXPECTED_MIGRATION ("" when unset)
	Dirty    bool   `json:"dirty"`
}

func (s *Server) health() (Health, *dbState) {
	st := s.state.Load()
	h := Health{Status: "ok", DB: "down", Version: s.cfg.Version, Commit: s.cfg.Commit, GitSHA: s.cfg.Commit,
		Uptime: time.Since(s.started).Seconds(),
		Schema: Schema{Applied: st.Applied, Required: s.cfg.ExpectedMigration, Dirty: st.Dirty}}
	if st.Up {
		h.DB = "up"
	}
	return h, st
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	h, _ := s.health()
	writeJSON(w, http.StatusOK, h)
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	h, st := s.health()
	switch {
	case s.draining.Load():
		h.Reason = "draining"
	case !st.Up:
		h.Reason = "database unreachable"
	case !s.migrated.Load():
		h.Reason = "startup migration not finished"
	case s.cfg.ExpectedMigration != "" && !st.HasExp:
		h.Reason = "migration " + s.cfg.ExpectedMigration + " is not applied"
	}
	if h.Reason != "" {
		h.Status = "not_ready"
		writeJSON(w, http.StatusServiceUnavailable, h)
		return
	}
	h.Status = "ready"
	writeJSON(w, http.StatusOK, h)
}

// ready reports whether requests that need the database should be tried.
func (s *Server) ready() bool { return s.migrated.Load() && !s.draining.Load() }
