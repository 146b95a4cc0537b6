// Package audit writes and verifies claudemesh's append-only audit chain,
// format v1 (SPEC §3), byte-exactly with the upstream TypeScript broker.
//
// Invariants it keeps:
//   - A row's hash is sha256hex(prev|mesh|event|actor|canonical(payload)|iso),
//     where canonical is what JavaScript makes of the jsonb payload
//     (JSON.parse, then JSON.stringify with keys sorted by UTF-16 code units)
//     and iso is Date.toISOString of created_at truncated to milliseconds.
//   - Chains are per mesh in id order; the first row's prev_hash is "genesis".
//   - Append takes pg_advisory_xact_lock(meshfmt.AuditLockKey(mesh)) in the
//     caller's transaction before reading the tail, so writers on any number
//     of connections or replicas never fork a chain; it hashes the payload
//     in the form jsonb will give back, so its rows never raise false alarms.
//   - Verify streams rows (binary COPY, bounded memory), never stops at the
//     first break, and classifies every break it finds; checkpoints catch
//     what a chain alone cannot (a deleted tail, a re-sealed suffix).
//   - Each mesh's chain is an RFC 6962 Merkle tree whose leaf i is the
//     i-th row in id order, with the 32 bytes of its v1 hash as leaf data
//     (LeafData); golang.org/x/mod/sumdb/tlog computes every hash.
//   - A checkpoint file is one signed unit: an index note binding one C2SP
//     tlog-checkpoint per mesh, all signed by the installation's key, whose
//     name is the installation's origin. OpenCheckpoint trusts a file
//     entirely or not at all: a note removed, added, edited or moved fails
//     it (ErrCheckpointForged).
//   - Proofs (inclusion of one event, consistency of two checkpoints) are
//     checked by CheckProof with the public key alone, and only in the
//     exact form EncodeProof writes, so every byte of a proof matters.
//
// The package prints nothing: it returns reports and typed errors.
package audit
