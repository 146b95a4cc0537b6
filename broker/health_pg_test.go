package broker

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

func TestHealthAndReady(t *testing.T) {
	e := newEnv(t, nil)
	h := e.must(200, "GET", "/health", "", nil)
	sc := h["schema"].(map[string]any)
	if h["status"] != "ok" || h["db"] != "up" || h["version"] != "test" || h["commit"] != "abc123" ||
		sc["applied"] != "0004_notifications.sql" || sc["dirty"] != false || sc["required"] != "" {
		t.Fatalf("/health: %v", h)
	}
	if r := e.must(200, "GET", "/health/ready", "", nil); r["status"] != "ready" || r["reason"] != "" {
		t.Fatalf("/health/ready: %v", r)
	}
	m := e.metrics()
	for _, name := range []string{"broker_connections_total 0", "broker_connections_rejected_total", "broker_connections_active 0",
		"broker_messages_routed_total{priority=\"low\"} 0", "broker_messages_rejected_total{reason=\"rate_limit\"} 0",
		"broker_messages_dropped_by_grant_total", "broker_legacy_auth_hits_total 0", "broker_queue_depth 0", "broker_db_healthy 1",
		"broker_http_request_duration_seconds_bucket", "broker_audit_appends_total"} {
		if !strings.Contains(m, name) {
			t.Errorf("metrics lack %s", name)
		}
	}
	// The broker's sessions name themselves in pg_stat_activity.
	if n := e.count(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'claudemesh-broker'`); n == 0 {
		t.Fatal("no session with application_name claudemesh-broker")
	}
	// Draining: readiness first.
	e.s.draining.Store(true)
	if r := e.must(503, "GET", "/health/ready", "", nil); r["reason"] != "draining" || r["status"] != "not_ready" {
		t.Fatalf("draining: %v", r)
	}
	e.must(200, "GET", "/health", "", nil)
}

func TestReadyExpectedMigration(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ExpectedMigration = "0005_future.sql" })
	// Not applied: 503 with the reason, probe after probe.
	time.Sleep(300 * time.Millisecond)
	r := e.must(503, "GET", "/health/ready", "", nil)
	if !strings.Contains(r["reason"].(string), "0005_future.sql") || r["schema"].(map[string]any)["required"] != "0005_future.sql" {
		t.Fatalf("%v", r)
	}
	// A database ahead of the binary (a newer file applied by a newer
	// replica) is ready, and not dirty.
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO mesh.__cmh_migrations (filename, sha256) VALUES ('0005_future.sql', repeat('a', 64))`); err != nil {
		t.Fatal(err)
	}
	e.waitReady()
	r = e.must(200, "GET", "/health/ready", "", nil)
	if sc := r["schema"].(map[string]any); sc["applied"] != "0005_future.sql" || sc["dirty"] != false {
		t.Fatalf("%v", r)
	}
	// A changed applied file is dirty (reported, still ready).
	if _, err := e.pool.Exec(context.Background(), `UPDATE mesh.__cmh_migrations SET sha256 = repeat('b', 64) WHERE filename = '0002_topics.sql'`); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		h := e.must(200, "GET", "/health", "", nil)
		if h["schema"].(map[string]any)["dirty"] == true {
			break
		}
		if i > 50 {
			t.Fatal("drift never reported as dirty")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestHealthDatabaseDown(t *testing.T) {
	pc, err := PoolConfig("postgres://u:secret-pw@127.0.0.1:1/db?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := New(Config{Version: "v", ProbeInterval: 100 * time.Millisecond}, pool, nil)
	s.migrated.Store(true)
	s.probe(context.Background())
	e := &tenv{t: t, s: s}
	srv := newHTTPTest(s)
	defer srv.Close()
	e.srv, e.base = srv, srv.URL
	h := e.must(200, "GET", "/health", "", nil)
	if h["db"] != "down" {
		t.Fatalf("%v", h)
	}
	r := e.must(503, "GET", "/health/ready", "", nil)
	if r["reason"] != "database unreachable" || strings.Contains(r["reason"].(string), "secret-pw") {
		t.Fatalf("%v", r)
	}
	if !strings.Contains(e.metrics(), "broker_db_healthy 0") {
		t.Fatal("broker_db_healthy not 0")
	}
}

// TestOrphanSweep: undelivered queue rows older than 7 days go; delivered
// or younger rows stay; broker_queue_depth counts the undelivered ones.
func TestOrphanSweep(t *testing.T) {
	e := newEnv(t, nil)
	ms := e.createMesh("m", newIdentity(1))
	for i, age := range []string{"8 days", "6 days", "1 minute"} {
		if _, err := e.pool.Exec(context.Background(), `INSERT INTO mesh.message_queue (id, mesh_id, sender_member_id, target_spec, nonce, ciphertext, created_at)
VALUES ($1, $2, $3, '*', 'n', 'c', (now() AT TIME ZONE 'UTC') - $4::interval)`, "q"+strconv.Itoa(i), ms.ID, ms.OwnerID, age); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO mesh.message_queue (id, mesh_id, sender_member_id, target_spec, nonce, ciphertext, created_at, delivered_at)
VALUES ('qd', $1, $2, '*', 'n', 'c', (now() AT TIME ZONE 'UTC') - interval '30 days', now())`, ms.ID, ms.OwnerID); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, e, "broker_queue_depth 3")
	n, err := e.s.sweep(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("sweep: %d, %v", n, err)
	}
	if got := e.count(`SELECT count(*) FROM mesh.message_queue WHERE id IN ('q1', 'q2', 'qd')`); got != 3 {
		t.Fatalf("%d of the rows that must stay", got)
	}
	waitMetric(t, e, "broker_queue_depth 2")
}
