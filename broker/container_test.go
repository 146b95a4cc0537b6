package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/claudemesh/meshctl/migrations"
)

var loadClient = &http.Client{Timeout: 10 * time.Second}

// post sends a message and returns its id when the broker acknowledged it
// (201), "" otherwise.
func post(base, key string, body map[string]any) (string, int) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", base+"/v1/messages", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := loadClient.Do(req)
	if err != nil {
		return "", 0
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 {
		return "", resp.StatusCode
	}
	var m struct {
		ID string `json:"messageId"`
	}
	_ = json.Unmarshal(raw, &m)
	return m.ID, 201
}

// TestContainerEndToEnd runs the end-to-end REST and WebSocket tests
// against broker containers built from the working tree (the in-process
// runs of the same tests are TestMessagesAndNotifications, TestErrors, …).
// Two replicas share one database: "e2e" with a high rate limit, "strict"
// with the default one (10 burst, 60/min) for the rate-limit test; both
// with MAX_MESSAGE_BYTES=1000.
func TestContainerEndToEnd(t *testing.T) {
	c := newCluster(t)
	c.startPG()
	e2e := c.startBroker("e2e", "MAX_MESSAGE_BYTES=1000")
	strict := c.startBroker("strict", "MAX_MESSAGE_BYTES=1000", "BROKER_RATE_BURST=10", "BROKER_RATE_PER_MIN=60")
	e2e.waitReady(t, 90*time.Second)
	strict.waitReady(t, 90*time.Second)
	db := c.pgPool()
	for _, tc := range []struct {
		name string
		b    *brokerC
		fn   func(*testing.T, *tenv)
	}{
		{"CreateMesh", e2e, testCreateMesh},
		{"Messages", e2e, testMessages},
		{"Topics", e2e, testTopics},
		{"APIKeys", e2e, testAPIKeys},
		{"Errors", e2e, testErrors},
		{"RateLimit", strict, testRateLimit},
		{"WebSocketHello", e2e, testWebSocketHello},
		{"WebSocketKickBan", e2e, testWebSocketKickBan},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, tc.b.env(t, db)) })
	}
}

// TestContainerHA: two replicas on one database, started at once; 20
// clients × 200 messages spread over both.
func TestContainerHA(t *testing.T) {
	c := newCluster(t)
	c.startPG()
	var a, b *brokerC
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a = c.startBroker("a") }()
	go func() { defer wg.Done(); b = c.startBroker("b") }()
	wg.Wait()
	a.waitReady(t, 90*time.Second)
	b.waitReady(t, 90*time.Second)
	db := c.pgPool()

	// The migrations were applied once: each file by exactly one replica.
	files, _ := migrations.FS.ReadDir(".")
	nsql := 0
	for _, f := range files {
		if strings.HasSuffix(f.Name(), ".sql") {
			nsql++
		}
	}
	applied := strings.Count(c.logs(a.r), `"msg":"migration applied"`) + strings.Count(c.logs(b.r), `"msg":"migration applied"`)
	ea := a.env(t, db)
	if n := ea.count(`SELECT count(*) FROM mesh.__cmh_migrations`); applied != nsql || n != int64(nsql) {
		t.Fatalf("%d files, %d applied by the replicas, %d tracking rows", nsql, applied, n)
	}

	if n := ea.count(`SELECT count(DISTINCT client_addr) FROM pg_stat_activity WHERE application_name = 'claudemesh-broker'`); n != 2 {
		t.Fatalf("sessions named claudemesh-broker from %d replicas, want 2", n)
	}
	ms := ea.createMesh("ha", newIdentity(1))
	const clients, perClient = 20, 200
	names := make([]string, clients)
	ids := make([]string, clients)
	keys := make([]string, clients)
	for i := range clients {
		names[i] = fmt.Sprintf("u%02d", i)
		env := []*tenv{ea, b.env(t, db)}[i%2]
		ids[i], keys[i] = env.addMember(ms, names[i], newIdentity(byte(10+i)))
	}
	bases := []string{a.base, b.base}
	type sent struct{ id, recipient string }
	var mu sync.Mutex
	var acked []sent
	var failed atomic.Int64
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perClient {
				k := (i + j + 1) % clients
				if k == i {
					k = (k + 1) % clients
				}
				body := fmt.Sprintf("message %d from %s to @%s", j, names[i], strings.ToUpper(names[k]))
				id, st := post(bases[(i+j)%2], keys[i], map[string]any{"topic": "general", "ciphertext": b64(body)})
				if st != 201 {
					failed.Add(1)
					continue
				}
				mu.Lock()
				acked = append(acked, sent{id, ids[k]})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 || len(acked) != clients*perClient {
		t.Fatalf("%d acknowledged, %d refused", len(acked), failed.Load())
	}
	ackIDs := make([]string, len(acked))
	for i, s := range acked {
		ackIDs[i] = s.id
	}
	// Every acknowledged message stored exactly once (ids are the primary
	// key: count the distinct acknowledged ids found).
	if n := ea.count(`SELECT count(DISTINCT id) FROM mesh.topic_message WHERE id = ANY($1)`, ackIDs); n != int64(len(acked)) {
		t.Fatalf("%d of %d acknowledged messages stored", n, len(acked))
	}
	if n := ea.count(`SELECT count(*) FROM mesh.topic_message`); n != int64(len(acked)) {
		t.Fatalf("%d messages stored, %d acknowledged", n, len(acked))
	}
	// Notifications match the mentions, one each.
	rows, err := db.Query(context.Background(), `SELECT message_id, recipient_member_id FROM mesh.notification`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var m, r string
		_ = rows.Scan(&m, &r)
		if _, dup := got[m]; dup {
			t.Fatalf("message %s notified twice", m)
		}
		got[m] = r
	}
	if len(got) != len(acked) {
		t.Fatalf("%d notifications for %d messages", len(got), len(acked))
	}
	for _, s := range acked {
		if got[s.id] != s.recipient {
			t.Fatalf("message %s: notified %q, want %q", s.id, got[s.id], s.recipient)
		}
	}
	rep := verifyChain(t, db)
	if n := ea.count(`SELECT count(*) FROM mesh.audit_log WHERE event_type = 'message_sent'`); n != int64(len(acked)) {
		t.Fatalf("%d message_sent rows for %d messages", n, len(acked))
	}
	t.Logf("chain clean: %d rows", rep.Rows)

	// Across replicas: a reconnect with the same session id on B closes
	// the connection on A; an admin's kick on B closes the member on A.
	eb := b.env(t, db)
	u0 := newIdentity(10)
	w1 := ea.dialHello(ms.ID, ids[0], "sess", u0, 0, nil)
	w1.expectOK()
	w2 := eb.dialHello(ms.ID, ids[0], "sess", u0, 0, nil)
	w2.expectOK()
	w1.expectClose(websocket.StatusNormalClosure)
	if n := ea.count(`SELECT count(*) FROM mesh.presence WHERE member_id = $1 AND session_id = 'sess' AND disconnected_at IS NULL`, ids[0]); n != 1 {
		t.Fatalf("%d open presences for one session id", n)
	}
	admin := eb.dialHello(ms.ID, ms.OwnerID, "admin", ms.owner, 0, nil)
	admin.expectOK()
	w3 := ea.dialHello(ms.ID, ids[1], "s", newIdentity(11), 0, nil)
	w3.expectOK()
	admin.send(map[string]any{"type": "kick", "target": ids[1]})
	w3.expectClose(CloseKick)
}

// TestContainerFault stops PostgreSQL for 10 s under load.
func TestContainerFault(t *testing.T) {
	c := newCluster(t)
	c.startPG()
	br := c.startBroker("a", "BROKER_DRAIN_DELAY=1s")
	br.waitReady(t, 90*time.Second)
	db := c.pgPool()
	e := br.env(t, db)
	ms := e.createMesh("fault", newIdentity(1))
	keys := []string{ms.Key}
	for i := range 3 {
		_, k := e.addMember(ms, fmt.Sprintf("p%d", i), newIdentity(byte(20+i)))
		keys = append(keys, k)
	}

	// Monitor: /health must answer 200 throughout; record readiness.
	type sample struct {
		at           time.Time
		health, read int
	}
	var samples []sample
	var smu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			s := sample{at: time.Now(), health: br.status("/health"), read: br.status("/health/ready")}
			smu.Lock()
			samples = append(samples, s)
			smu.Unlock()
		}
	}()
	var amu sync.Mutex
	var acked []string
	for _, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if id, st := post(br.base, k, map[string]any{"topic": "general", "ciphertext": b64(fmt.Sprintf("load %d @p0", n))}); st == 201 {
					amu.Lock()
					acked = append(acked, id)
					amu.Unlock()
				} else {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)
	stopped := time.Now()
	c.stopPG()
	time.Sleep(10 * time.Second)
	if err := c.pool.Client.StartContainer(c.pg.Container.ID, nil); err != nil {
		t.Fatal(err)
	}
	c.waitPG()
	up := time.Now()
	br.waitReady(t, 30*time.Second)
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()

	var down, back time.Time
	for _, s := range samples {
		if s.health != 200 {
			t.Errorf("/health answered %d at %s", s.health, s.at.Format(time.StampMilli))
		}
		if down.IsZero() && s.at.After(stopped) && s.read == 503 {
			down = s.at
		}
		if back.IsZero() && s.at.After(up) && s.read == 200 {
			back = s.at
		}
	}
	// The readiness bounds the deploy gate relies on (docs/broker.md).
	if down.IsZero() || down.Sub(stopped) > 5*time.Second {
		t.Errorf("readiness turned 503 %v after the stop (want within 5 s)", down.Sub(stopped))
	}
	if back.IsZero() || back.Sub(up) > 5*time.Second {
		t.Errorf("readiness back to 200 %v after PostgreSQL accepted connections (want within 5 s)", back.Sub(up))
	}
	t.Logf("ready 503 after %v, 200 again %v after restart; %d messages acknowledged", down.Sub(stopped), back.Sub(up), len(acked))
	ci, err := c.pool.Client.InspectContainer(br.r.Container.ID)
	if err != nil || !ci.State.Running || ci.RestartCount != 0 {
		t.Fatalf("broker process did not keep running: %+v %v", ci.State, err)
	}
	db2 := c.pgPool()
	e2 := br.env(t, db2)
	if n := e2.count(`SELECT count(DISTINCT id) FROM mesh.topic_message WHERE id = ANY($1)`, acked); n != int64(len(acked)) || len(acked) == 0 {
		t.Fatalf("%d of %d acknowledged messages stored", n, len(acked))
	}
	verifyChain(t, db2)
}

// TestContainerStartupRace starts the broker before PostgreSQL exists,
// then checks that SIGTERM drains: readiness 503, WebSockets 1001, exit 0.
func TestContainerStartupRace(t *testing.T) {
	c := newCluster(t)
	br := c.startBroker("a", "BROKER_DRAIN_DELAY=2s", "BROKER_STARTUP_TIMEOUT=3m")
	for i := 0; br.status("/health") != 200; i++ {
		if i > 100 {
			t.Fatal("broker /health never answered")
		}
		time.Sleep(100 * time.Millisecond)
	}
	e := br.env(t, nil)
	if h := e.must(200, "GET", "/health", "", nil); h["db"] != "down" {
		t.Fatalf("%v", h)
	}
	if r := e.must(503, "GET", "/health/ready", "", nil); r["status"] != "not_ready" {
		t.Fatalf("%v", r)
	}
	time.Sleep(3 * time.Second)
	c.startPG()
	br.waitReady(t, 60*time.Second)
	ci, err := c.pool.Client.InspectContainer(br.r.Container.ID)
	if err != nil || !ci.State.Running || ci.RestartCount != 0 {
		t.Fatalf("broker restarted: %+v %v", ci.State, err)
	}
	if !strings.Contains(c.logs(br.r), "waiting for the database") {
		t.Fatal("no retry logged")
	}

	// Graceful shutdown.
	db := c.pgPool()
	e.pool = db
	owner := newIdentity(1)
	ms := e.createMesh("race", owner)
	w := e.dialHello(ms.ID, ms.OwnerID, "s", owner, 0, nil)
	w.expectOK()
	if err := c.pool.Client.KillContainer(dockerKill(br.r.Container.ID)); err != nil {
		t.Fatal(err)
	}
	sawDraining := false
	for i := 0; i < 15 && !sawDraining; i++ {
		st, m := e.statusBody("/health/ready")
		sawDraining = st == 503 && m["reason"] == "draining"
		time.Sleep(100 * time.Millisecond)
	}
	if !sawDraining {
		t.Error("readiness did not report draining before connections closed")
	}
	w.expectClose(websocket.StatusGoingAway)
	code, err := c.pool.Client.WaitContainerWithContext(br.r.Container.ID, context.Background())
	if err != nil || code != 0 {
		t.Fatalf("exit code %d, %v", code, err)
	}
	if logs := c.logs(br.r); strings.Contains(logs, clusterPassword) {
		t.Fatal("the database password reached the logs")
	}
}

func (e *tenv) statusBody(path string) (int, map[string]any) {
	resp, err := loadClient.Get(e.base + path)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}
