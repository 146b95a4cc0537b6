// Package meshfmt holds the wire and storage formats that claudemesh peers,
// the broker and meshctl must agree on byte for byte: advisory-lock keys,
// API-key secrets, topic-key seals, signatures and mention extraction.
//
// It is the single source of truth for each format: the broker, the
// backfills, the audit writer, the migration runner and the crypto vectors
// all import it, so a format can never drift between two copies.
package meshfmt
