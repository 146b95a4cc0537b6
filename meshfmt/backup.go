package meshfmt

import (
	"bytes"
	"unicode/utf16"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// CLI backup file (SPEC §4, `claudemesh backup`/`restore`): "CMB1" ‖
// salt(16) ‖ nonce(24) ‖ XChaCha20-Poly1305(config, no additional data)
// under key = Argon2id(passphrase, salt) at libsodium's INTERACTIVE limits
// (crypto_pwhash_OPSLIMIT_INTERACTIVE = 2 passes,
// crypto_pwhash_MEMLIMIT_INTERACTIVE = 64 MiB, one lane; golang.org/x/crypto/argon2
// is byte-compatible). The passphrase is hashed as its UTF-8 bytes.
//
// Upstream's backup refuses passphrases shorter than 12 characters
// (JavaScript length: UTF-16 code units), so SealBackup does too; its
// restore does not check, so OpenBackup accepts any passphrase. Restore
// also refuses a file shorter than 61 bytes (4 + 16 + 24 + 17: at least one
// byte of config), which OpenBackup follows. Security contract: a fresh
// random salt and nonce per file; the passphrase and the file's plaintext
// (the CLI's config with secret keys) are secrets.
const (
	BackupMagic         = "CMB1"
	BackupSaltSize      = 16
	BackupNonceSize     = chacha20poly1305.NonceSizeX
	BackupMinPassphrase = 12
	BackupMinSize       = len(BackupMagic) + BackupSaltSize + BackupNonceSize + chacha20poly1305.Overhead + 1

	backupOpsLimit = 2         // crypto_pwhash_OPSLIMIT_INTERACTIVE
	backupMemKiB   = 64 * 1024 // crypto_pwhash_MEMLIMIT_INTERACTIVE (67108864 bytes)
)

// BackupKey derives the file key from a passphrase and salt (Argon2id13,
// as libsodium's crypto_pwhash with ALG_ARGON2ID13). It costs 64 MiB and
// two passes: callers opening many files with one passphrase and salt may
// keep the key.
func BackupKey(passphrase string, salt []byte) [32]byte {
	var k [32]byte
	copy(k[:], argon2.IDKey([]byte(passphrase), salt, backupOpsLimit, backupMemKiB, 1, 32))
	return k
}

// SealBackup returns the backup file of plaintext.
func SealBackup(passphrase string, salt [BackupSaltSize]byte, nonce [BackupNonceSize]byte, plaintext []byte) ([]byte, error) {
	if len(utf16.Encode([]rune(passphrase))) < BackupMinPassphrase {
		return nil, formatErr("passphrase", "shorter than %d characters", BackupMinPassphrase)
	}
	k := BackupKey(passphrase, salt[:])
	aead, _ := chacha20poly1305.NewX(k[:])
	out := append([]byte(BackupMagic), salt[:]...)
	out = append(out, nonce[:]...)
	return aead.Seal(out, nonce[:], plaintext, nil), nil
}

// ParseBackup splits a backup file into salt, nonce and ciphertext,
// checking the magic and the minimum size.
func ParseBackup(file []byte) (salt, nonce, ciphertext []byte, err error) {
	if len(file) < BackupMinSize || !bytes.HasPrefix(file, []byte(BackupMagic)) {
		return nil, nil, nil, formatErr("backup", "not a claudemesh backup file (want %q and at least %d bytes)", BackupMagic, BackupMinSize)
	}
	s := len(BackupMagic)
	return file[s : s+BackupSaltSize], file[s+BackupSaltSize : s+BackupSaltSize+BackupNonceSize], file[s+BackupSaltSize+BackupNonceSize:], nil
}

// OpenBackup decrypts a backup file with its passphrase.
func OpenBackup(file []byte, passphrase string) ([]byte, error) {
	salt, _, _, err := ParseBackup(file)
	if err != nil {
		return nil, err
	}
	return OpenBackupWithKey(file, BackupKey(passphrase, salt))
}

// OpenBackupWithKey decrypts a backup file with a key from BackupKey.
func OpenBackupWithKey(file []byte, key [32]byte) ([]byte, error) {
	_, nonce, ct, err := ParseBackup(file)
	if err != nil {
		return nil, err
	}
	aead, _ := chacha20poly1305.NewX(key[:])
	pt, err := aead.Open(nil, nonce, ct, nil)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
