//go:build sodium

package sodium_test

import (
	"context"
	"crypto/ed25519"
	"testing"

	"github.com/claudemesh/meshctl/internal/sodium"
	"github.com/claudemesh/meshctl/meshfmt"
	"github.com/claudemesh/meshctl/vectors"
)

func TestMain(m *testing.M) {
	if err := sodium.Init(); err != nil {
		panic(err)
	}
	m.Run()
}

func embedded(t *testing.T, name string) *vectors.Suite {
	t.Helper()
	suites, err := vectors.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range suites {
		if s.File == name {
			return s
		}
	}
	t.Fatalf("no embedded suite %s", name)
	return nil
}

// TestCCTVStrictEqualsLibsodium: on every CCTV vector, meshfmt.VerifyStrict
// gives libsodium's verdict, and the file's strict policy predicts it.
func TestCCTVStrictEqualsLibsodium(t *testing.T) {
	if v := sodium.Version(); v != "1.0.18" {
		t.Logf("libsodium version %s (the broker's rules are 1.0.18's)", v)
	}
	s := embedded(t, "cctv_ed25519_test.json")
	var goOnly, sodiumOnly, accepted int
	for _, c := range s.Cases {
		in := c.Input.(vectors.Ed25519Verify)
		lib := sodium.SignVerifyDetached(in.Signature, in.Message, in.PublicKey)
		strict := meshfmt.VerifyStrict(in.PublicKey, in.Message, in.Signature)
		plain := ed25519.Verify(in.PublicKey, in.Message, in.Signature)
		if lib != strict {
			t.Errorf("tcId %d %v: libsodium %v, VerifyStrict %v", c.TcID, c.Flags, lib, strict)
		}
		if want := c.Want(true); (want == vectors.Valid) != lib {
			t.Errorf("tcId %d %v: strict policy says %s, libsodium says %v", c.TcID, c.Flags, want, lib)
		}
		if plain && !lib {
			goOnly++
		}
		if lib && !plain {
			sodiumOnly++
		}
		if lib {
			accepted++
		}
	}
	t.Logf("CCTV: %d vectors; libsodium accepts %d; crypto/ed25519 accepts %d that libsodium rejects, and rejects %d that libsodium accepts",
		len(s.Cases), accepted, goOnly, sodiumOnly)
	rep, err := vectors.Run(context.Background(), []*vectors.Suite{s}, vectors.Options{Strict: true})
	if err != nil || !rep.OK() {
		t.Errorf("strict run: %d failed, %v", rep.Failed, err)
	}
}
