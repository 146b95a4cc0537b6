// Package vectors loads, runs and generates the crypto review vectors of
// meshctl: Wycheproof-style JSON files that pin every primitive and mesh
// format of SPEC §4 (and the lock keys and audit row hash), embedded in the
// binary.
//
// Invariants:
//   - Vectors are data. A file's expected verdicts never come from the code
//     under test at run time; the mesh-format files are generated once,
//     deterministically from a seed (Generate), committed, and cross-checked
//     against libsodium by the tests behind the "sodium" build tag.
//   - Every test has result valid, invalid or acceptable. An acceptable test
//     is decided by the written policy of its flags (the file's notes, or
//     BuiltinPolicies for vendored third-party files): a file whose
//     acceptable test carries a flag with no policy is malformed.
//   - Load never panics and names the file, tcId and field of the first
//     problem (MalformedError). Run never prints: it returns a Report.
//   - For every valid signature, box or secretbox vector, Run adds the
//     single-byte flips (generated negatives) that must all be refused.
package vectors
