//go:build sodium

package sodium_test

import (
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/claudemesh/meshctl/internal/sodium"
	"github.com/claudemesh/meshctl/meshfmt"
)

// TestLibsodiumProducedOpenInGo: objects made by libsodium (random keys,
// its own signing, boxes and sealed boxes) open and verify with meshfmt.
func TestLibsodiumProducedOpenInGo(t *testing.T) {
	for i := 0; i < 25; i++ {
		seed := sodium.RandomBytes(32)
		edpk, edsk := sodium.SignSeedKeypair(seed)

		// Key conversion: both halves equal libsodium's.
		xpk, ok := sodium.PkToCurve25519(edpk)
		gxpk, err := meshfmt.Ed25519PublicKeyToX25519(edpk)
		if !ok || err != nil || hex.EncodeToString(xpk) != hex.EncodeToString(gxpk[:]) {
			t.Fatalf("pk conversion: libsodium %x (%v), Go %x (%v)", xpk, ok, gxpk, err)
		}
		xsk := sodium.SkToCurve25519(edsk)
		gxsk, _ := meshfmt.Ed25519SecretKeyToX25519(edsk)
		if string(xsk) != string(gxsk[:]) {
			t.Fatal("sk conversion differs")
		}
		var rsk [32]byte
		copy(rsk[:], xsk)

		// Hello signed by libsodium.
		now := time.UnixMilli(1_767_225_600_000)
		h := meshfmt.Hello{MeshID: "m" + fmt.Sprint(i), MemberID: "x", PubkeyHex: hex.EncodeToString(edpk), TimestampMs: now.UnixMilli() - 5}
		sig := sodium.SignDetached(h.Canonical(), edsk)
		if err := meshfmt.VerifyHello(h, hex.EncodeToString(sig), now); err != nil {
			t.Fatalf("libsodium-signed hello: %v", err)
		}

		// Invite v2 signed by libsodium.
		canonical := fmt.Sprintf("v=2|mesh%d|inv%d|%d|member|%s", i, i, now.Unix()+60, hex.EncodeToString(edpk))
		stored := meshfmt.InviteV2Stored(canonical, hex.EncodeToString(sodium.SignDetached([]byte(canonical), edsk)))
		if _, err := meshfmt.VerifyInviteV2(stored, now); err != nil {
			t.Fatalf("libsodium-signed invite v2: %v", err)
		}

		// Topic key sealed by libsodium's crypto_box_easy.
		spk, ssk := sodium.BoxKeypair()
		topicKey, nonce := sodium.RandomBytes(32), sodium.RandomBytes(24)
		box, ok := sodium.BoxEasy(topicKey, nonce, xpk, ssk)
		if !ok {
			t.Fatal("crypto_box_easy failed")
		}
		blob := sodium.Bin2Base64(append(spk, box...), sodium.Base64Original)
		got, sender, err := meshfmt.OpenTopicKey(blob, sodium.Bin2Base64(nonce, sodium.Base64Original), rsk)
		if err != nil || string(got[:]) != string(topicKey) || string(sender[:]) != string(spk) {
			t.Fatalf("libsodium-sealed topic key: %v", err)
		}

		// Body v2 by crypto_secretbox_easy.
		text := fmt.Sprintf("body %d ✓", i)
		ct := sodium.SecretboxEasy([]byte(text), nonce, topicKey)
		if pt, err := meshfmt.DecodeBodyV2(sodium.Bin2Base64(ct, sodium.Base64Original), sodium.Bin2Base64(nonce, sodium.Base64Original), got); err != nil || pt != text {
			t.Fatalf("libsodium body v2: %q, %v", pt, err)
		}

		// Root key by crypto_box_seal (libsodium's own random ephemeral key)
		// of the 32 decoded bytes, as upstream's sealRootKeyToRecipient does.
		rootKeyBytes := sodium.RandomBytes(32)
		rootKey := sodium.Bin2Base64(rootKeyBytes, sodium.Base64URLSafeNoPadding)
		sealed, ok := sodium.BoxSeal(rootKeyBytes, xpk)
		if len(sealed) != 80 {
			t.Fatalf("libsodium sealed %d bytes, want 80", len(sealed))
		}
		var rpk [32]byte
		copy(rpk[:], xpk)
		if rk, err := meshfmt.OpenRootKey(sodium.Bin2Base64(sealed, sodium.Base64URLSafeNoPadding), rpk, rsk); !ok || err != nil || rk != rootKey {
			t.Fatalf("libsodium-sealed root key: %v", err)
		}

		// API key spelled by libsodium's base64url and hashed by its sha256.
		secret := "cm_" + sodium.Bin2Base64(sodium.RandomBytes(32), sodium.Base64URLSafeNoPadding)
		k, err := meshfmt.ParseAPIKey(secret)
		if err != nil || k.Hash != hex.EncodeToString(sodium.SHA256([]byte(secret))) {
			t.Fatalf("libsodium-made API key: %v", err)
		}
	}
}

// TestGoProducedOpenInLibsodium is the converse for the sealing formats.
func TestGoProducedOpenInLibsodium(t *testing.T) {
	for i := 0; i < 25; i++ {
		xpk, xsk := sodium.BoxKeypair()
		var rpk [32]byte
		copy(rpk[:], xpk)
		var tk, ssk [32]byte
		var n [24]byte
		copy(tk[:], sodium.RandomBytes(32))
		copy(ssk[:], sodium.RandomBytes(32))
		copy(n[:], sodium.RandomBytes(24))
		blob, _, err := meshfmt.SealTopicKey(tk, n, rpk, ssk)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := sodium.Base642Bin(blob, sodium.Base64Original)
		if m, ok := sodium.BoxOpenEasy(raw[32:], n[:], raw[:32], xsk); !ok || string(m) != string(tk[:]) {
			t.Fatal("libsodium cannot open a Go-sealed topic key")
		}
		rootKey := sodium.Bin2Base64(sodium.RandomBytes(32), sodium.Base64URLSafeNoPadding)
		sealed, err := meshfmt.SealRootKey(randReader{}, rootKey, rpk)
		if err != nil {
			t.Fatal(err)
		}
		sraw, _ := sodium.Base642Bin(sealed, sodium.Base64URLSafeNoPadding)
		if m, ok := sodium.BoxSealOpen(sraw, xpk, xsk); !ok || sodium.Bin2Base64(m, sodium.Base64URLSafeNoPadding) != rootKey || len(m) != 32 {
			t.Fatal("libsodium cannot open a Go-sealed root key")
		}
	}
}

type randReader struct{}

func (randReader) Read(p []byte) (int, error) {
	copy(p, sodium.RandomBytes(len(p)))
	return len(p), nil
}
