// Package broker is the reference claudemesh broker: a small, real broker
// on the reference schema (package migrations) that writes the data meshctl
// migrates, backfills and verifies.
//
// Invariants it keeps:
//   - Every audited write (members joining, messages, API keys, bans) goes
//     through audit.Append inside the same transaction as the write it
//     records, so a replica that dies mid-request leaves neither half.
//   - A request that is refused (any 4xx) writes nothing.
//   - Secrets never leave the process except once, in the response that
//     creates them (API keys); the topic sender secret key and plaintext
//     topic keys are dropped right after sealing.
//   - Several replicas may share one database: the startup migration runs
//     under package migrate's advisory lock, the audit chain under its
//     per-mesh transaction lock; rate limits and live connections are per
//     replica.
//   - Readiness comes from a background probe, so a dead database never
//     hangs a probe request.
package broker
