// Package vectors loads, runs and generates the crypto review vectors of
// meshctl: Wycheproof-style JSON files that pin every primitive and mesh
// format of SPEC §4 (and the lock keys, the audit row hash and mention
// extraction), embedded in the binary.
//
// Invariants:
//   - Vectors are data. A file's expected verdicts never come from the code
//     under test: the mesh_*.json files are generated once, deterministically
//     from a seed (Generate), from objects made with golang.org/x/crypto and
//     negatives invalid by construction; upstream_*.json hold objects made by
//     upstream claudemesh's own code (vectors/upstream); audit_v1 and
//     mention_v1 are computed by Node. Every file is decided again by
//     libsodium 1.0.20 in Node (vectors/oracle) and validated against its
//     JSON Schema (vectors/schema).
//   - Every test has result valid, invalid or acceptable. An acceptable test
//     is decided by the written policy of its flags (the file's notes, or
//     BuiltinPolicies for vendored third-party files): a file whose
//     acceptable test carries a flag with no policy is malformed. A policy
//     verdict "either" pins nothing in its mode.
//   - Load never panics and names the file, tcId and field of the first
//     problem (MalformedError). Run never prints: it returns a Report.
//   - Every valid signature, box, sealed box or AEAD vector has its
//     single-byte flips, all required to be refused: written into the
//     generated files (ByteFlip tests), added by Run for the others.
//   - WriteDir never leaves a directory half-replaced.
package vectors
