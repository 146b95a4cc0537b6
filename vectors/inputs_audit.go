package vectors

import (
	"time"

	"github.com/claudemesh/meshctl/audit"
)

// AuditRowCase: audit.HashV1 of the row must be Hash (SPEC §3). The
// expected hashes come from Node, the upstream runtime
// (testdata/audit/audit_v1_vectors.mjs), never from Go.
type AuditRowCase struct {
	PrevHash, MeshID, EventType string
	Actor                       *string // nil = NULL actor_member_id
	Payload                     string  // JSON text, as read back from jsonb
	CreatedAt                   time.Time
	Hash                        string
}

func (in AuditRowCase) Accept(Options) (bool, string) {
	got, err := audit.HashV1(in.PrevHash, in.MeshID, in.EventType, in.Actor, []byte(in.Payload), in.CreatedAt)
	if err != nil {
		return false, err.Error()
	}
	if got != in.Hash {
		return false, "hash is " + got
	}
	return true, ""
}

func decodeAuditRow(r *reader) (Input, error) {
	f := fields{r: r}
	in := AuditRowCase{PrevHash: f.str("prevHash"), MeshID: f.str("meshId"), EventType: f.str("eventType"),
		Actor: f.nullableStr("actor"), Payload: f.str("payload"), Hash: f.str("hash")}
	created := f.str("createdAt")
	if f.err != nil {
		return nil, f.err
	}
	t, err := time.Parse(time.RFC3339Nano, created)
	if err != nil {
		return nil, &fieldError{"createdAt", "not an RFC 3339 time"}
	}
	in.CreatedAt = t.UTC()
	return in, nil
}
