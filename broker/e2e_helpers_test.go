package broker

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const testAdminToken = "test-admin-token-0123456789"

type tenv struct {
	t    testing.TB
	s    *Server
	srv  *httptest.Server
	base string // the broker's base URL
	db   *pgtest.DB
	pool *pgxpool.Pool
}

// newEnv runs a broker in-process (the same Server the binary runs) on a
// fresh migrated database.
func newEnv(t *testing.T, mutate func(*Config)) *tenv {
	t.Helper()
	db := pgtest.NewDB(t)
	cfg := Config{DatabaseURL: db.URL, AdminToken: testAdminToken, MaxMessageBytes: DefaultMaxMessageBytes,
		RateBurst: 1000, RatePerMin: 60000, ProbeInterval: 200 * time.Millisecond, StartupTimeout: 10 * time.Second,
		Version: "test", Commit: "abc123"}
	if mutate != nil {
		mutate(&cfg)
	}
	pc, err := PoolConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	s := New(cfg, pool, nil)
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.startupMigrate(ctx); err != nil {
		t.Fatalf("startup migration: %v", err)
	}
	go s.probeLoop(ctx)
	go s.hub.listen(ctx)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.hub.closeAll()
		srv.Close()
		cancel()
		pool.Close()
	})
	e := &tenv{t: t, s: s, srv: srv, base: srv.URL, db: db, pool: db.Pool}
	for i := 0; !s.state.Load().Up; i++ {
		if i > 100 {
			t.Fatal("the probe never saw the database")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return e
}

func (e *tenv) waitReady() {
	e.t.Helper()
	for i := 0; i < 100; i++ {
		if st, _ := e.do("GET", "/health/ready", "", nil); st == 200 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatal("broker never became ready")
}

// do sends a request; body is a string (sent as is) or a value (JSON).
func (e *tenv) do(method, path, key string, body any) (int, map[string]any) {
	e.t.Helper()
	st, _, m := e.doRaw(method, path, key, body)
	return st, m
}

func (e *tenv) doRaw(method, path, key string, body any) (int, http.Header, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &m); err != nil {
			e.t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
		}
	}
	return resp.StatusCode, resp.Header, m
}

// must asserts the status and returns the body.
func (e *tenv) must(want int, method, path, key string, body any) map[string]any {
	e.t.Helper()
	st, m := e.do(method, path, key, body)
	if st != want {
		e.t.Fatalf("%s %s: status %d, want %d: %v", method, path, st, want, m)
	}
	return m
}

// identity is a member's ed25519 key.
type identity struct {
	sk ed25519.PrivateKey
	pk string
}

func newIdentity(seed byte) identity {
	s := bytes.Repeat([]byte{seed}, 32)
	sk := ed25519.NewKeyFromSeed(s)
	return identity{sk: sk, pk: hex.EncodeToString(sk.Public().(ed25519.PublicKey))}
}

type mesh struct {
	ID, OwnerID, Key, TopicID string
	owner                     identity
}

func (e *tenv) createMesh(name string, owner identity) mesh {
	e.t.Helper()
	m := e.must(201, "POST", "/v1/meshes", testAdminToken, map[string]any{"name": name, "ownerPubkey": owner.pk})
	return mesh{ID: m["meshId"].(string), OwnerID: m["memberId"].(string), Key: m["apiKey"].(string),
		TopicID: m["topicId"].(string), owner: owner}
}

// addMember adds a member and returns its id and a send+read key for it.
func (e *tenv) addMember(ms mesh, name string, id identity) (string, string) {
	e.t.Helper()
	m := e.must(201, "POST", "/v1/members", ms.Key, map[string]any{"displayName": name, "pubkey": id.pk})
	mid := m["memberId"].(string)
	k := e.must(201, "POST", "/v1/apikeys", ms.Key, map[string]any{"label": name, "capabilities": []string{"send", "read"}, "memberId": mid})
	return mid, k["secret"].(string)
}

// snapshot counts the rows of every table the broker writes.
func (e *tenv) snapshot() map[string]int64 {
	e.t.Helper()
	out := map[string]int64{}
	for _, tbl := range []string{`public."user"`, "mesh.mesh", "mesh.member", "mesh.presence", "mesh.topic", "mesh.topic_member",
		"mesh.topic_message", "mesh.topic_member_key", "mesh.api_key", "mesh.notification", "mesh.audit_log"} {
		var n int64
		if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+tbl).Scan(&n); err != nil {
			e.t.Fatal(err)
		}
		out[tbl] = n
	}
	var revoked int64
	_ = e.pool.QueryRow(context.Background(), "SELECT (SELECT count(*) FROM mesh.api_key WHERE revoked_at IS NOT NULL) + (SELECT count(*) FROM mesh.member WHERE revoked_at IS NOT NULL) + (SELECT count(*) FROM mesh.notification WHERE read_at IS NOT NULL)").Scan(&revoked)
	out["revoked+read"] = revoked
	return out
}

func (e *tenv) count(q string, args ...any) int64 {
	e.t.Helper()
	var n int64
	if err := e.pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func newHTTPTest(s *Server) *httptest.Server { return httptest.NewServer(s.Handler()) }

func errorsAs(err error, target any) bool { return errors.As(err, target) }
