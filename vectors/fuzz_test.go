package vectors

import (
	"errors"
	"testing"
)

// FuzzLoad: Load never panics, every error is a *MalformedError, and
// whatever loads can be run (inputs never panic on odd lengths).
func FuzzLoad(f *testing.F) {
	files, _ := EmbeddedFiles()
	for _, name := range []string{"mesh_lock_key_test.json", "nacl_box_test.json", "rfc7748_x25519_test.json"} {
		f.Add(files[name])
	}
	f.Add([]byte(`{"algorithm":"MESH-HELLO","schema":"meshctl_mesh_hello_v1","notes":{"A":{"description":"x","policy":{"default":"valid","reason":"r"}}},"testGroups":[{"type":"HelloSignature","tests":[{"tcId":1,"flags":["A"],"meshId":"m","memberId":"x","pubkey":"00","timestampMs":1,"nowMs":2,"sig":"00","result":"acceptable"}]}]}`))
	f.Add([]byte(`{"algorithm":"MESH-TOPIC-KEY","schema":"meshctl_mesh_topickey_v1","notes":{},"testGroups":[{"type":"TopicKeySeal","recipientSecret":"0000000000000000000000000000000000000000000000000000000000000000","tests":[{"tcId":1,"nonce":"","blob":"","topicKey":"0000000000000000000000000000000000000000000000000000000000000000","result":"valid"}]}]}`))
	f.Add([]byte(`{"algorithm":"XDH","schema":"xdh_comp_schema_v1.json","notes":{},"testGroups":[{"type":"XdhComp","tests":[{"tcId":1,"private":"00","public":"00","shared":"00","result":"acceptable"}]}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Load("fuzz.json", data)
		if err != nil {
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("error is not a *MalformedError: %v", err)
			}
			return
		}
		cases := append(s.Cases, Expand(s)...)
		if len(cases) > 64 {
			return // running many vectors is slow, not more thorough
		}
		for _, c := range cases {
			if it, ok := c.Input.(X25519Iterate); ok && it.Iterations > 100 {
				continue // slow, not unsafe
			}
			c.Input.Accept(Options{})
			c.Input.Accept(Options{Strict: true})
		}
	})
}
