package meshfmt

import (
	"crypto/sha256"
	"encoding/binary"
)

// MigrationLockKey is the session-level advisory lock key the upstream
// migration runner takes. meshctl takes the same key so that the two
// runners can never apply migrations at the same time.
const MigrationLockKey int64 = 7473773831

// AuditLockKey returns the transaction-level advisory lock key that every
// audit writer takes before reading a mesh's chain tail: the first eight
// bytes of sha256("audit:" + meshID), big-endian, masked to 63 bits so the
// key is a non-negative bigint.
func AuditLockKey(meshID string) int64 {
	sum := sha256.Sum256([]byte("audit:" + meshID))
	return int64(binary.BigEndian.Uint64(sum[:8]) & (1<<63 - 1))
}
