package meshfmt

import (
	"crypto/ed25519"
	"testing"

	"filippo.io/edwards25519"
)

// addOrder2 returns the encoding of P + T2, T2 the point of order 2.
func addOrder2(t *testing.T, p []byte) []byte {
	t.Helper()
	P, err := new(edwards25519.Point).SetBytes(p)
	if err != nil {
		t.Fatal(err)
	}
	T2, err := new(edwards25519.Point).SetBytes(smallOrderEdwards[4][:])
	if err != nil {
		t.Fatal(err)
	}
	return new(edwards25519.Point).Add(P, T2).Bytes()
}

func ed25519Sign(sk []byte, msg []byte) []byte { return ed25519.Sign(sk, msg) }
