package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"time"
)

// Genesis is the prev_hash of the first row of every mesh's chain.
const Genesis = "genesis"

// nullActor stands for a NULL actor_member_id in the hashed string.
const nullActor = "null"

// ErrTimeRange reports a created_at that JavaScript's Date cannot
// represent (beyond ±8.64e15 ms from the epoch), so no v1 hash exists.
var ErrTimeRange = errors.New("created_at is outside the range of a JavaScript Date")

// HashV1 returns the lowercase-hex v1 row hash (SPEC §3):
// sha256hex(prev|mesh|event|actor|canonical(payload)|created_at_iso).
func HashV1(prevHash, meshID, eventType string, actor *string, payload []byte, createdAt time.Time) (string, error) {
	var h hasher
	canon, err := h.canon.Append(nil, payload)
	if err != nil {
		return "", err
	}
	a, null := "", true
	if actor != nil {
		a, null = *actor, false
	}
	ms, ok := unixMilli(createdAt)
	if !ok {
		return "", ErrTimeRange
	}
	sum := h.sum([]byte(prevHash), []byte(meshID), []byte(eventType), []byte(a), null, canon, ms)
	return hex.EncodeToString(sum[:]), nil
}

// hasher computes v1 hashes with reusable buffers (one per goroutine).
type hasher struct {
	canon Canonicalizer
	buf   []byte
	sha   hash.Hash
}

// sum hashes one row whose payload is already canonical.
func (h *hasher) sum(prev, mesh, event, actor []byte, actorNull bool, canon []byte, ms int64) [sha256.Size]byte {
	b := h.prefix(h.buf[:0], prev, mesh, event, actor, actorNull)
	b = append(b, canon...)
	b = append(b, '|')
	b = appendISO(b, ms)
	h.buf = b
	return sha256.Sum256(b)
}

// prefix appends the hashed fields before the payload, with their "|".
func (h *hasher) prefix(b, prev, mesh, event, actor []byte, actorNull bool) []byte {
	b = append(b, prev...)
	b = append(b, '|')
	b = append(b, mesh...)
	b = append(b, '|')
	b = append(b, event...)
	b = append(b, '|')
	if actorNull {
		b = append(b, nullActor...)
	} else {
		b = append(b, actor...)
	}
	return append(b, '|')
}

// JavaScript Date's range: ±8.64e15 ms around the epoch.
const maxDateMs = 8_640_000_000_000_000

// unixMilli truncates t to milliseconds, as a JavaScript Date holds it.
func unixMilli(t time.Time) (int64, bool) {
	if t.Before(time.UnixMilli(-maxDateMs)) || t.After(time.UnixMilli(maxDateMs)) {
		return 0, false
	}
	return t.UnixMilli(), true // floor: the sub-millisecond part is dropped
}

// FormatISO writes t as JavaScript's Date.prototype.toISOString does:
// UTC, exactly three fractional digits (truncated), and the six-digit
// signed year form outside 0000..9999.
func FormatISO(t time.Time) (string, error) {
	ms, ok := unixMilli(t)
	if !ok {
		return "", ErrTimeRange
	}
	return string(appendISO(nil, ms)), nil
}

// appendISO formats milliseconds since the Unix epoch as toISOString.
func appendISO(b []byte, ms int64) []byte {
	sec := ms / 1000
	frac := ms % 1000
	if frac < 0 {
		frac += 1000
		sec--
	}
	t := time.Unix(sec, 0).UTC()
	year, month, day := t.Date()
	hour, minute, second := t.Clock()
	switch {
	case year >= 0 && year <= 9999:
		b = append4(b, year)
	case year < 0:
		b = append(b, '-')
		b = append6(b, -year)
	default:
		b = append(b, '+')
		b = append6(b, year)
	}
	b = append(b, '-')
	b = append2(b, int(month))
	b = append(b, '-')
	b = append2(b, day)
	b = append(b, 'T')
	b = append2(b, hour)
	b = append(b, ':')
	b = append2(b, minute)
	b = append(b, ':')
	b = append2(b, second)
	b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10), 'Z')
	return b
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
func append4(b []byte, v int) []byte { return append2(append2(b, v/100), v%100) }
func append6(b []byte, v int) []byte { return append4(append2(b, v/10000), v%10000) }
