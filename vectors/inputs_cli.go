package vectors

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"

	"github.com/claudemesh/meshctl/meshfmt"
	"golang.org/x/crypto/chacha20poly1305"
)

// backupKeys caches Argon2id results (64 MiB, two passes each) by
// passphrase and salt, so a file's flips cost one derivation.
var backupKeys sync.Map

func backupKey(pass string, salt []byte) [32]byte {
	id := pass + "\x00" + string(salt)
	if k, ok := backupKeys.Load(id); ok {
		return k.([32]byte)
	}
	k := meshfmt.BackupKey(pass, salt)
	backupKeys.Store(id, k)
	return k
}

// BackupCase: File must open with Passphrase to Plaintext. Long cases
// cost an Argon2id derivation of their own (64 MiB) and run with Options.Long.
type BackupCase struct {
	Passphrase string
	File       []byte
	Plaintext  []byte
	Long       bool
}

func (in BackupCase) slow() (bool, string) {
	return in.Long, "an Argon2id derivation of its own (64 MiB)"
}

func (in BackupCase) Accept(Options) (bool, string) {
	salt, _, _, err := meshfmt.ParseBackup(in.File)
	if err != nil {
		return false, err.Error()
	}
	pt, err := meshfmt.OpenBackupWithKey(in.File, backupKey(in.Passphrase, salt))
	if err != nil {
		return false, err.Error()
	}
	if !bytes.Equal(pt, in.Plaintext) {
		return false, "plaintext differs"
	}
	return true, ""
}

// flips: the magic, the nonce and the ciphertext with its tag. The salt's
// bytes are left out: each would cost an Argon2id derivation (64 MiB), and
// a changed salt is a vector of its own (SaltChanged).
func (in BackupCase) flips() []flip {
	all := flipEach(in.File, func(i int, fb []byte) flip {
		c := in
		c.File, c.Long = fb, false
		part := "magic"
		switch {
		case i >= 44:
			part = "ciphertext"
		case i >= 20:
			part = "nonce"
		case i >= 4:
			part = "salt"
		}
		return flip{fmt.Sprintf("file byte %d (%s) flipped", i, part), c}
	})
	return append(all[:4:4], all[20:]...)
}

// CLISessionCase: Token must verify with Secret and hash to TokenHash; with
// Sub, the claims must carry Sub and Name.
type CLISessionCase struct {
	Secret, Token, TokenHash string
	Sub, Name                string
}

func (in CLISessionCase) Accept(Options) (bool, string) {
	c, err := meshfmt.VerifyCLISession(in.Token, in.Secret)
	if err != nil {
		return false, err.Error()
	}
	if h := meshfmt.CLISessionTokenHash(in.Token); h != in.TokenHash {
		return false, "token hash is " + h
	}
	if in.Sub != "" && (c.Sub != in.Sub || c.Name != in.Name) {
		return false, "claims differ"
	}
	return true, ""
}

func (in CLISessionCase) flips() []flip {
	i := strings.LastIndexByte(in.Token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(in.Token[i+1:])
	if i < 0 || err != nil {
		return nil
	}
	return flipEach(sig, func(j int, fb []byte) flip {
		c := in
		c.Token = in.Token[:i+1] + base64.RawURLEncoding.EncodeToString(fb)
		c.TokenHash = meshfmt.CLISessionTokenHash(c.Token)
		return flip{fmt.Sprintf("signature byte %d flipped", j), c}
	})
}

// AEADCase is a Wycheproof XChaCha20-Poly1305 test: CT ‖ Tag must open
// with Key, IV and AAD to Msg, and sealing must reproduce it.
type AEADCase struct {
	Key, IV, AAD, Msg, CT, Tag []byte
}

func (in AEADCase) Accept(Options) (bool, string) {
	if len(in.IV) != chacha20poly1305.NonceSizeX {
		return false, fmt.Sprintf("nonce of %d bytes", len(in.IV))
	}
	aead, err := chacha20poly1305.NewX(in.Key)
	if err != nil {
		return false, err.Error()
	}
	sealed := append(bytes.Clone(in.CT), in.Tag...)
	pt, err := aead.Open(nil, in.IV, sealed, in.AAD)
	if err != nil {
		return false, "authentication failed"
	}
	if !bytes.Equal(pt, in.Msg) || !bytes.Equal(aead.Seal(nil, in.IV, in.Msg, in.AAD), sealed) {
		return false, "plaintext or ciphertext differs"
	}
	return true, ""
}

// flips: the tag's bytes (the tag covers the ciphertext and AAD, whose
// changes the file's ModifiedTag and edge-case vectors already cover).
func (in AEADCase) flips() []flip {
	return flipEach(in.Tag, func(i int, fb []byte) flip {
		c := in
		c.Tag = fb
		return flip{fmt.Sprintf("tag byte %d flipped", i), c}
	})
}
