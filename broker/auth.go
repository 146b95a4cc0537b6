package broker

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/meshfmt"
)

// Capabilities an API key may hold.
const (
	capSend  = "send"
	capRead  = "read"
	capAdmin = "admin"
)

var validCaps = map[string]bool{capSend: true, capRead: true, capAdmin: true}

// caller is the authenticated API key and the member it acts as.
type caller struct {
	KeyID       string
	MeshID      string
	MemberID    string
	MemberName  string
	MemberPK    string
	Caps        map[string]bool
	TopicScopes []string   // nil: every topic
	ExpiresAt   *time.Time // nil: never (UTC)
}

type ctxKey struct{}

func callerOf(r *http.Request) *caller { return r.Context().Value(ctxKey{}).(*caller) }

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	return strings.TrimSpace(h[7:]), true
}

// auth authenticates a bearer API key and requires capability need.
func (s *Server) auth(need string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.ready() {
			writeErr(w, http.StatusServiceUnavailable, "unavailable", "the broker is not ready")
			return
		}
		secret, ok := bearer(r)
		if !ok {
			if r.Header.Get("X-Api-Key") != "" || r.URL.Query().Has("api_key") {
				s.m.legacyAuthHits.Inc()
				writeErr(w, http.StatusUnauthorized, "legacy_auth", "API keys go in the Authorization header: Bearer cm_…")
				return
			}
			writeErr(w, http.StatusUnauthorized, "unauthorized", "missing Authorization: Bearer API key")
			return
		}
		c, code, msg, err := s.lookupKey(r.Context(), secret)
		if err != nil {
			s.dbError(w, err)
			return
		}
		if code != "" {
			status := http.StatusUnauthorized
			if code == "member_revoked" {
				status = http.StatusForbidden
			}
			writeErr(w, status, code, msg)
			return
		}
		if !c.Caps[need] {
			writeErr(w, http.StatusForbidden, "missing_capability", "this API key lacks the "+need+" capability")
			return
		}
		s.touch(c.KeyID)
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, c)))
	}
}

// lookupKey finds the key by its prefix and compares sha256 hashes in
// constant time. A refusal is (nil, code, message, nil).
func (s *Server) lookupKey(ctx context.Context, secret string) (*caller, string, string, error) {
	if _, err := meshfmt.ParseAPIKey(secret); err != nil {
		return nil, "invalid_key", "the API key is not in the cm_ format", nil
	}
	want, _ := hex.DecodeString(meshfmt.HashAPIKey(secret))
	rows, err := s.pool.Query(ctx, `SELECT k.id, k.mesh_id, k.secret_hash, k.capabilities::text, k.topic_scopes::text,
	k.revoked_at IS NOT NULL, k.expires_at IS NOT NULL AND k.expires_at <= localtimestamp, k.expires_at,
	m.id, m.display_name, m.peer_pubkey, m.revoked_at IS NOT NULL
FROM mesh.api_key k LEFT JOIN mesh.member m ON m.id = k.issued_by_member_id
WHERE k.secret_prefix = $1`, meshfmt.APIKeyPrefix(secret))
	if err != nil {
		return nil, "", "", err
	}
	defer rows.Close()
	var found *caller
	var revoked, expired, memberRevoked bool
	for rows.Next() {
		var c caller
		var hash, capsJSON string
		var scopes *string
		var rev, exp bool
		var mid, mname, mpk *string
		var mrev *bool
		if err := rows.Scan(&c.KeyID, &c.MeshID, &hash, &capsJSON, &scopes, &rev, &exp, &c.ExpiresAt, &mid, &mname, &mpk, &mrev); err != nil {
			return nil, "", "", err
		}
		got, err := hex.DecodeString(hash)
		if err != nil || subtle.ConstantTimeCompare(got, want) != 1 {
			continue
		}
		var caps []string
		_ = json.Unmarshal([]byte(capsJSON), &caps)
		c.Caps = map[string]bool{}
		for _, x := range caps {
			c.Caps[x] = true
		}
		if scopes != nil {
			if err := json.Unmarshal([]byte(*scopes), &c.TopicScopes); err != nil || c.TopicScopes == nil {
				c.TopicScopes = []string{} // unreadable scope: no topic
			}
		}
		if mid == nil {
			memberRevoked = true // the issuing member is gone
		} else {
			c.MemberID, c.MemberName, c.MemberPK = *mid, *mname, *mpk
			memberRevoked = *mrev
		}
		revoked, expired = rev, exp
		found = &c
	}
	if err := rows.Err(); err != nil {
		return nil, "", "", err
	}
	switch {
	case found == nil:
		return nil, "invalid_key", "unknown API key", nil
	case revoked:
		return nil, "key_revoked", "this API key has been revoked", nil
	case expired:
		return nil, "key_expired", "this API key has expired", nil
	case memberRevoked:
		return nil, "member_revoked", "the member this key acts for is banned: contact the mesh owner", nil
	}
	return found, "", "", nil
}

// inScope reports whether the key may use topic name.
func (c *caller) inScope(name string) bool {
	if c.TopicScopes == nil {
		return true
	}
	for _, t := range c.TopicScopes {
		if t == name {
			return true
		}
	}
	return false
}

// touch records a key's use; touchLoop writes last_used_at in batches,
// off the request path.
func (s *Server) touch(keyID string) {
	s.touchMu.Lock()
	s.touched[keyID] = time.Now().UTC()
	s.touchMu.Unlock()
}

func (s *Server) touchLoop(ctx context.Context) {
	every(ctx, 2*time.Second, false, func() { s.flushTouched(ctx) })
}

func (s *Server) flushTouched(ctx context.Context) {
	s.touchMu.Lock()
	m := s.touched
	s.touched = map[string]time.Time{}
	s.touchMu.Unlock()
	if len(m) == 0 {
		return
	}
	ids := make([]string, 0, len(m))
	ts := make([]time.Time, 0, len(m))
	for id, t := range m {
		ids = append(ids, id)
		ts = append(ts, t)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err := s.pool.Exec(ctx, `UPDATE mesh.api_key k SET last_used_at = GREATEST(k.last_used_at, u.t)
FROM unnest($1::text[], $2::timestamp[]) AS u(id, t) WHERE k.id = u.id`, ids, ts)
	if err != nil {
		s.log.Warn("last_used_at update failed", "keys", len(ids))
	}
}

// dbError answers a request that failed on the database.
func (s *Server) dbError(w http.ResponseWriter, err error) {
	if errors.Is(err, context.Canceled) {
		writeErr(w, http.StatusServiceUnavailable, "unavailable", "request cancelled")
		return
	}
	// At most one line a second: an outage must not flood the log.
	if now := time.Now().UnixNano(); now-s.lastDBLog.Load() > int64(time.Second) {
		s.lastDBLog.Store(now)
		s.log.Warn("database error", "err", err)
	}
	writeErr(w, http.StatusServiceUnavailable, "unavailable", "the database is unavailable; retry")
}

var errNoRows = pgx.ErrNoRows
