package audit

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestLargePayloadHash: rows with payloads of largePayload bytes or more
// are hashed as a stream (the top level written to SHA-256 as it is
// sorted); the hash equals HashV1's, which builds the whole input.
func TestLargePayloadHash(t *testing.T) {
	var obj, arr, deep strings.Builder
	obj.WriteString(`{"😃":0,"z":1,"😂":2,"z":3`)
	for i := 0; obj.Len() < largePayload; i++ {
		fmt.Fprintf(&obj, `, "k%d": {"b": [%d, 1e21], "a": "\ud83d\ude00 %d"}`, i*7919%100003, i, i)
	}
	obj.WriteString(`}`)
	arr.WriteString(`[`)
	for i := 0; arr.Len() < largePayload; i++ {
		fmt.Fprintf(&arr, `{"y":%d,"x":"%d"},`, i, i)
	}
	arr.WriteString(`{}]`)
	deep.WriteString(`{"b":{"d":1,"c":` + strings.Repeat(" ", largePayload) + `[2]},"a":[]}`)
	docs := []string{obj.String(), arr.String(), deep.String(), `"` + strings.Repeat("é\\n", largePayload/3) + `"`, `{}` + strings.Repeat(" ", largePayload)}
	actor := "member1"
	created := time.Date(2026, 4, 15, 12, 0, 0, 7e6, time.UTC)
	var h hasher
	for i, d := range docs {
		if len(d) < largePayload {
			t.Fatalf("doc %d: %d bytes, not large", i, len(d))
		}
		want, err := HashV1("prev", "m", "state_set", &actor, []byte(d), created)
		if err != nil {
			t.Fatal(err)
		}
		r := rowView{mesh: []byte("m"), event: []byte("state_set"), actor: []byte(actor), payload: []byte(d), prev: []byte("prev"), ms: created.UnixMilli()}
		h.compute(&r, nil)
		if got := hex.EncodeToString(r.computed[:]); r.problem != "" || got != want {
			t.Errorf("doc %d (%.40s...): hash %s (%s), want %s", i, d, got, r.problem, want)
		}
	}
	for _, bad := range []string{obj.String()[:obj.Len()-1], obj.String() + "x", `[` + arr.String()} {
		r := rowView{payload: []byte(bad), ms: created.UnixMilli()}
		h.compute(&r, nil)
		if !strings.HasPrefix(r.problem, "payload: invalid JSON") {
			t.Errorf("invalid large payload: problem %q", r.problem)
		}
	}
}
