package meshfmt

import "testing"

func TestAuditLockKeyPin(t *testing.T) {
	// SPEC §3 pin.
	if got, want := AuditLockKey("mesh1"), int64(870734828183836005); got != want {
		t.Fatalf("AuditLockKey(mesh1) = %d, want %d", got, want)
	}
}
