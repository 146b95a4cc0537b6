// Package meshfmt holds the wire and storage formats that claudemesh peers,
// the broker and meshctl must agree on byte for byte (SPEC §4): API-key
// secrets, ed25519 → x25519 key conversion, topic-key sealed copies,
// message bodies v1/v2, hello signatures, invites v1/v2, the root-key
// sealed box, and the advisory-lock keys. Token payloads are read strictly
// (see ParseInviteV1): what JavaScript's JSON.parse could read differently
// is refused.
//
// It is the single source of truth for each format: the broker, the
// backfills, the audit writer, the migration runner and the crypto vectors
// all import it, so a format can never drift between two copies.
//
// Invariants and security contracts:
//   - libsodium semantics. The broker and CLI run libsodium-wrappers 0.7.15,
//     which is libsodium 1.0.20 compiled to WebAssembly, so every verdict
//     here is libsodium 1.0.20's (its rules for the functions used here are
//     those of Debian's 1.0.18 too; the vectors are checked against both):
//     ed25519 signatures are verified with VerifyStrict (never
//     crypto/ed25519.Verify, which accepts small-order and non-canonical
//     keys libsodium refuses); every x25519 computation
//     refuses a small-order peer key (all-zero shared secret), which
//     golang.org/x/crypto/nacl/box.Precompute does not. The crypto review
//     vectors check both against libsodium itself.
//   - Strict decoding. Stored encodings are accepted in their one canonical
//     spelling only (padding as the format has it, zero unused bits, no
//     line breaks, exact lengths): two spellings of one value never both pass.
//   - Secrets stay secret. Errors name the field and what is wrong, never
//     the value; APIKey.String redacts the secret.
//   - Nonces are the caller's duty: a (key, nonce) pair must never repeat.
//     Production callers draw nonces and ephemeral keys from crypto/rand.
//   - No I/O, no globals with state, no logging: pure functions of their
//     inputs (randomness is passed in as an io.Reader).
package meshfmt
