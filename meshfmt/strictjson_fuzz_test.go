package meshfmt

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzFlatObject: whatever the strict reader accepts, a plain JSON decoder
// (case-sensitive map, as JSON.parse builds) reads the same keys and values;
// text with a key repeated, in other case than allowed, or of another type
// is never accepted.
func FuzzFlatObject(f *testing.F) {
	for _, s := range []string{`{"role":"member","v":1}`, `{"role":"member","ROLE":"admin"}`, `{"\u0072ole":"x"}`,
		`{"role":"a","\u0072ole":"b"}`, `{"v":"1"}`, `{"v":1.0}`, `{"v":[1]}`, `{} `, `{"role":null}`, `{"v":1}{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		obj, err := flatObject(raw, "role", "v")
		if err != nil {
			return
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("accepted %q, which encoding/json cannot read: %v", raw, err)
		}
		if len(m) != len(obj) {
			t.Fatalf("accepted %q with %d keys; a map holds %d (a repeated key?)", raw, len(obj), len(m))
		}
		for k, v := range obj {
			if k != "role" && k != "v" {
				t.Fatalf("accepted key %q", k)
			}
			switch got := m[k].(type) {
			case string:
				if !v.isStr || v.str != got {
					t.Fatalf("%q: key %s reads %q here, %+v strictly", raw, k, got, v)
				}
			case json.Number:
				if !v.isNum || v.num != got.String() {
					t.Fatalf("%q: key %s reads %s here, %+v strictly", raw, k, got, v)
				}
			case nil:
				if !v.isNull {
					t.Fatalf("%q: key %s is null here", raw, k)
				}
			default:
				t.Fatalf("%q: key %s has type %T", raw, k, got)
			}
		}
	})
}
