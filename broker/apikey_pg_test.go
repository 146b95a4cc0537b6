package broker

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestAPIKeyNoEscalation: a key cannot mint a key that exceeds it, and a
// new key inherits the caller's scopes and expiry when it omits them.
func TestAPIKeyNoEscalation(t *testing.T) {
	e := newEnv(t, nil)
	ms := e.createMesh("m", newIdentity(1))
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	lim := e.must(201, "POST", "/v1/apikeys", ms.Key, map[string]any{"label": "limited", "capabilities": []string{"admin", "read"},
		"topicScopes": []string{"general"}, "expiresAt": exp.Format(time.RFC3339Nano)})
	limKey := lim["secret"].(string)

	before := e.snapshot()
	for _, c := range []struct {
		name string
		body map[string]any
		code string
	}{
		{"capability", map[string]any{"label": "x", "capabilities": []string{"send"}}, "exceeds_caller_capabilities"},
		{"capabilities", map[string]any{"label": "x", "capabilities": []string{"admin", "read", "send"}}, "exceeds_caller_capabilities"},
		{"scope", map[string]any{"label": "x", "capabilities": []string{"read"}, "topicScopes": []string{"general", "ops"}}, "exceeds_caller_scopes"},
		{"expiry", map[string]any{"label": "x", "capabilities": []string{"read"}, "expiresAt": exp.Add(time.Minute).Format(time.RFC3339Nano)}, "exceeds_caller_expiry"},
	} {
		if m := e.must(403, "POST", "/v1/apikeys", limKey, c.body); m["error"] != c.code {
			t.Errorf("%s: %v", c.name, m)
		}
	}
	if diff := cmp.Diff(before, e.snapshot()); diff != "" {
		t.Fatalf("refused creates wrote: %s", diff)
	}

	// Omitted scopes and expiry are the caller's.
	r := e.must(201, "POST", "/v1/apikeys", limKey, map[string]any{"label": "child", "capabilities": []string{"read"}})
	if !cmp.Equal(r["topicScopes"], []any{"general"}) || r["expiresAt"] != exp.Format(time.RFC3339Nano) {
		t.Fatalf("inherited: %v", r)
	}
	if n := e.count(`SELECT count(*) FROM mesh.api_key WHERE id = $1 AND topic_scopes = '["general"]' AND expires_at = $2::text::timestamp`,
		r["id"], exp.Format("2006-01-02 15:04:05.999999")); n != 1 {
		t.Fatal("inherited scopes and expiry not stored")
	}
	// Within the caller: accepted as asked.
	sooner := exp.Add(-time.Minute)
	r = e.must(201, "POST", "/v1/apikeys", limKey, map[string]any{"label": "c2", "capabilities": []string{"admin"},
		"topicScopes": []string{}, "expiresAt": sooner.Format(time.RFC3339Nano)})
	if !cmp.Equal(r["topicScopes"], []any{}) || r["expiresAt"] != sooner.Format(time.RFC3339Nano) {
		t.Fatalf("narrower: %v", r)
	}
	// An unlimited caller still mints unlimited keys.
	r = e.must(201, "POST", "/v1/apikeys", ms.Key, map[string]any{"label": "full", "capabilities": []string{"send", "read", "admin"}})
	if n := e.count(`SELECT count(*) FROM mesh.api_key WHERE id = $1 AND topic_scopes IS NULL AND expires_at IS NULL`, r["id"]); n != 1 {
		t.Fatalf("unlimited: %v", r)
	}
	// Every topic reads as null, never as [] (no topic, as for c2 above).
	if v, ok := r["topicScopes"]; !ok || v != nil {
		t.Fatalf("unlimited key's topicScopes = %#v, want null", v)
	}
	verifyChain(t, e.pool)
}
