package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/claudemesh/meshctl/meshfmt"
)

type wsClient struct {
	t testing.TB
	c *websocket.Conn
}

// dialHello connects and sends a hello signed by id (tsOffset shifts its
// timestamp). It does not read the answer.
func (e *tenv) dialHello(meshID, memberID, session string, id identity, tsOffset time.Duration, mutate func(map[string]any)) *wsClient {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.base, "http")+"/ws", nil)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	e.t.Cleanup(func() { _ = c.CloseNow() })
	ts := time.Now().Add(tsOffset).UnixMilli()
	sig, err := meshfmt.SignHello(meshfmt.Hello{MeshID: meshID, MemberID: memberID, PubkeyHex: id.pk, TimestampMs: ts}, id.sk)
	if err != nil {
		e.t.Fatal(err)
	}
	h := map[string]any{"type": "hello", "meshId": meshID, "memberId": memberID, "pubkey": id.pk, "timestamp": ts,
		"signature": sig, "sessionId": session, "pid": 42, "cwd": "/work"}
	if mutate != nil {
		mutate(h)
	}
	b, _ := json.Marshal(h)
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		e.t.Fatal(err)
	}
	return &wsClient{t: e.t, c: c}
}

// read returns the next frame, or the close status and reason.
func (w *wsClient) read() (map[string]any, websocket.StatusCode, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := w.c.Read(ctx)
	if err != nil {
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return nil, ce.Code, ce.Reason
		}
		w.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m, 0, ""
}

func (w *wsClient) send(v any) {
	b, _ := json.Marshal(v)
	if err := w.c.Write(context.Background(), websocket.MessageText, b); err != nil {
		w.t.Fatal(err)
	}
}

func (w *wsClient) expectClose(code websocket.StatusCode) string {
	w.t.Helper()
	for {
		m, c, reason := w.read()
		if m == nil {
			if c != code {
				w.t.Fatalf("closed with %d %q, want %d", c, reason, code)
			}
			return reason
		}
	}
}

func (w *wsClient) expectOK() map[string]any {
	w.t.Helper()
	m, c, reason := w.read()
	if m == nil || m["type"] != "hello_ack" {
		w.t.Fatalf("want hello_ack, got %v (close %d %q)", m, c, reason)
	}
	return m
}

func TestWebSocketHello(t *testing.T) { testWebSocketHello(t, newEnv(t, nil)) }

func testWebSocketHello(t *testing.T, e *tenv) {
	owner := newIdentity(1)
	ms := e.createMesh("m", owner)
	bob := newIdentity(2)
	bobID, _ := e.addMember(ms, "bob", bob)

	for _, c := range []struct {
		name   string
		id     identity
		member string
		off    time.Duration
		mutate func(map[string]any)
		code   websocket.StatusCode
		reason string
	}{
		{"bad signature", bob, bobID, 0, func(h map[string]any) { h["signature"] = strings.Repeat("0", 128) }, websocket.StatusPolicyViolation, "bad_signature"},
		{"signed by another key", owner, bobID, 0, func(h map[string]any) { h["pubkey"] = bob.pk }, websocket.StatusPolicyViolation, "bad_signature"},
		{"not the member's key", owner, bobID, 0, nil, websocket.StatusPolicyViolation, "wrong_pubkey"},
		{"too old", bob, bobID, -61 * time.Second, nil, websocket.StatusPolicyViolation, "stale_hello"},
		{"too new", bob, bobID, 61 * time.Second, nil, websocket.StatusPolicyViolation, "stale_hello"},
		{"unknown member", bob, "nobody", 0, nil, websocket.StatusPolicyViolation, "unknown_member"},
		{"unknown field", bob, bobID, 0, func(h map[string]any) { h["role"] = "admin" }, websocket.StatusPolicyViolation, "bad_hello"},
		{"no session", bob, bobID, 0, func(h map[string]any) { h["sessionId"] = "" }, websocket.StatusPolicyViolation, "bad_hello"},
	} {
		m0 := e.metricValues()
		w := e.dialHello(ms.ID, c.member, "s1", c.id, c.off, c.mutate)
		w.expectClose(c.code)
		e.metricDeltas(m0, map[string]float64{`broker_connections_rejected_total{reason="` + c.reason + `"}`: 1})
	}
	if n := e.count(`SELECT count(*) FROM mesh.presence p JOIN mesh.member m ON m.id = p.member_id WHERE m.mesh_id = $1`, ms.ID); n != 0 {
		t.Fatalf("refused hellos wrote %d presence rows", n)
	}

	m0 := e.metricValues()
	// 59 s of skew is accepted; a presence row appears.
	w := e.dialHello(ms.ID, bobID, "s1", bob, -59*time.Second, nil)
	ok := w.expectOK()
	if n := e.count(`SELECT count(*) FROM mesh.presence WHERE id = $1 AND member_id = $2 AND session_id = 's1' AND pid = 42 AND cwd = '/work' AND disconnected_at IS NULL`,
		ok["presenceId"], bobID); n != 1 {
		t.Fatal("presence row")
	}
	w.send(map[string]any{"type": "ping"})
	if m, _, _ := w.read(); m["type"] != "pong" {
		t.Fatalf("ping: %v", m)
	}
	e.metricDeltas(m0, map[string]float64{"broker_connections_active": 1})
	// Same session id: the newer connection replaces the older one.
	w2 := e.dialHello(ms.ID, bobID, "s1", bob, 0, nil)
	w2.expectOK()
	w.expectClose(websocket.StatusNormalClosure)
	waitCount(t, e, 1, `SELECT count(*) FROM mesh.presence WHERE member_id = $1 AND disconnected_at IS NULL`, bobID)
	// Closing marks the presence disconnected.
	w2.c.Close(websocket.StatusNormalClosure, "bye")
	waitCount(t, e, 0, `SELECT count(*) FROM mesh.presence WHERE member_id = $1 AND disconnected_at IS NULL`, bobID)
	waitMetric(t, e, fmt.Sprintf("broker_connections_active %v", m0["broker_connections_active"]))
	// Upstream clients' optional hello fields are accepted; sessionPubkey
	// is stored.
	spk := newIdentity(9).pk
	w3 := e.dialHello(ms.ID, bobID, "s2", bob, 0, func(h map[string]any) {
		h["sessionPubkey"], h["protocolVersion"], h["capabilities"] = spk, 2, []string{"grants"}
		h["groups"], h["peerType"], h["channel"] = []any{map[string]any{"name": "dev", "role": "lead"}}, "ai", "claude-code"
	})
	if m := w3.expectOK(); m["memberDisplayName"] != "bob" {
		t.Fatalf("%v", m)
	}
	if n := e.count(`SELECT count(*) FROM mesh.presence WHERE session_id = 's2' AND session_pubkey = $1`, spk); n != 1 {
		t.Fatal("session_pubkey not stored")
	}
	w3.c.Close(websocket.StatusNormalClosure, "bye")
	waitMetric(t, e, fmt.Sprintf("broker_connections_active %v", m0["broker_connections_active"]))
	e.metricDeltas(m0, map[string]float64{"broker_connections_total": 3})
}

func waitCount(t *testing.T, e *tenv, want int64, q string, args ...any) {
	t.Helper()
	for i := 0; ; i++ {
		if e.count(q, args...) == want {
			return
		}
		if i > 100 {
			t.Fatalf("%s: never %d", q, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitMetric(t *testing.T, e *tenv, line string) {
	t.Helper()
	for i := 0; !strings.Contains("\n"+e.metrics(), "\n"+line+"\n"); i++ {
		if i > 100 {
			t.Fatalf("metric never %q", line)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestWebSocketKickBan(t *testing.T) { testWebSocketKickBan(t, newEnv(t, nil)) }

func testWebSocketKickBan(t *testing.T, e *tenv) {
	owner := newIdentity(1)
	ms := e.createMesh("m", owner)
	bob := newIdentity(2)
	bobID, bobKey := e.addMember(ms, "bob", bob)

	admin := e.dialHello(ms.ID, ms.OwnerID, "admin", owner, 0, nil)
	admin.expectOK()
	wb := e.dialHello(ms.ID, bobID, "b1", bob, 0, nil)
	wb.expectOK()

	// A member is not an admin.
	wb.send(map[string]any{"type": "kick", "target": ms.OwnerID})
	if m, _, _ := wb.read(); m["code"] != "forbidden" {
		t.Fatalf("member kick: %v", m)
	}
	admin.send(map[string]any{"type": "kick", "target": "bob", "_reqId": "r1"})
	if m, _, _ := admin.read(); m["type"] != "kick_ack" || m["_reqId"] != "r1" {
		t.Fatalf("kick: %v", m)
	}
	wb.expectClose(CloseKick)
	if n := e.count(`SELECT count(*) FROM mesh.member WHERE id = $1 AND revoked_at IS NULL`, bobID); n != 1 {
		t.Fatal("kick must not ban")
	}

	wb = e.dialHello(ms.ID, bobID, "b1", bob, 0, nil)
	wb.expectOK()
	admin.send(map[string]any{"type": "ban", "target": bob.pk})
	if m, _, _ := admin.read(); m["type"] != "ban_ack" || m["banned"] != "bob" {
		t.Fatalf("ban: %v", m)
	}
	wb.expectClose(CloseBanned)
	if n := e.count(`SELECT count(*) FROM mesh.member WHERE id = $1 AND revoked_at IS NOT NULL`, bobID); n != 1 {
		t.Fatal("ban did not set revoked_at")
	}
	// A banned member's hello is refused with 4002 and told whom to ask.
	reason := e.dialHello(ms.ID, bobID, "b2", bob, 0, nil).expectClose(CloseBanned)
	if !strings.Contains(reason, "contact the mesh owner") {
		t.Fatalf("reason %q", reason)
	}
	// ... and its API keys stop working.
	if m := e.must(403, "POST", "/v1/messages", bobKey, map[string]any{"topic": "general", "ciphertext": b64("x")}); m["error"] != "member_revoked" {
		t.Fatal(m)
	}
	admin.send(map[string]any{"type": "unban", "target": bobID})
	if m, _, _ := admin.read(); m["type"] != "unban_ack" {
		t.Fatalf("unban: %v", m)
	}
	e.dialHello(ms.ID, bobID, "b3", bob, 0, nil).expectOK()
	if n := e.count(`SELECT count(*) FROM mesh.audit_log WHERE mesh_id = $1 AND event_type = 'member_banned' AND actor_member_id = $2
		AND payload = jsonb_build_object('target', 'bob', 'targetPubkey', $3::text)`, ms.ID, ms.OwnerID, bob.pk); n != 1 {
		t.Fatalf("member_banned rows: %d", n)
	}
	if n := e.count(`SELECT count(*) FROM mesh.audit_log WHERE mesh_id = $1 AND event_type = 'member_unbanned' AND actor_member_id = $2
		AND payload = '{"target": "bob"}'`, ms.ID, ms.OwnerID); n != 1 {
		t.Fatalf("member_unbanned rows: %d", n)
	}
	// Targets that match nobody, or several members, are refused.
	e.addMember(ms, "twin", newIdentity(6))
	e.addMember(ms, "twin", newIdentity(7))
	for target, code := range map[string]string{"nobody": "not_found", "twin": "not_unique", "": "invalid"} {
		admin.send(map[string]any{"type": "ban", "target": target})
		if m, _, _ := admin.read(); m["code"] != code {
			t.Errorf("ban %q: %v, want %s", target, m, code)
		}
	}
	verifyChain(t, e.pool)

	// Shutdown closes every connection with 1001 (for the container, see
	// TestContainerStartupRace).
	if e.s != nil {
		go e.s.hub.closeAll() // waits for the close handshake, which needs our read
		admin.expectClose(websocket.StatusGoingAway)
	}
}
