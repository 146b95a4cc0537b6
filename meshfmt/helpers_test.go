package meshfmt

import (
	"encoding/base64"
	"testing"

	"filippo.io/edwards25519"
)

func decodeRawURL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

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
