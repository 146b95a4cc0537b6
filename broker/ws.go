package broker

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/meshfmt"
)

// WebSocket close codes (SPEC §6).
const (
	CloseKick   websocket.StatusCode = 4001
	CloseBanned websocket.StatusCode = 4002
)

// ctlChannel carries kick and ban orders between replicas (LISTEN/NOTIFY):
// the replica holding a member's connection may not be the one that
// received the order.
const ctlChannel = "claudemesh_broker_ctl"

type wsConn struct {
	c          *websocket.Conn
	meshID     string
	memberID   string
	sessionID  string
	presenceID string
}

// hub tracks this replica's live connections.
type hub struct {
	s     *Server
	mu    sync.Mutex
	conns map[*wsConn]bool
	bySes map[string]*wsConn // member|session → connection
}

func newHub(s *Server) *hub {
	return &hub{s: s, conns: map[*wsConn]bool{}, bySes: map[string]*wsConn{}}
}

// add registers wc and returns the connection it replaces (same session id).
func (h *hub) add(wc *wsConn) *wsConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	key := wc.memberID + "|" + wc.sessionID
	old := h.bySes[key]
	h.bySes[key] = wc
	h.conns[wc] = true
	return old
}

func (h *hub) remove(wc *wsConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, wc)
	if key := wc.memberID + "|" + wc.sessionID; h.bySes[key] == wc {
		delete(h.bySes, key)
	}
}

func (h *hub) closeMember(memberID string, code websocket.StatusCode, reason string) int {
	h.mu.Lock()
	var list []*wsConn
	for wc := range h.conns {
		if wc.memberID == memberID {
			list = append(list, wc)
		}
	}
	h.mu.Unlock()
	for _, wc := range list {
		go wc.c.Close(code, reason)
	}
	return len(list)
}

func (h *hub) closeAll() {
	h.mu.Lock()
	var list []*wsConn
	for wc := range h.conns {
		list = append(list, wc)
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, wc := range list {
		wg.Add(1)
		go func() { defer wg.Done(); _ = wc.c.Close(websocket.StatusGoingAway, "server shutting down") }()
	}
	wg.Wait()
}

type ctlMsg struct {
	Op         string `json:"op"` // kick, ban, session
	MemberID   string `json:"member_id"`
	SessionID  string `json:"session_id,omitempty"`
	PresenceID string `json:"presence_id,omitempty"` // session: the connection to keep
}

// closeSession closes this replica's connections of member+session other
// than the one holding presence keep (a reconnect landed elsewhere).
func (h *hub) closeSession(memberID, sessionID, keep string) {
	h.mu.Lock()
	var list []*wsConn
	for wc := range h.conns {
		if wc.memberID == memberID && wc.sessionID == sessionID && wc.presenceID != keep {
			list = append(list, wc)
		}
	}
	h.mu.Unlock()
	for _, wc := range list {
		go wc.c.Close(websocket.StatusNormalClosure, "replaced by a newer connection with the same session id")
	}
}

// members returns the distinct members with a live connection here.
func (h *hub) members() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for wc := range h.conns {
		if !seen[wc.memberID] {
			seen[wc.memberID] = true
			out = append(out, wc.memberID)
		}
	}
	return out
}

// closeBanned closes the live connections of members that are banned (or
// gone) in the database.
func (h *hub) closeBanned(ctx context.Context) {
	ids := h.members()
	if len(ids) == 0 {
		return
	}
	rows, err := h.s.pool.Query(ctx, `SELECT u.id FROM unnest($1::text[]) AS u(id)
LEFT JOIN mesh.member m ON m.id = u.id WHERE m.id IS NULL OR m.revoked_at IS NOT NULL`, ids)
	if err != nil {
		h.s.log.Warn("ban re-check after LISTEN reconnect failed", "members", len(ids))
		return
	}
	banned, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		h.s.log.Warn("ban re-check after LISTEN reconnect failed", "members", len(ids))
		return
	}
	for _, id := range banned {
		h.closeMember(id, CloseBanned, "banned from this mesh: contact the mesh owner")
	}
}

// listen applies kick and ban orders from every replica, reconnecting
// with backoff while the database is away.
func (h *hub) listen(ctx context.Context) {
	wait := 500 * time.Millisecond
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, h.s.pool.Config().ConnConfig.Copy())
		if err == nil {
			if _, err = conn.Exec(ctx, "LISTEN "+ctlChannel); err == nil {
				wait = 500 * time.Millisecond
				// Orders sent while no LISTEN was open are lost: close
				// the connections of members banned meanwhile.
				h.closeBanned(ctx)
				for {
					n, err := conn.WaitForNotification(ctx)
					if err != nil {
						break
					}
					var m ctlMsg
					if json.Unmarshal([]byte(n.Payload), &m) != nil {
						continue
					}
					switch m.Op {
					case "kick":
						h.closeMember(m.MemberID, CloseKick, "kicked by a mesh admin")
					case "ban":
						h.closeMember(m.MemberID, CloseBanned, "banned from this mesh: contact the mesh owner")
					case "session":
						h.closeSession(m.MemberID, m.SessionID, m.PresenceID)
					}
				}
			}
			conn.Close(context.Background())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if wait *= 2; wait > 5*time.Second {
			wait = 5 * time.Second
		}
	}
}

// helloMsg is the first frame a client sends (SPEC §4), with upstream's
// field names. The optional fields upstream clients send are accepted
// (sessionPubkey is stored; the others do not apply to this broker);
// anything else is refused.
type helloMsg struct {
	Type      string `json:"type"` // "hello"
	MeshID    string `json:"meshId"`
	MemberID  string `json:"memberId"`
	Pubkey    string `json:"pubkey"`
	Timestamp int64  `json:"timestamp"` // Unix ms
	Signature string `json:"signature"`
	SessionID string `json:"sessionId"`
	PID       int32  `json:"pid"`
	CWD       string `json:"cwd"`

	SessionPubkey   string           `json:"sessionPubkey"`
	ProtocolVersion int              `json:"protocolVersion"`
	Capabilities    []string         `json:"capabilities"`
	DisplayName     string           `json:"displayName"`
	Hostname        string           `json:"hostname"`
	PeerType        string           `json:"peerType"`
	Channel         string           `json:"channel"`
	Model           string           `json:"model"`
	Groups          []jsontext.Value `json:"groups"`
}

// clientMsg is any later frame. target names a member of the mesh by id,
// exact display name or full public key (upstream's ban/unban/kick).
type clientMsg struct {
	Type   string `json:"type"` // ping, kick, ban, unban
	Target string `json:"target"`
	ReqID  string `json:"_reqId,omitempty"`
}

type serverMsg struct {
	Type              string   `json:"type"`
	PresenceID        string   `json:"presenceId,omitempty"`
	MemberDisplayName string   `json:"memberDisplayName,omitempty"`
	Code              string   `json:"code,omitempty"`
	Message           string   `json:"message,omitempty"`
	Kicked            []string `json:"kicked,omitempty"`
	Banned            string   `json:"banned,omitempty"`
	Unbanned          string   `json:"unbanned,omitempty"`
	ReqID             string   `json:"_reqId,omitempty"`
}

func (s *Server) reject(c *websocket.Conn, reason string, code websocket.StatusCode, msg string) {
	s.m.connRejected.WithLabelValues(reason).Inc()
	_ = c.Close(code, msg)
}

func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	if !s.ready() {
		s.m.connRejected.WithLabelValues("not_ready").Inc()
		writeErr(w, http.StatusServiceUnavailable, "unavailable", "the broker is not ready")
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		s.m.connRejected.WithLabelValues("handshake").Inc()
		return
	}
	c.SetReadLimit(64 << 10)
	ctx := r.Context()
	h, name, ok := s.hello(ctx, c)
	if !ok {
		return
	}
	wc := &wsConn{c: c, meshID: h.MeshID, memberID: h.MemberID, sessionID: h.SessionID, presenceID: newID()}
	if err := s.openPresence(ctx, wc, h); err != nil {
		s.reject(c, "unavailable", websocket.StatusTryAgainLater, "database unavailable")
		return
	}
	if hook := s.beforeRegister.Load(); hook != nil {
		(*hook)(wc.memberID)
	}
	if old := s.hub.add(wc); old != nil {
		go old.c.Close(websocket.StatusNormalClosure, "replaced by a newer connection with the same session id")
	}
	// A ban committed after the hello's check sent its NOTIFY before the
	// hub knew this connection: look again now that it is registered.
	if !s.stillAdmitted(ctx, wc) {
		return
	}
	s.m.connTotal.Inc()
	s.m.connActive.Inc()
	defer func() {
		s.m.connActive.Dec()
		s.unregister(wc)
	}()
	s.send(ctx, c, serverMsg{Type: "hello_ack", PresenceID: wc.presenceID, MemberDisplayName: name})
	s.serveFrames(ctx, wc, name)
}

// checkHello checks the hello's fields that reach the database (before
// any SQL: PostgreSQL text cannot hold NUL). It returns what is wrong, or
// "".
func checkHello(h *helloMsg) string {
	switch {
	case !cleanText(h.MeshID, 128):
		return "meshId: 1 to 128 characters, no control characters"
	case !cleanText(h.MemberID, 128):
		return "memberId: 1 to 128 characters, no control characters"
	case !cleanText(h.SessionID, 128):
		return "sessionId: 1 to 128 characters, no control characters"
	case len(h.CWD) > 4096 || strings.ContainsRune(h.CWD, 0):
		return "cwd: at most 4096 bytes, no NUL"
	case h.SessionPubkey != "" && !isLowerHex(h.SessionPubkey, 64):
		return "sessionPubkey: 64 lowercase hex characters"
	}
	return ""
}

// stillAdmitted re-reads the member's ban after wc is registered. When the
// member is banned (or the database cannot tell) it unregisters wc,
// closes it and returns false.
func (s *Server) stillAdmitted(ctx context.Context, wc *wsConn) bool {
	revoked, err := s.memberRevoked(ctx, wc.memberID)
	if err == nil && !revoked {
		return true
	}
	s.unregister(wc)
	if err != nil {
		s.reject(wc.c, "unavailable", websocket.StatusTryAgainLater, "database unavailable")
	} else {
		s.reject(wc.c, "revoked", CloseBanned, "this member is banned: contact the mesh owner")
	}
	return false
}

func (s *Server) memberRevoked(ctx context.Context, memberID string) (bool, error) {
	var revoked bool
	err := s.pool.QueryRow(ctx, `SELECT revoked_at IS NOT NULL FROM mesh.member WHERE id = $1`, memberID).Scan(&revoked)
	if errors.Is(err, errNoRows) {
		return true, nil // the member is gone
	}
	return revoked, err
}

// unregister removes wc from the hub and ends its presence.
func (s *Server) unregister(wc *wsConn) {
	s.hub.remove(wc)
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = s.pool.Exec(dctx, `UPDATE mesh.presence SET disconnected_at = localtimestamp WHERE id = $1 AND disconnected_at IS NULL`, wc.presenceID)
}

// hello reads the connection's first frame and authenticates it: a
// well-formed hello from a known, unbanned member, with that member's key
// and a fresh signature. On failure the connection is closed with the
// reason and ok is false. name is the member's display name.
func (s *Server) hello(ctx context.Context, c *websocket.Conn) (h helloMsg, name string, ok bool) {
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, data, err := c.Read(hctx)
	cancel()
	if err != nil {
		s.reject(c, "no_hello", websocket.StatusPolicyViolation, "expected a hello within 10 s")
		return h, "", false
	}
	if json.Unmarshal(data, &h, json.RejectUnknownMembers(true)) != nil || h.Type != "hello" {
		s.reject(c, "bad_hello", websocket.StatusPolicyViolation, "malformed hello")
		return h, "", false
	}
	if problem := checkHello(&h); problem != "" {
		s.reject(c, "bad_hello", websocket.StatusPolicyViolation, "malformed hello: "+problem)
		return h, "", false
	}
	var storedPK, role string
	var revoked bool
	err = s.pool.QueryRow(ctx, `SELECT peer_pubkey, role::text, display_name, revoked_at IS NOT NULL FROM mesh.member WHERE id = $1 AND mesh_id = $2`,
		h.MemberID, h.MeshID).Scan(&storedPK, &role, &name, &revoked)
	if errors.Is(err, errNoRows) {
		s.reject(c, "unknown_member", websocket.StatusPolicyViolation, "unknown mesh or member")
		return h, "", false
	}
	if err != nil {
		s.reject(c, "unavailable", websocket.StatusTryAgainLater, "database unavailable")
		return h, "", false
	}
	if h.Pubkey != storedPK {
		s.reject(c, "wrong_pubkey", websocket.StatusPolicyViolation, "pubkey is not this member's key")
		return h, "", false
	}
	if err := meshfmt.VerifyHello(meshfmt.Hello{MeshID: h.MeshID, MemberID: h.MemberID, PubkeyHex: h.Pubkey, TimestampMs: h.Timestamp},
		h.Signature, time.Now()); err != nil {
		if errors.Is(err, meshfmt.ErrExpired) {
			s.reject(c, "stale_hello", websocket.StatusPolicyViolation, "hello timestamp is more than 60 s from the server's clock")
		} else {
			s.reject(c, "bad_signature", websocket.StatusPolicyViolation, "hello signature does not verify")
		}
		return h, "", false
	}
	if revoked {
		s.reject(c, "revoked", CloseBanned, "this member is banned: contact the mesh owner")
		return h, "", false
	}
	return h, name, true
}

// openPresence records wc's presence, closing any earlier presence of the
// same session, and tells every replica (one session id = one presence:
// the replica holding an older connection of this session closes it).
func (s *Server) openPresence(ctx context.Context, wc *wsConn, h helloMsg) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE mesh.presence SET disconnected_at = localtimestamp
WHERE member_id = $1 AND session_id = $2 AND disconnected_at IS NULL`, h.MemberID, h.SessionID); err != nil {
			return err
		}
		var spk *string
		if h.SessionPubkey != "" {
			spk = &h.SessionPubkey
		}
		if _, err := tx.Exec(ctx, `INSERT INTO mesh.presence (id, member_id, session_id, pid, cwd, session_pubkey) VALUES ($1, $2, $3, $4, $5, $6)`,
			wc.presenceID, h.MemberID, h.SessionID, h.PID, h.CWD, spk); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE mesh.member SET last_seen_at = localtimestamp WHERE id = $1`, h.MemberID); err != nil {
			return err
		}
		b, _ := json.Marshal(ctlMsg{Op: "session", MemberID: h.MemberID, SessionID: h.SessionID, PresenceID: wc.presenceID})
		_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, ctlChannel, string(b))
		return err
	})
}

// serveFrames answers an authenticated connection's frames until it
// closes.
func (s *Server) serveFrames(ctx context.Context, wc *wsConn, name string) {
	for {
		_, data, err := wc.c.Read(ctx)
		if err != nil {
			return
		}
		var m clientMsg
		if json.Unmarshal(data, &m) != nil {
			s.send(ctx, wc.c, serverMsg{Type: "error", Code: "malformed", Message: "frames are JSON objects with a type"})
			continue
		}
		switch m.Type {
		case "ping":
			_, _ = s.pool.Exec(ctx, `UPDATE mesh.presence SET last_ping_at = localtimestamp WHERE id = $1`, wc.presenceID)
			s.send(ctx, wc.c, serverMsg{Type: "pong", ReqID: m.ReqID})
		case "kick", "ban", "unban":
			s.send(ctx, wc.c, s.adminOp(ctx, wc.meshID, wc.memberID, name, m))
		default:
			s.send(ctx, wc.c, serverMsg{Type: "error", Code: "unknown_type", Message: "unknown frame type", ReqID: m.ReqID})
		}
	}
}

func (s *Server) send(ctx context.Context, c *websocket.Conn, m serverMsg) {
	b, _ := json.Marshal(m)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = c.Write(wctx, websocket.MessageText, b)
}

// adminOp runs kick, ban or unban for the mesh owner or an admin. Ban and
// unban are audited in the same transaction (upstream's payloads:
// {target, targetPubkey} and {target}); the close order reaches every
// replica through NOTIFY when the transaction commits.
func (s *Server) adminOp(ctx context.Context, meshID, actorID, actorName string, m clientMsg) serverMsg {
	refuse := func(code, msg string) serverMsg {
		return serverMsg{Type: "error", Code: code, Message: msg, ReqID: m.ReqID}
	}
	if m.Target == "" {
		return refuse("invalid", "target required")
	}
	if !cleanText(m.Target, 128) {
		return refuse("invalid", "target: a member id, display name or public key (no control characters)")
	}
	var ok serverMsg
	err := s.txn(ctx, func(tx pgx.Tx, ev *[]string) error {
		var allowed bool
		if err := tx.QueryRow(ctx, `SELECT COALESCE(m.role = 'admin' OR m.user_id = x.owner_user_id, false) AND m.revoked_at IS NULL
FROM mesh.member m JOIN mesh.mesh x ON x.id = m.mesh_id WHERE m.id = $1`, actorID).Scan(&allowed); err != nil {
			return err
		}
		if !allowed {
			return &reqError{code: "forbidden", msg: "only the mesh owner or an admin may " + m.Type}
		}
		rows, err := tx.Query(ctx, `SELECT id, display_name, peer_pubkey, revoked_at IS NOT NULL FROM mesh.member
WHERE mesh_id = $1 AND (id = $2 OR display_name = $2 OR peer_pubkey = $2) ORDER BY id LIMIT 2 FOR UPDATE`, meshID, m.Target)
		if err != nil {
			return err
		}
		type target struct {
			id, name, pk string
			revoked      bool
		}
		ts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (target, error) {
			var x target
			return x, r.Scan(&x.id, &x.name, &x.pk, &x.revoked)
		})
		if err != nil {
			return err
		}
		switch len(ts) {
		case 0:
			return &reqError{code: "not_found", msg: "no member of this mesh matches the target"}
		case 2:
			return &reqError{code: "not_unique", msg: "several members match the target: use the member id"}
		}
		tg := ts[0]
		notify := func(op string) error {
			b, _ := json.Marshal(ctlMsg{Op: op, MemberID: tg.id})
			_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, ctlChannel, string(b))
			return err
		}
		switch m.Type {
		case "kick":
			ok = serverMsg{Type: "kick_ack", Kicked: []string{tg.name}, ReqID: m.ReqID}
			return notify("kick")
		case "ban":
			if tg.id == actorID {
				return &reqError{code: "invalid", msg: "cannot ban yourself"}
			}
			ok = serverMsg{Type: "ban_ack", Banned: tg.name, ReqID: m.ReqID}
			if tg.revoked {
				return notify("ban")
			}
			if _, err := tx.Exec(ctx, `UPDATE mesh.member SET revoked_at = localtimestamp WHERE id = $1`, tg.id); err != nil {
				return err
			}
			if err := appendAudit(ctx, tx, ev, meshID, "member_banned", actorID, actorName,
				map[string]any{"target": tg.name, "targetPubkey": tg.pk}); err != nil {
				return err
			}
			return notify("ban")
		default: // unban
			if !tg.revoked {
				return &reqError{code: "not_found", msg: "the target is not banned"}
			}
			ok = serverMsg{Type: "unban_ack", Unbanned: tg.name, ReqID: m.ReqID}
			if _, err := tx.Exec(ctx, `UPDATE mesh.member SET revoked_at = NULL WHERE id = $1`, tg.id); err != nil {
				return err
			}
			return appendAudit(ctx, tx, ev, meshID, "member_unbanned", actorID, actorName, map[string]any{"target": tg.name})
		}
	})
	var re *reqError
	if errors.As(err, &re) {
		return refuse(re.code, re.msg)
	}
	if err != nil {
		return refuse("unavailable", "the database is unavailable; retry")
	}
	return ok
}
