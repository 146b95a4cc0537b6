package audit

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// benchPayloads are payloads as jsonb gives them back (key order by
// length, a space after ':' and ','), like the rows Verify reads.
var benchPayloads = [][]byte{
	[]byte(`{"priority": "next", "targetSpec": "@peer42"}`),
	[]byte(`{"groups": ["ops", "dev"], "pubkey": "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664", "restored": false}`),
	[]byte(`{"key": "deploy.window", "value": {"x": 1.5, "y": [1, 2, 3], "note": "Grüße \"quoted\""}}`),
	[]byte(`{}`),
}

// BenchmarkCanonical: canonicalisation alone, per payload, one core.
func BenchmarkCanonical(b *testing.B) {
	for i, p := range benchPayloads {
		b.Run(fmt.Sprint(i), func(b *testing.B) {
			var c Canonicalizer
			var out []byte
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				out, _ = c.Append(out[:0], p)
			}
		})
	}
}

// BenchmarkCanonicalJSONText: the same payloads through jsontext, for scale.
func BenchmarkCanonicalJSONText(b *testing.B) {
	for i, p := range benchPayloads {
		b.Run(fmt.Sprint(i), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v := jsontext.Value(append([]byte(nil), p...))
				_ = v.Canonicalize()
			}
		})
	}
}

// BenchmarkSHA256Row: the hash alone over a typical row's hashed string.
func BenchmarkSHA256Row(b *testing.B) {
	line := []byte("3f2a9c0e5b7d4e1f8a6c2b9d0e7f1a3c5b8d2e4f6a9c1b3d5e7f9a2c4b6d8e0f|mesh0000000000000000000000000042|message_sent|member00000000000000000000000007|{\"priority\":\"next\",\"targetSpec\":\"@peer42\"}|2026-04-15T12:00:00.000Z")
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		sha256.Sum256(line)
	}
}

// BenchmarkRowHash: what a verify worker does per row (canonical + sha256).
func BenchmarkRowHash(b *testing.B) {
	var h hasher
	var canon []byte
	actor := []byte("member00000000000000000000000007")
	r := rowView{mesh: []byte("mesh0000000000000000000000000042"), event: []byte("message_sent"), actor: actor,
		prev: []byte("3f2a9c0e5b7d4e1f8a6c2b9d0e7f1a3c5b8d2e4f6a9c1b3d5e7f9a2c4b6d8e0f"), ms: time.Now().UnixMilli()}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.payload = benchPayloads[i%len(benchPayloads)]
		canon = h.compute(&r, canon)
		i++
	}
}
