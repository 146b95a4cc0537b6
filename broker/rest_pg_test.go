package broker

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/claudemesh/meshctl/audit"
	"github.com/claudemesh/meshctl/meshfmt"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// verifyChain runs audit.Verify over every mesh and fails unless clean.
func verifyChain(t *testing.T, p *pgxpool.Pool) *audit.Report {
	t.Helper()
	c, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	rep, err := audit.Verify(context.Background(), c.Conn(), audit.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean() {
		t.Fatalf("audit chain not clean: %+v", rep)
	}
	return rep
}

func TestCreateMesh(t *testing.T) { testCreateMesh(t, newEnv(t, nil)) }

func testCreateMesh(t *testing.T, e *tenv) {
	owner := newIdentity(1)
	ms := e.createMesh("Team One", owner)
	ctx := context.Background()

	var role, name, userID, dash string
	if err := e.pool.QueryRow(ctx, `SELECT role::text, display_name, user_id, dashboard_user_id FROM mesh.member WHERE id = $1 AND mesh_id = $2 AND peer_pubkey = $3`,
		ms.OwnerID, ms.ID, owner.pk).Scan(&role, &name, &userID, &dash); err != nil {
		t.Fatal(err)
	}
	if role != "admin" || name != "Team One-owner" || userID == "" || dash != userID {
		t.Fatalf("owner member: %s %s %s %s", role, name, userID, dash)
	}
	if n := e.count(`SELECT count(*) FROM mesh.mesh WHERE id = $1 AND owner_user_id = $2 AND slug = 'team-one' AND length(root_key) = 43`, ms.ID, userID); n != 1 {
		t.Fatal("mesh row")
	}
	if n := e.count(`SELECT count(*) FROM mesh.topic_member WHERE topic_id = $1 AND member_id = $2 AND role = 'lead'`, ms.TopicID, ms.OwnerID); n != 1 {
		t.Fatal("owner not subscribed to general as lead")
	}
	// The owner's sealed copy opens with the owner's key, and names the
	// topic's stored sender key.
	k := e.must(200, "GET", "/v1/topics/general/key", ms.Key, nil)
	xsk, err := meshfmt.Ed25519SecretKeyToX25519(owner.sk)
	if err != nil {
		t.Fatal(err)
	}
	_, senderPK, err := meshfmt.OpenTopicKey(k["encryptedKey"].(string), k["nonce"].(string), xsk)
	if err != nil {
		t.Fatalf("open the sealed topic key: %v", err)
	}
	var stored string
	_ = e.pool.QueryRow(ctx, `SELECT encrypted_key_pubkey FROM mesh.topic WHERE id = $1 AND name = 'general'`, ms.TopicID).Scan(&stored)
	if hex.EncodeToString(senderPK[:]) != stored || k["senderPubkey"] != stored {
		t.Fatalf("sender pk %x, stored %s", senderPK, stored)
	}
	// Only the hash of the key is stored.
	if n := e.count(`SELECT count(*) FROM mesh.api_key WHERE mesh_id = $1 AND secret_hash = $2 AND secret_prefix = $3 AND capabilities = '["send","read","admin"]'`,
		ms.ID, meshfmt.HashAPIKey(ms.Key), ms.Key[:11]); n != 1 {
		t.Fatal("api key row")
	}
	if n := e.count(`SELECT count(*) FROM mesh.api_key WHERE secret_hash = $1 OR secret_prefix = $1`, ms.Key); n != 0 {
		t.Fatal("secret stored in clear")
	}
	verifyChain(t, e.pool)
	if n := e.count(`SELECT count(*) FROM mesh.audit_log WHERE mesh_id = $1 AND event_type IN ('peer_joined', 'apikey_created')`, ms.ID); n != 2 {
		t.Fatalf("want peer_joined + apikey_created, got %d rows", n)
	}
}

func TestMessagesAndNotifications(t *testing.T) { testMessages(t, newEnv(t, nil)) }

func testMessages(t *testing.T, e *tenv) {
	ms := e.createMesh("m", newIdentity(1))
	m0 := e.metricValues()
	bobID, bobKey := e.addMember(ms, "Bob", newIdentity(2))
	carolID, carolKey := e.addMember(ms, "carol", newIdentity(3))
	_, daveKey := e.addMember(ms, "dave", newIdentity(4))
	// dave is banned: never notified.
	if _, err := e.pool.Exec(context.Background(), `UPDATE mesh.member SET revoked_at = now() WHERE display_name = 'dave' AND mesh_id = $1`, ms.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM mesh.topic_member WHERE member_id = ANY($1) AND role = 'member'`, []string{bobID, carolID}); n != 2 {
		t.Fatal("members not subscribed to general")
	}

	// v1 body: mentions from the text; case-insensitive; the sender, unknown
	// names and banned members are not notified.
	r := e.must(201, "POST", "/v1/messages", ms.Key, map[string]any{"topic": "general", "bodyVersion": 1,
		"ciphertext": b64("hi @BOB, @carol and @nobody, @dave, @m-owner"), "nonce": ""})
	if r["notifications"].(float64) != 2 {
		t.Fatalf("notified %v, want 2", r["notifications"])
	}
	msg1 := r["messageId"].(string)
	// bob sends with an explicit list: the body is not read.
	r = e.must(201, "POST", "/v1/messages", bobKey, map[string]any{"topic": "#general", "ciphertext": b64("@carol"),
		"mentions": []string{"@M-Owner"}, "priority": "now"})
	if r["notifications"].(float64) != 1 {
		t.Fatalf("explicit: notified %v", r["notifications"])
	}
	// An explicit list may name display names the body rule cannot.
	eveID, _ := e.addMember(ms, "Eve Smith", newIdentity(8))
	r = e.must(201, "POST", "/v1/messages", bobKey, map[string]any{"topic": "general", "ciphertext": b64("x"), "mentions": []string{"eve SMITH"}})
	if r["notifications"].(float64) != 1 || e.count(`SELECT count(*) FROM mesh.notification WHERE recipient_member_id = $1 AND message_id = $2`, eveID, r["messageId"]) != 1 {
		t.Fatalf("explicit display name: %v", r)
	}
	// v2 is opaque: no mentions unless explicit.
	var nonce [24]byte
	ct, nb, _ := meshfmt.EncodeBodyV2("@bob", nonce, [32]byte{})
	r = e.must(201, "POST", "/v1/messages", carolKey, map[string]any{"topic": "general", "bodyVersion": 2, "ciphertext": ct, "nonce": nb})
	if r["notifications"].(float64) != 0 {
		t.Fatal("v2 body read by the server")
	}
	if n := e.count(`SELECT count(*) FROM mesh.topic_message WHERE body_version = 2 AND ciphertext = $1`, ct); n != 1 {
		t.Fatal("v2 message not stored")
	}
	_, _ = daveKey, msg1

	// Notifications as bob.
	l := e.must(200, "GET", "/v1/notifications?unread=1", bobKey, nil)
	ns := l["notifications"].([]any)
	if len(ns) != 1 || ns[0].(map[string]any)["messageId"] != msg1 || ns[0].(map[string]any)["readAt"] != nil {
		t.Fatalf("bob's notifications: %v", ns)
	}
	nid := ns[0].(map[string]any)["id"].(string)
	if u := e.must(200, "POST", "/v1/notifications/read", bobKey, map[string]any{"ids": []string{nid, "not-mine"}}); u["updated"].(float64) != 1 {
		t.Fatalf("read by id: %v", u)
	}
	if l := e.must(200, "GET", "/v1/notifications?unread=1", bobKey, nil); len(l["notifications"].([]any)) != 0 {
		t.Fatal("still unread")
	}
	all := e.must(200, "GET", "/v1/notifications", bobKey, nil)["notifications"].([]any)
	if len(all) != 1 || all[0].(map[string]any)["readAt"] == nil {
		t.Fatalf("read_at not shown: %v", all)
	}
	// carol: read everything up to now.
	if u := e.must(200, "POST", "/v1/notifications/read", carolKey, map[string]any{"before": time.Now().UTC().Add(time.Second).Format(time.RFC3339)}); u["updated"].(float64) != 1 {
		t.Fatalf("read up to a time: %v", u)
	}
	// The owner was mentioned by bob.
	if l := e.must(200, "GET", "/v1/notifications", ms.Key, nil); len(l["notifications"].([]any)) != 1 {
		t.Fatalf("owner: %v", l)
	}

	// Every message is audited, without its body.
	if n := e.count(`SELECT count(*) FROM mesh.audit_log WHERE event_type = 'message_sent' AND mesh_id = $1`, ms.ID); n != 4 {
		t.Fatalf("message_sent rows: %d", n)
	}
	var payload string
	_ = e.pool.QueryRow(context.Background(), `SELECT payload::text FROM mesh.audit_log WHERE event_type = 'message_sent' AND mesh_id = $1 ORDER BY id LIMIT 1`, ms.ID).Scan(&payload)
	if payload != `{"priority": "next", "targetSpec": "#general"}` {
		t.Fatalf("payload %s", payload)
	}
	verifyChain(t, e.pool)
	e.metricDeltas(m0, map[string]float64{`broker_messages_routed_total{priority="next"}`: 3, `broker_messages_routed_total{priority="now"}`: 1,
		`broker_audit_appends_total{event="message_sent"}`: 4, `broker_http_requests_total{code="201",method="POST",route="POST /v1/messages"}`: 4})
}

// metricValues reads every sample of /metrics as series → value.
func (e *tenv) metricValues() map[string]float64 {
	e.t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(e.metrics(), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// metricDeltas checks how much each series grew since before.
func (e *tenv) metricDeltas(before map[string]float64, want map[string]float64) {
	e.t.Helper()
	now := e.metricValues()
	for series, d := range want {
		if got := now[series] - before[series]; got != d {
			e.t.Errorf("%s grew by %v, want %v", series, got, d)
		}
	}
}

func (e *tenv) metrics() string {
	e.t.Helper()
	resp, err := http.Get(e.base + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestTopics(t *testing.T) { testTopics(t, newEnv(t, nil)) }

func testTopics(t *testing.T, e *tenv) {
	owner := newIdentity(1)
	ms := e.createMesh("m", owner)
	_, bobKey := e.addMember(ms, "bob", newIdentity(2))
	r := e.must(201, "POST", "/v1/topics", ms.Key, map[string]any{"name": "#ops", "description": "operations"})
	if r["name"] != "ops" || len(r["encryptedKeyPubkey"].(string)) != 64 {
		t.Fatalf("%v", r)
	}
	k := e.must(200, "GET", "/v1/topics/ops/key", ms.Key, nil)
	xsk, _ := meshfmt.Ed25519SecretKeyToX25519(owner.sk)
	key1, spk, err := meshfmt.OpenTopicKey(k["encryptedKey"].(string), k["nonce"].(string), xsk)
	if err != nil || hex.EncodeToString(spk[:]) != r["encryptedKeyPubkey"] || k["senderPubkey"] != r["encryptedKeyPubkey"] {
		t.Fatalf("open: %v", err)
	}
	g := e.must(200, "GET", "/v1/topics/general/key", ms.Key, nil)
	key2, _, _ := meshfmt.OpenTopicKey(g["encryptedKey"].(string), g["nonce"].(string), xsk)
	if key1 == key2 || key1 == [32]byte{} {
		t.Fatal("topic keys must be fresh per topic")
	}
	e.must(409, "POST", "/v1/topics", ms.Key, map[string]any{"name": "ops"})
	e.must(404, "GET", "/v1/topics/nope/key", ms.Key, nil)
	// bob has no sealed copy of ops.
	if m := e.must(404, "GET", "/v1/topics/ops/key", bobKey, nil); m["error"] != "key_not_sealed_for_member" {
		t.Fatal(m)
	}
	// A legacy topic (no encrypted_key_pubkey) is 409.
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO mesh.topic (id, mesh_id, name) VALUES ('legacy0000000000000000000000000', $1, 'old')`, ms.ID); err != nil {
		t.Fatal(err)
	}
	if m := e.must(409, "GET", "/v1/topics/old/key", ms.Key, nil); m["error"] != "topic_unencrypted" {
		t.Fatal(m)
	}
	// The sender secret is not stored anywhere: only 64-hex public keys.
	if n := e.count(`SELECT count(*) FROM mesh.topic WHERE encrypted_key_pubkey IS NOT NULL AND length(encrypted_key_pubkey) <> 64`); n != 0 {
		t.Fatal("odd sender key")
	}
}

func TestAPIKeys(t *testing.T) { testAPIKeys(t, newEnv(t, nil)) }

func testAPIKeys(t *testing.T, e *tenv) {
	ms := e.createMesh("m", newIdentity(1))
	other := e.createMesh("other", newIdentity(9))
	r := e.must(201, "POST", "/v1/apikeys", ms.Key, map[string]any{"label": "ci", "capabilities": []string{"read"}, "topicScopes": []string{"general"}})
	readKey, readID := r["secret"].(string), r["id"].(string)
	if _, err := meshfmt.ParseAPIKey(readKey); err != nil || r["prefix"] != readKey[:11] {
		t.Fatalf("secret %v", err)
	}
	// The list never shows secrets.
	l := e.must(200, "GET", "/v1/apikeys", ms.Key, nil)["apiKeys"].([]any)
	if len(l) != 2 {
		t.Fatalf("%d keys", len(l))
	}
	for _, k := range l {
		km := k.(map[string]any)
		if _, ok := km["secret"]; ok {
			t.Fatal("list shows a secret")
		}
		if km["id"] == readID && (km["status"] != "active" || !cmp.Equal(km["topicScopes"], []any{"general"})) {
			t.Fatalf("%v", km)
		}
	}
	// Missing capability.
	if m := e.must(403, "POST", "/v1/messages", readKey, map[string]any{"topic": "general", "ciphertext": b64("x")}); m["error"] != "missing_capability" {
		t.Fatal(m)
	}
	e.must(200, "GET", "/v1/topics/general/key", readKey, nil)
	// last_used_at is written off the request path.
	if e.s != nil {
		e.s.flushTouched(context.Background())
	}
	waitCount(t, e, 1, `SELECT count(*) FROM mesh.api_key WHERE id = $1 AND last_used_at IS NOT NULL`, readID)

	// Revoke: ids sharing a prefix, wildcards literal, other meshes invisible.
	ctx := context.Background()
	for _, id := range []string{"abcdef0000000000000000000000001a", "abcdef0000000000000000000000002b"} {
		if _, err := e.pool.Exec(ctx, `INSERT INTO mesh.api_key (id, mesh_id, label, secret_hash, secret_prefix) VALUES ($1, $2, 'x', 'h', 'cm_x')`, id, ms.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.pool.Exec(ctx, `INSERT INTO mesh.api_key (id, mesh_id, label, secret_hash, secret_prefix) VALUES ('fedcba00000000000000000000000000', $1, 'x', 'h', 'cm_x')`, other.ID); err != nil {
		t.Fatal(err)
	}
	before := e.snapshot()
	for _, c := range []struct {
		ref    string
		status int
		code   string
	}{
		{"abcdef", 409, "not_unique"},
		{"abcde", 404, "not_found"},      // too short for a prefix
		{"%%%%%%", 404, "not_found"},     // not a LIKE pattern
		{"abcdef____", 404, "not_found"}, // '_' is literal
		{"fedcba", 404, "not_found"},     // another mesh's key
		{"abcdef000000000000000000", 409, "not_unique"},
	} {
		if m := e.must(c.status, "DELETE", "/v1/apikeys/"+url.PathEscape(c.ref), ms.Key, nil); m["error"] != c.code {
			t.Errorf("%s: %v", c.ref, m)
		}
	}
	if diff := cmp.Diff(before, e.snapshot()); diff != "" {
		t.Fatalf("refused revokes wrote: %s", diff)
	}
	if m := e.must(200, "DELETE", "/v1/apikeys/abcdef0000000000000000000000001", ms.Key, nil); m["result"] != "revoked" || m["id"] != "abcdef0000000000000000000000001a" {
		t.Fatal(m)
	}
	if m := e.must(200, "DELETE", "/v1/apikeys/"+readID, ms.Key, nil); m["result"] != "revoked" {
		t.Fatal(m)
	}
	if m := e.must(401, "GET", "/v1/topics/general/key", readKey, nil); m["error"] != "key_revoked" {
		t.Fatal(m)
	}
	if n := e.count(`SELECT count(*) FROM mesh.audit_log WHERE mesh_id = $1 AND event_type = 'apikey_revoked'`, ms.ID); n != 2 {
		t.Fatalf("revokes audited: %d", n)
	}
	if n := e.count(`SELECT count(*) FROM mesh.audit_log WHERE mesh_id = $1 AND event_type = 'apikey_created'`, ms.ID); n != 2 {
		t.Fatalf("creates audited: %d", n)
	}
	verifyChain(t, e.pool)
}

// TestErrors: every documented refusal is a JSON {error, message} with a
// 4xx status, and writes nothing.
func TestErrors(t *testing.T) { testErrors(t, newEnv(t, func(c *Config) { c.MaxMessageBytes = 1000 })) }

func testErrors(t *testing.T, e *tenv) {
	ms := e.createMesh("m", newIdentity(1))
	r := e.must(201, "POST", "/v1/apikeys", ms.Key, map[string]any{"label": "exp", "capabilities": []string{"send", "read"}})
	expKey := r["secret"].(string)
	if _, err := e.pool.Exec(context.Background(), `UPDATE mesh.api_key SET expires_at = localtimestamp - interval '1 minute' WHERE id = $1`, r["id"]); err != nil {
		t.Fatal(err)
	}
	r = e.must(201, "POST", "/v1/apikeys", ms.Key, map[string]any{"label": "rev", "capabilities": []string{"send"}})
	revKey := r["secret"].(string)
	e.must(200, "DELETE", "/v1/apikeys/"+r["id"].(string), ms.Key, nil)
	_, bannedKey := e.addMember(ms, "banned", newIdentity(5))
	if _, err := e.pool.Exec(context.Background(), `UPDATE mesh.member SET revoked_at = now() WHERE display_name = 'banned' AND mesh_id = $1`, ms.ID); err != nil {
		t.Fatal(err)
	}
	unknown := meshfmt.APIKeyFromBytes([32]byte{7}).Secret
	msg := func(extra string) string {
		return `{"topic":"general","ciphertext":"` + b64("hi") + `"` + extra + `}`
	}
	cases := []struct {
		name, method, path, key string
		body                    any
		status                  int
		code                    string
	}{
		{"no key", "POST", "/v1/messages", "", msg(""), 401, "unauthorized"},
		{"malformed key", "POST", "/v1/messages", "cm_short", msg(""), 401, "invalid_key"},
		{"unknown key", "POST", "/v1/messages", unknown, msg(""), 401, "invalid_key"},
		{"revoked key", "POST", "/v1/messages", revKey, msg(""), 401, "key_revoked"},
		{"expired key", "POST", "/v1/messages", expKey, msg(""), 401, "key_expired"},
		{"banned member", "POST", "/v1/messages", bannedKey, msg(""), 403, "member_revoked"},
		{"missing capability", "POST", "/v1/members", expKey, `{}`, 401, "key_expired"},
		{"not admin", "GET", "/v1/apikeys", bannedKey, nil, 403, "member_revoked"},
		{"malformed json", "POST", "/v1/messages", ms.Key, `{"topic":`, 400, "malformed_json"},
		{"not an object", "POST", "/v1/messages", ms.Key, `[1]`, 400, "invalid_field"},
		{"unknown field", "POST", "/v1/messages", ms.Key, msg(`,"extra":1`), 400, "unknown_field"},
		{"case-folded field", "POST", "/v1/messages", ms.Key, `{"Topic":"general","ciphertext":"` + b64("x") + `"}`, 400, "unknown_field"},
		{"duplicate field", "POST", "/v1/messages", ms.Key, msg(`,"topic":"general"`), 400, "malformed_json"},
		{"string version", "POST", "/v1/messages", ms.Key, msg(`,"bodyVersion":"1"`), 400, "invalid_field"},
		{"invalid utf-8", "POST", "/v1/messages", ms.Key, []byte("{\"topic\":\"gen\xffal\",\"ciphertext\":\"aGk=\"}"), 400, "invalid_utf8"},
		{"oversize message", "POST", "/v1/messages", ms.Key, msg(`,"nonce":"` + strings.Repeat("A", 1000) + `"`), 413, "too_large"},
		{"oversize body", "POST", "/v1/messages", ms.Key, msg(`,"nonce":"` + strings.Repeat("A", 20<<10) + `"`), 413, "too_large"},
		{"body not base64", "POST", "/v1/messages", ms.Key, `{"topic":"general","ciphertext":"@@"}`, 400, "invalid_body"},
		{"body not utf-8", "POST", "/v1/messages", ms.Key, `{"topic":"general","ciphertext":"/w=="}`, 400, "invalid_body"},
		{"bad version", "POST", "/v1/messages", ms.Key, msg(`,"bodyVersion":3`), 400, "invalid_body_version"},
		{"bad v2 nonce", "POST", "/v1/messages", ms.Key, msg(`,"bodyVersion":2,"nonce":"AAAA"`), 400, "invalid_body"},
		{"bad priority", "POST", "/v1/messages", ms.Key, msg(`,"priority":"urgent"`), 400, "invalid_priority"},
		{"bad mentions", "POST", "/v1/messages", ms.Key, msg(`,"mentions":["a\u0007b"]`), 400, "invalid_mentions"},
		{"too many mentions", "POST", "/v1/messages", ms.Key, msg(`,"mentions":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]`), 400, "invalid_mentions"},
		{"unknown topic", "POST", "/v1/messages", ms.Key, `{"topic":"nope","ciphertext":"aGk="}`, 404, "topic_not_found"},
		{"wrong content type", "POST", "/v1/topics", ms.Key, nil, 400, "malformed_json"},
		{"mesh: no admin token", "POST", "/v1/meshes", "", `{"name":"x","ownerPubkey":"` + newIdentity(3).pk + `"}`, 401, "unauthorized"},
		{"mesh: wrong admin token", "POST", "/v1/meshes", testAdminToken + "x", `{"name":"x","ownerPubkey":"` + newIdentity(3).pk + `"}`, 401, "unauthorized"},
		{"mesh: API key is not the admin token", "POST", "/v1/meshes", ms.Key, `{"name":"x","ownerPubkey":"` + newIdentity(3).pk + `"}`, 401, "unauthorized"},
		{"mesh: invalid pubkey", "POST", "/v1/meshes", testAdminToken, `{"name":"x","ownerPubkey":"` + strings.Repeat("zz", 32) + `"}`, 400, "invalid_pubkey"},
		{"mesh: uppercase pubkey", "POST", "/v1/meshes", testAdminToken, `{"name":"x","ownerPubkey":"` + strings.ToUpper(newIdentity(3).pk) + `"}`, 400, "invalid_pubkey"},
		{"mesh: short pubkey", "POST", "/v1/meshes", testAdminToken, `{"name":"x","ownerPubkey":"abcd"}`, 400, "invalid_pubkey"},
		{"mesh: not a curve point", "POST", "/v1/meshes", testAdminToken, `{"name":"x","ownerPubkey":"` + strings.Repeat("ff", 32) + `"}`, 400, "invalid_pubkey"},
		{"mesh: unknown field", "POST", "/v1/meshes", testAdminToken, `{"name":"x","ownerPubkey":"` + newIdentity(3).pk + `","tier":"pro"}`, 400, "unknown_field"},
		{"member: invalid pubkey", "POST", "/v1/members", ms.Key, `{"displayName":"x","pubkey":"00"}`, 400, "invalid_pubkey"},
		{"member: bad role", "POST", "/v1/members", ms.Key, `{"displayName":"x","pubkey":"` + newIdentity(3).pk + `","role":"owner"}`, 400, "invalid_role"},
		{"member: control char name", "POST", "/v1/members", ms.Key, `{"displayName":"a\u001bb","pubkey":"` + newIdentity(3).pk + `"}`, 400, "invalid_display_name"},
		{"topic: bad name", "POST", "/v1/topics", ms.Key, `{"name":"Bad Name"}`, 400, "invalid_name"},
		{"topic: exists", "POST", "/v1/topics", ms.Key, `{"name":"general"}`, 409, "topic_exists"},
		{"key: bad caps", "POST", "/v1/apikeys", ms.Key, `{"label":"x","capabilities":["root"]}`, 400, "invalid_capabilities"},
		{"key: no caps", "POST", "/v1/apikeys", ms.Key, `{"label":"x","capabilities":[]}`, 400, "invalid_capabilities"},
		{"key: past expiry", "POST", "/v1/apikeys", ms.Key, `{"label":"x","capabilities":["read"],"expiresAt":"2020-01-01T00:00:00Z"}`, 400, "invalid_expires_at"},
		{"key: foreign member", "POST", "/v1/apikeys", ms.Key, `{"label":"x","capabilities":["read"],"memberId":"nope"}`, 404, "member_not_found"},
		{"read: neither", "POST", "/v1/notifications/read", ms.Key, `{}`, 400, "invalid_request"},
		{"read: bad time", "POST", "/v1/notifications/read", ms.Key, `{"before":"yesterday"}`, 400, "invalid_request"},
		{"list: bad query", "GET", "/v1/notifications?unread=maybe", ms.Key, nil, 400, "invalid_query"},
		{"legacy auth", "GET", "/v1/apikeys?api_key=" + ms.Key, "", nil, 401, "legacy_auth"},
		{"no route", "GET", "/v1/nothing", ms.Key, nil, 404, "not_found"},
	}
	before := e.snapshot()
	m0 := e.metricValues()
	for _, c := range cases {
		st, m := e.do(c.method, c.path, c.key, c.body)
		if st != c.status || m["error"] != c.code || m["message"] == "" || m["message"] == nil {
			t.Errorf("%s: got %d %v, want %d %s", c.name, st, m, c.status, c.code)
		}
	}
	if diff := cmp.Diff(before, e.snapshot()); diff != "" {
		t.Errorf("refused requests wrote rows: %s", diff)
	}
	e.metricDeltas(m0, map[string]float64{`broker_messages_rejected_total{reason="too_large"}`: 2,
		`broker_messages_rejected_total{reason="no_recipient"}`: 1, `broker_legacy_auth_hits_total`: 1})
	// A wrong Content-Type is refused before the body is read.
	req, _ := http.NewRequest("POST", e.base+"/v1/topics", strings.NewReader(`{"name":"x"}`))
	req.Header.Set("Authorization", "Bearer "+ms.Key)
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 {
		t.Errorf("text/plain: %d", resp.StatusCode)
	}
}

func TestRateLimit(t *testing.T) {
	testRateLimit(t, newEnv(t, func(c *Config) { c.RateBurst, c.RatePerMin = 10, 60 }))
}

func testRateLimit(t *testing.T, e *tenv) {
	ms := e.createMesh("m", newIdentity(1))
	for i := range 10 {
		e.must(201, "POST", "/v1/messages", ms.Key, map[string]any{"topic": "general", "ciphertext": b64(fmt.Sprint(i))})
	}
	before := e.snapshot()
	m0 := e.metricValues()
	st, h, m := e.doRaw("POST", "/v1/messages", ms.Key, map[string]any{"topic": "general", "ciphertext": b64("x")})
	if st != 429 || m["error"] != "rate_limit" || h.Get("Retry-After") == "" {
		t.Fatalf("11th message: %d %v", st, m)
	}
	if diff := cmp.Diff(before, e.snapshot()); diff != "" {
		t.Fatalf("rate-limited request wrote: %s", diff)
	}
	e.metricDeltas(m0, map[string]float64{`broker_messages_rejected_total{reason="rate_limit"}`: 1})
	// Another member has its own bucket.
	_, bobKey := e.addMember(ms, "bob", newIdentity(2))
	e.must(201, "POST", "/v1/messages", bobKey, map[string]any{"topic": "general", "ciphertext": b64("x")})
}
