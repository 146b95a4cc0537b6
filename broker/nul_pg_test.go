package broker

import (
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"
)

// TestNULInputs: text PostgreSQL cannot store (NUL) is refused as bad
// input before any SQL, not reported as a database outage.
func TestNULInputs(t *testing.T) {
	e := newEnv(t, nil)
	ms := e.createMesh("m", newIdentity(1))
	bob := newIdentity(2)
	bobID, _ := e.addMember(ms, "bob", bob)
	before := e.snapshot()
	for _, c := range []struct {
		method, path string
		body         any
		code         string
	}{
		{"GET", "/v1/topics/%00/key", nil, "invalid_topic"},
		{"GET", "/v1/topics/a%00b/key", nil, "invalid_topic"},
		{"POST", "/v1/notifications/read", map[string]any{"ids": []string{"\x00"}}, "invalid_ids"},
		{"POST", "/v1/apikeys", map[string]any{"label": "x", "capabilities": []string{"read"}, "memberId": "a\x00"}, "invalid_member_id"},
		{"POST", "/v1/messages", map[string]any{"topic": "general", "ciphertext": b64("hi"), "nonce": "\x00"}, "invalid_body"},
	} {
		if m := e.must(400, c.method, c.path, ms.Key, c.body); m["error"] != c.code {
			t.Errorf("%s %s: %v, want %s", c.method, c.path, m, c.code)
		}
	}

	for field, val := range map[string]string{"cwd": "/a\x00b", "meshId": ms.ID + "\x00", "memberId": "\x00"} {
		reason := e.dialHello(ms.ID, bobID, "s-"+field, bob, 0, func(h map[string]any) { h[field] = val }).
			expectClose(websocket.StatusPolicyViolation)
		if !strings.Contains(reason, field) {
			t.Errorf("hello with NUL in %s: close reason %q", field, reason)
		}
	}
	admin := e.dialHello(ms.ID, ms.OwnerID, "admin", ms.owner, 0, nil)
	admin.expectOK()
	for _, op := range []string{"kick", "ban", "unban"} {
		admin.send(map[string]any{"type": op, "target": "bob\x00"})
		if m, _, _ := admin.read(); m["code"] != "invalid" {
			t.Errorf("%s with NUL target: %v", op, m)
		}
	}
	after := e.snapshot()
	delete(before, "mesh.presence")
	delete(after, "mesh.presence") // the admin's connection
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("refused inputs wrote: %s", diff)
	}
	if n := e.metricValues()[`broker_connections_rejected_total{reason="unavailable"}`]; n != 0 {
		t.Fatalf("%v hellos refused as a database outage", n)
	}
}
