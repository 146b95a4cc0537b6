package broker

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/claudemesh/meshctl/audit"
	meshops "github.com/claudemesh/meshctl/mesh"
	"github.com/claudemesh/meshctl/meshfmt"
	"github.com/claudemesh/meshctl/notify"
)

// txn runs fn in a transaction and counts the audit rows it appended once
// they are committed.
func (s *Server) txn(ctx context.Context, fn func(tx pgx.Tx, events *[]string) error) error {
	var events []string
	// READ COMMITTED whatever the database's default: audit.Append
	// reads the chain tail after taking the mesh lock.
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error { return fn(tx, &events) })
	if err == nil {
		for _, e := range events {
			s.m.auditAppends.WithLabelValues(e).Inc()
		}
	}
	return err
}

func appendAudit(ctx context.Context, tx pgx.Tx, events *[]string, meshID, event, actorID, actorName string, payload map[string]any) error {
	b, err := json.Marshal(payload, json.Deterministic(true))
	if err != nil {
		return err
	}
	ev := audit.Event{MeshID: meshID, EventType: event, Payload: b}
	if actorID != "" {
		ev.Actor = &actorID
		ev.ActorDisplayName = &actorName
	}
	if _, err := audit.Append(ctx, tx, ev); err != nil {
		return err
	}
	*events = append(*events, event)
	return nil
}

// reqError is a refusal found inside a transaction (rolled back).
type reqError struct {
	status int
	code   string
	msg    string
}

func (e *reqError) Error() string { return e.code + ": " + e.msg }

func (s *Server) fail(w http.ResponseWriter, err error) {
	var re *reqError
	if errors.As(err, &re) {
		writeErr(w, re.status, re.code, re.msg)
		return
	}
	s.dbError(w, err)
}

func uniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// checkPubkey validates an ed25519 public key: 64 lowercase hex, a point
// that converts to x25519 (so topic keys can be sealed to it).
func checkPubkey(pk string) ([32]byte, bool) {
	if !isLowerHex(pk, 64) {
		return [32]byte{}, false
	}
	b, _ := hex.DecodeString(pk)
	x, err := meshfmt.Ed25519PublicKeyToX25519(b)
	return x, err == nil
}

// ---- meshes ----

type createMeshReq struct {
	Name             string `json:"name"`
	Slug             string `json:"slug"`
	OwnerPubkey      string `json:"ownerPubkey"`
	OwnerDisplayName string `json:"ownerDisplayName"`
	OwnerUserID      string `json:"ownerUserId"`
}

type createMeshResp struct {
	MeshID         string `json:"meshId"`
	MemberID       string `json:"memberId"`
	TopicID        string `json:"topicId"`
	APIKeyID       string `json:"apiKeyId"`
	APIKeyPrefix   string `json:"apiKeyPrefix"`
	APIKey         string `json:"apiKey"` // shown once
	OwnerUserID    string `json:"ownerUserId"`
	GeneralTopic   string `json:"generalTopic"`
	TopicKeyPubkey string `json:"topicSenderPubkey"`
}

var slugRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func (s *Server) handleCreateMesh(w http.ResponseWriter, r *http.Request) {
	if s.cfg.AdminToken == "" {
		writeErr(w, http.StatusForbidden, "disabled", "mesh creation is disabled (BROKER_ADMIN_TOKEN is not set)")
		return
	}
	tok, ok := bearer(r)
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.AdminToken)) != 1 {
		writeErr(w, http.StatusUnauthorized, "unauthorized", "mesh creation needs the operator's admin token")
		return
	}
	if !s.ready() {
		writeErr(w, http.StatusServiceUnavailable, "unavailable", "the broker is not ready")
		return
	}
	var req createMeshReq
	if !decode(w, r, maxBodyBytes, &req) {
		return
	}
	if !cleanText(req.Name, 100) {
		writeErr(w, http.StatusBadRequest, "invalid_name", "name: 1 to 100 characters, no control characters")
		return
	}
	if req.Slug == "" {
		req.Slug = slugify(req.Name)
	}
	if !slugRe.MatchString(req.Slug) {
		writeErr(w, http.StatusBadRequest, "invalid_slug", "slug: lowercase letters, digits and '-', at most 63")
		return
	}
	if _, ok := checkPubkey(req.OwnerPubkey); !ok {
		writeErr(w, http.StatusBadRequest, "invalid_pubkey", "ownerPubkey: an ed25519 public key as 64 lowercase hex characters")
		return
	}
	if req.OwnerDisplayName == "" {
		req.OwnerDisplayName = req.Name + "-owner"
	}
	if !cleanText(req.OwnerDisplayName, 100) {
		writeErr(w, http.StatusBadRequest, "invalid_display_name", "ownerDisplayName: 1 to 100 characters, no control characters")
		return
	}
	if req.OwnerUserID == "" {
		req.OwnerUserID = newID()
	}
	if !cleanText(req.OwnerUserID, 64) {
		writeErr(w, http.StatusBadRequest, "invalid_user_id", "ownerUserId: 1 to 64 characters")
		return
	}
	var rootKey [32]byte
	_, _ = rand.Read(rootKey[:])
	key, err := meshfmt.GenerateAPIKey(rand.Reader)
	if err != nil {
		s.dbError(w, err)
		return
	}
	resp := createMeshResp{MeshID: newID(), MemberID: newID(), APIKeyID: newID(), APIKeyPrefix: key.Prefix,
		APIKey: key.Secret, OwnerUserID: req.OwnerUserID, GeneralTopic: "general"}
	err = s.txn(r.Context(), func(tx pgx.Tx, ev *[]string) error {
		if _, err := tx.Exec(r.Context(), `INSERT INTO public."user" (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
			req.OwnerUserID, req.OwnerDisplayName); err != nil {
			return err
		}
		if _, err := tx.Exec(r.Context(), `INSERT INTO mesh.mesh (id, name, slug, owner_user_id, owner_pubkey, root_key)
VALUES ($1, $2, $3, $4, $5, $6)`, resp.MeshID, req.Name, req.Slug, req.OwnerUserID, req.OwnerPubkey,
			base64.RawURLEncoding.EncodeToString(rootKey[:])); err != nil {
			return err
		}
		if _, err := tx.Exec(r.Context(), `INSERT INTO mesh.member (id, mesh_id, user_id, peer_pubkey, display_name, role, dashboard_user_id)
VALUES ($1, $2, $3, $4, $5, 'admin', $3)`, resp.MemberID, resp.MeshID, req.OwnerUserID, req.OwnerPubkey, req.OwnerDisplayName); err != nil {
			return err
		}
		var err error
		resp.TopicID, resp.TopicKeyPubkey, err = createTopic(r.Context(), tx, resp.MeshID, "general", "", "public", resp.MemberID, req.OwnerPubkey)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(r.Context(), `INSERT INTO mesh.api_key (id, mesh_id, label, secret_hash, secret_prefix, capabilities, issued_by_member_id)
VALUES ($1, $2, 'owner', $3, $4, '["send","read","admin"]', $5)`, resp.APIKeyID, resp.MeshID, key.Hash, key.Prefix, resp.MemberID); err != nil {
			return err
		}
		if err := appendAudit(r.Context(), tx, ev, resp.MeshID, "peer_joined", resp.MemberID, req.OwnerDisplayName,
			map[string]any{"pubkey": req.OwnerPubkey, "role": "admin", "displayName": req.OwnerDisplayName}); err != nil {
			return err
		}
		return appendAudit(r.Context(), tx, ev, resp.MeshID, "apikey_created", resp.MemberID, req.OwnerDisplayName,
			map[string]any{"apiKeyId": resp.APIKeyID, "prefix": key.Prefix, "capabilities": []string{"send", "read", "admin"}})
	})
	clear(rootKey[:])
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, resp)
}

func slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 60 {
			break
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		return "mesh"
	}
	return s
}

// createTopic creates a topic with a fresh topic key and a fresh x25519
// sender keypair, seals the key for the creator, subscribes the creator as
// lead, and drops the sender secret and the plaintext key.
func createTopic(ctx context.Context, tx pgx.Tx, meshID, name, desc, vis, creatorID, creatorPK string) (id, senderPKHex string, err error) {
	recipient, ok := checkPubkey(creatorPK)
	if !ok {
		return "", "", &reqError{http.StatusConflict, "invalid_pubkey", "the creator's public key cannot receive a topic key"}
	}
	topicKey, err := meshfmt.GenerateTopicKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	var senderSK [32]byte
	var nonce [24]byte
	_, _ = rand.Read(senderSK[:])
	_, _ = rand.Read(nonce[:])
	senderPK := meshfmt.X25519PublicKey(senderSK)
	blob, nonceB64, err := meshfmt.SealTopicKey(topicKey, nonce, recipient, senderSK)
	clear(senderSK[:])
	clear(topicKey[:])
	if err != nil {
		return "", "", err
	}
	id = newID()
	senderPKHex = hex.EncodeToString(senderPK[:])
	var descArg *string
	if desc != "" {
		descArg = &desc
	}
	if _, err := tx.Exec(ctx, `INSERT INTO mesh.topic (id, mesh_id, name, description, visibility, created_by_member_id, encrypted_key_pubkey)
VALUES ($1, $2, $3, $4, $5::mesh.topic_visibility, $6, $7)`, id, meshID, name, descArg, vis, creatorID, senderPKHex); err != nil {
		if uniqueViolation(err) {
			return "", "", &reqError{http.StatusConflict, "topic_exists", "a topic with this name exists in the mesh"}
		}
		return "", "", err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO mesh.topic_member (topic_id, member_id, role) VALUES ($1, $2, 'lead')`, id, creatorID); err != nil {
		return "", "", err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO mesh.topic_member_key (id, topic_id, member_id, encrypted_key, nonce) VALUES ($1, $2, $3, $4, $5)`,
		newID(), id, creatorID, blob, nonceB64); err != nil {
		return "", "", err
	}
	return id, senderPKHex, nil
}

// ---- members ----

type addMemberReq struct {
	DisplayName string `json:"displayName"`
	Pubkey      string `json:"pubkey"`
	Role        string `json:"role"`
	UserID      string `json:"userId"`
}

func (s *Server) handleAddMember(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	var req addMemberReq
	if !decode(w, r, maxBodyBytes, &req) {
		return
	}
	if !cleanText(req.DisplayName, 100) {
		writeErr(w, http.StatusBadRequest, "invalid_display_name", "displayName: 1 to 100 characters, no control characters")
		return
	}
	if _, ok := checkPubkey(req.Pubkey); !ok {
		writeErr(w, http.StatusBadRequest, "invalid_pubkey", "pubkey: an ed25519 public key as 64 lowercase hex characters")
		return
	}
	switch req.Role {
	case "":
		req.Role = "member"
	case "member", "admin":
	default:
		writeErr(w, http.StatusBadRequest, "invalid_role", "role: member or admin")
		return
	}
	var userID *string
	if req.UserID != "" {
		if !cleanText(req.UserID, 64) {
			writeErr(w, http.StatusBadRequest, "invalid_user_id", "userId: 1 to 64 characters")
			return
		}
		userID = &req.UserID
	}
	id := newID()
	err := s.txn(r.Context(), func(tx pgx.Tx, ev *[]string) error {
		if _, err := tx.Exec(r.Context(), `INSERT INTO mesh.member (id, mesh_id, user_id, peer_pubkey, display_name, role)
VALUES ($1, $2, $3, $4, $5, $6::mesh.role)`, id, c.MeshID, userID, req.Pubkey, req.DisplayName, req.Role); err != nil {
			return err
		}
		if _, err := tx.Exec(r.Context(), `INSERT INTO mesh.topic_member (topic_id, member_id, role)
SELECT t.id, $2, 'member' FROM mesh.topic t WHERE t.mesh_id = $1 AND t.name = 'general'
ON CONFLICT (topic_id, member_id) DO NOTHING`, c.MeshID, id); err != nil {
			return err
		}
		return appendAudit(r.Context(), tx, ev, c.MeshID, "peer_joined", id, req.DisplayName,
			map[string]any{"pubkey": req.Pubkey, "role": req.Role, "displayName": req.DisplayName, "addedBy": c.MemberID})
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"memberId": id, "meshId": c.MeshID, "displayName": req.DisplayName, "role": req.Role})
}

// ---- topics ----

type createTopicReq struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Visibility  string `json:"visibility"`
}

var topicNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func (s *Server) handleCreateTopic(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	var req createTopicReq
	if !decode(w, r, maxBodyBytes, &req) {
		return
	}
	name := strings.TrimPrefix(req.Name, "#")
	if !topicNameRe.MatchString(name) {
		writeErr(w, http.StatusBadRequest, "invalid_name", "name: lowercase letters, digits, '_' and '-', at most 64 (a leading '#' is dropped)")
		return
	}
	if req.Description != "" && !cleanText(req.Description, 500) {
		writeErr(w, http.StatusBadRequest, "invalid_description", "description: at most 500 characters, no control characters")
		return
	}
	switch req.Visibility {
	case "":
		req.Visibility = "public"
	case "public", "private":
	default:
		writeErr(w, http.StatusBadRequest, "invalid_visibility", "visibility: public or private")
		return
	}
	var id, pk string
	err := s.txn(r.Context(), func(tx pgx.Tx, ev *[]string) error {
		var err error
		id, pk, err = createTopic(r.Context(), tx, c.MeshID, name, req.Description, req.Visibility, c.MemberID, c.MemberPK)
		return err
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"topicId": id, "name": name, "encryptedKeyPubkey": pk})
}

func (s *Server) handleTopicKey(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	name := strings.TrimPrefix(r.PathValue("name"), "#")
	if !topicNameRe.MatchString(name) {
		writeErr(w, http.StatusBadRequest, "invalid_topic", "topic: lowercase letters, digits, '_' and '-', at most 64")
		return
	}
	if !c.inScope(name) {
		writeErr(w, http.StatusForbidden, "topic_scope", "this API key is not scoped to this topic")
		return
	}
	var topicID string
	var senderPK, blob, nonce *string
	var keyCreated *time.Time
	err := s.pool.QueryRow(r.Context(), `SELECT t.id, t.encrypted_key_pubkey, k.encrypted_key, k.nonce, k.created_at
FROM mesh.topic t LEFT JOIN mesh.topic_member_key k ON k.topic_id = t.id AND k.member_id = $3
WHERE t.mesh_id = $1 AND t.name = $2 AND t.archived_at IS NULL`, c.MeshID, name, c.MemberID).Scan(&topicID, &senderPK, &blob, &nonce, &keyCreated)
	switch {
	case errors.Is(err, errNoRows):
		writeErr(w, http.StatusNotFound, "topic_not_found", "no such topic")
	case err != nil:
		s.dbError(w, err)
	case senderPK == nil:
		writeErr(w, http.StatusConflict, "topic_unencrypted", "this topic is a legacy unencrypted topic: it has no topic key")
	case blob == nil:
		writeErr(w, http.StatusNotFound, "key_not_sealed_for_member", "there is no sealed copy of this topic's key for you")
	default:
		writeJSON(w, http.StatusOK, map[string]any{"topicId": topicID, "topic": name, "encryptedKey": *blob,
			"nonce": *nonce, "senderPubkey": *senderPK, "createdAt": keyCreated.UTC().Format(time.RFC3339Nano)})
	}
}

// ---- messages ----

type postMessageReq struct {
	Topic       string   `json:"topic"`
	BodyVersion *int     `json:"bodyVersion"`
	Ciphertext  string   `json:"ciphertext"`
	Nonce       string   `json:"nonce"`
	Mentions    []string `json:"mentions"`
	Priority    string   `json:"priority"`
}

func (s *Server) rejectMsg(w http.ResponseWriter, reason string, status int, code, msg string) {
	s.m.msgRejected.WithLabelValues(reason).Inc()
	writeErr(w, status, code, msg)
}

func (s *Server) handlePostMessage(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	var req postMessageReq
	rec := &statusWriter{ResponseWriter: w}
	if !decode(rec, r, int64(s.cfg.MaxMessageBytes)+16<<10, &req) {
		if rec.code == http.StatusRequestEntityTooLarge {
			s.m.msgRejected.WithLabelValues("too_large").Inc()
		}
		return
	}
	name := strings.TrimPrefix(req.Topic, "#")
	target := "#" + name
	if len(req.Ciphertext)+len(req.Nonce)+len(target) > s.cfg.MaxMessageBytes {
		s.rejectMsg(w, "too_large", http.StatusRequestEntityTooLarge, "too_large",
			"ciphertext + nonce + target is larger than "+strconv.Itoa(s.cfg.MaxMessageBytes)+" bytes")
		return
	}
	if ok, wait := s.limit.allow(c.MemberID); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		s.rejectMsg(w, "rate_limit", http.StatusTooManyRequests, "rate_limit",
			"too many messages from this member; retry in "+strconv.Itoa(int(wait/time.Millisecond))+" ms")
		return
	}
	if !topicNameRe.MatchString(name) {
		writeErr(w, http.StatusBadRequest, "invalid_topic", "topic: a topic name")
		return
	}
	msg, rerr := checkMessage(&req)
	if rerr != nil {
		s.fail(w, rerr)
		return
	}
	if !c.inScope(name) {
		s.m.msgDropped.WithLabelValues("topic_scope").Inc()
		writeErr(w, http.StatusForbidden, "topic_scope", "this API key is not scoped to this topic")
		return
	}
	out, err := s.storeMessage(r.Context(), c, name, msg)
	if err != nil {
		var re *reqError
		if errors.As(err, &re) && re.code == "topic_not_found" {
			s.m.msgRejected.WithLabelValues("no_recipient").Inc()
		}
		s.fail(w, err)
		return
	}
	s.m.msgRouted.WithLabelValues(msg.priority).Inc()
	writeJSON(w, http.StatusCreated, map[string]any{"messageId": out.id, "historyId": out.id, "topic": name, "topicId": out.topicID,
		"notifications": out.notified, "bodyVersion": msg.version, "createdAt": out.created.UTC().Format(time.RFC3339Nano)})
}

// newMessage is a checked topic message, ready to store.
type newMessage struct {
	version    int
	ciphertext string
	nonce      string
	priority   string
	tokens     []string // mention tokens for notifications
}

// checkMessage checks a message's body, priority and mentions, and
// derives its mention tokens: explicit mentions when given, else those
// of a v1 (plaintext) body; a v2 body is opaque to the broker.
func checkMessage(req *postMessageReq) (newMessage, *reqError) {
	msg := newMessage{version: meshfmt.BodyV1, ciphertext: req.Ciphertext, nonce: req.Nonce, priority: req.Priority}
	if req.BodyVersion != nil {
		msg.version = *req.BodyVersion
	}
	var bodyV1 string
	switch msg.version {
	case meshfmt.BodyV1:
		var err error
		if bodyV1, err = meshfmt.DecodeBodyV1(req.Ciphertext); err != nil || req.Ciphertext == "" {
			return msg, &reqError{http.StatusBadRequest, "invalid_body", "bodyVersion 1: ciphertext must be base64 (standard, padded) of UTF-8 text"}
		}
		if strings.ContainsRune(req.Nonce, 0) {
			return msg, &reqError{http.StatusBadRequest, "invalid_body", "bodyVersion 1: nonce must not contain NUL"}
		}
	case meshfmt.BodyV2:
		ct, err := base64.StdEncoding.Strict().DecodeString(req.Ciphertext)
		n, nerr := base64.StdEncoding.Strict().DecodeString(req.Nonce)
		if err != nil || nerr != nil || len(ct) < meshfmt.BoxOverhead || len(n) != meshfmt.NonceSize {
			return msg, &reqError{http.StatusBadRequest, "invalid_body", "bodyVersion 2: ciphertext must be base64 secretbox output and nonce base64 of 24 bytes"}
		}
	default:
		return msg, &reqError{http.StatusBadRequest, "invalid_body_version", "bodyVersion: 1 or 2"}
	}
	switch msg.priority {
	case "":
		msg.priority = "next"
	case "now", "next", "low":
	default:
		return msg, &reqError{http.StatusBadRequest, "invalid_priority", "priority: now, next or low"}
	}
	if req.Mentions != nil {
		if len(req.Mentions) > meshfmt.MaxMentionTokens {
			return msg, &reqError{http.StatusBadRequest, "invalid_mentions", "mentions: at most 16 entries"}
		}
		for _, m := range req.Mentions {
			if !cleanText(m, meshfmt.MaxMentionLength) {
				return msg, &reqError{http.StatusBadRequest, "invalid_mentions", "mentions: display names of 1 to 64 characters, no control characters"}
			}
		}
	}
	// The rule is meshfmt's; the fan-out notify's: the notifications
	// backfill calls the same two.
	if req.Mentions != nil {
		msg.tokens = meshfmt.ExplicitMentionTokens(req.Mentions)
	} else if bodyV1 != "" {
		msg.tokens = meshfmt.MentionTokens(bodyV1)
	}
	return msg, nil
}

// storedMessage is what storing a message gave back.
type storedMessage struct {
	id, topicID string
	created     time.Time
	notified    int64
}

// storeMessage writes a message to topic name of c's mesh with its
// notifications and audit event, in one transaction.
func (s *Server) storeMessage(ctx context.Context, c *caller, name string, msg newMessage) (storedMessage, error) {
	out := storedMessage{id: newID()}
	err := s.txn(ctx, func(tx pgx.Tx, ev *[]string) error {
		err := tx.QueryRow(ctx, `SELECT id FROM mesh.topic WHERE mesh_id = $1 AND name = $2 AND archived_at IS NULL`,
			c.MeshID, name).Scan(&out.topicID)
		if errors.Is(err, errNoRows) {
			return &reqError{http.StatusNotFound, "topic_not_found", "no such topic in this mesh"}
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO mesh.topic_message (id, topic_id, sender_member_id, nonce, ciphertext, body_version)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`, out.id, out.topicID, c.MemberID, msg.nonce, msg.ciphertext, msg.version).Scan(&out.created); err != nil {
			return err
		}
		if out.notified, err = notify.Insert(ctx, tx, []notify.Message{{ID: out.id, MeshID: c.MeshID, TopicID: out.topicID,
			SenderID: c.MemberID, CreatedAt: out.created, Tokens: msg.tokens}}); err != nil {
			return err
		}
		return appendAudit(ctx, tx, ev, c.MeshID, "message_sent", c.MemberID, c.MemberName,
			map[string]any{"targetSpec": "#" + name, "priority": msg.priority})
	})
	return out, err
}

// ---- notifications ----

type notification struct {
	ID         string     `json:"id"`
	TopicID    string     `json:"topicId"`
	Topic      string     `json:"topic"`
	MessageID  string     `json:"messageId"`
	SenderID   string     `json:"senderMemberId"`
	SenderName string     `json:"sender"`
	Kind       string     `json:"kind"`
	CreatedAt  time.Time  `json:"createdAt"`
	ReadAt     *time.Time `json:"readAt"`
}

func (s *Server) handleListNotifications(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	q := r.URL.Query()
	unread := false
	switch q.Get("unread") {
	case "", "0", "false":
	case "1", "true":
		unread = true
	default:
		writeErr(w, http.StatusBadRequest, "invalid_query", "unread: 1 or 0")
		return
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeErr(w, http.StatusBadRequest, "invalid_query", "limit: 1 to 1000")
			return
		}
		limit = n
	}
	rows, err := s.pool.Query(r.Context(), `SELECT n.id, n.topic_id, t.name, n.message_id, n.sender_member_id, m.display_name,
	n.kind, n.created_at, n.read_at
FROM mesh.notification n JOIN mesh.topic t ON t.id = n.topic_id JOIN mesh.member m ON m.id = n.sender_member_id
WHERE n.recipient_member_id = $1 AND n.mesh_id = $2 AND (NOT $3 OR n.read_at IS NULL)
ORDER BY n.created_at DESC, n.id LIMIT $4`, c.MemberID, c.MeshID, unread, limit)
	if err != nil {
		s.dbError(w, err)
		return
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (notification, error) {
		var n notification
		err := row.Scan(&n.ID, &n.TopicID, &n.Topic, &n.MessageID, &n.SenderID, &n.SenderName, &n.Kind, &n.CreatedAt, &n.ReadAt)
		return n, err
	})
	if err != nil {
		s.dbError(w, err)
		return
	}
	if out == nil {
		out = []notification{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"notifications": out})
}

type readNotificationsReq struct {
	IDs    []string `json:"ids"`
	Before string   `json:"before"` // RFC 3339: everything created up to this time
}

func (s *Server) handleReadNotifications(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	var req readNotificationsReq
	if !decode(w, r, maxBodyBytes, &req) {
		return
	}
	if (req.IDs == nil) == (req.Before == "") {
		writeErr(w, http.StatusBadRequest, "invalid_request", "give either ids or before, not both")
		return
	}
	var tag pgconn.CommandTag
	var err error
	if req.IDs != nil {
		if len(req.IDs) > 1000 {
			writeErr(w, http.StatusBadRequest, "invalid_request", "ids: at most 1000")
			return
		}
		for _, id := range req.IDs {
			if !cleanText(id, 64) {
				writeErr(w, http.StatusBadRequest, "invalid_ids", "ids: notification ids of 1 to 64 characters, no control characters")
				return
			}
		}
		tag, err = s.pool.Exec(r.Context(), `UPDATE mesh.notification SET read_at = localtimestamp
WHERE recipient_member_id = $1 AND mesh_id = $2 AND read_at IS NULL AND id = ANY($3::text[])`, c.MemberID, c.MeshID, req.IDs)
	} else {
		before, perr := time.Parse(time.RFC3339Nano, req.Before)
		if perr != nil {
			writeErr(w, http.StatusBadRequest, "invalid_request", "before: an RFC 3339 time such as 2026-01-02T15:04:05Z")
			return
		}
		tag, err = s.pool.Exec(r.Context(), `UPDATE mesh.notification SET read_at = localtimestamp
WHERE recipient_member_id = $1 AND mesh_id = $2 AND read_at IS NULL AND created_at <= $3::text::timestamp`,
			c.MemberID, c.MeshID, before.UTC().Format("2006-01-02 15:04:05.999999"))
	}
	if err != nil {
		s.dbError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"updated": tag.RowsAffected()})
}

// ---- API keys ----

type createKeyReq struct {
	Label        string   `json:"label"`
	Capabilities []string `json:"capabilities"`
	TopicScopes  []string `json:"topicScopes"`
	ExpiresAt    string   `json:"expiresAt"`
	MemberID     string   `json:"memberId"`
}

// scopeList is a key's topic scopes as the API shows them: null for a key
// of every topic, [] for a key of none (a nil slice would otherwise read
// as [], the opposite).
type scopeList []string

func (s scopeList) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	return json.Marshal([]string(s))
}

type apiKeyView struct {
	ID           string     `json:"id"`
	Prefix       string     `json:"prefix"`
	Label        string     `json:"label"`
	Capabilities []string   `json:"capabilities"`
	TopicScopes  scopeList  `json:"topicScopes"`
	MemberID     *string    `json:"memberId"`
	Status       string     `json:"status"`
	CreatedAt    time.Time  `json:"createdAt"`
	LastUsedAt   *time.Time `json:"lastUsedAt"`
	ExpiresAt    *time.Time `json:"expiresAt"`
	RevokedAt    *time.Time `json:"revokedAt"`
	Secret       string     `json:"secret,omitempty"` // only in the create response
}

func (s *Server) handleCreateAPIKey(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	var req createKeyReq
	if !decode(w, r, maxBodyBytes, &req) {
		return
	}
	if !cleanText(req.Label, 100) {
		writeErr(w, http.StatusBadRequest, "invalid_label", "label: 1 to 100 characters, no control characters")
		return
	}
	spec, rerr := checkKeyReq(c, &req, time.Now())
	if rerr != nil {
		s.fail(w, rerr)
		return
	}
	var scopes any // SQL NULL: all topics
	if spec.scopes != nil {
		b, _ := json.Marshal(spec.scopes)
		scopes = string(b)
	}
	var expires *string
	if spec.expires != nil {
		e := spec.expires.UTC().Format("2006-01-02 15:04:05.999999")
		expires = &e
	}
	member := c.MemberID
	if req.MemberID != "" {
		if !cleanText(req.MemberID, 64) {
			writeErr(w, http.StatusBadRequest, "invalid_member_id", "memberId: 1 to 64 characters, no control characters")
			return
		}
		member = req.MemberID
	}
	key, err := meshfmt.GenerateAPIKey(rand.Reader)
	if err != nil {
		s.dbError(w, err)
		return
	}
	capsJSON, _ := json.Marshal(req.Capabilities)
	id := newID()
	var view apiKeyView
	err = s.txn(r.Context(), func(tx pgx.Tx, ev *[]string) error {
		var ok bool
		if err := tx.QueryRow(r.Context(), `SELECT EXISTS (SELECT 1 FROM mesh.member WHERE id = $1 AND mesh_id = $2 AND revoked_at IS NULL)`,
			member, c.MeshID).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return &reqError{http.StatusNotFound, "member_not_found", "memberId: no active member of this mesh"}
		}
		if err := tx.QueryRow(r.Context(), `INSERT INTO mesh.api_key (id, mesh_id, label, secret_hash, secret_prefix, capabilities, topic_scopes, issued_by_member_id, expires_at)
VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7::text::jsonb, $8, $9::text::timestamp) RETURNING created_at, expires_at`,
			id, c.MeshID, req.Label, key.Hash, key.Prefix, string(capsJSON), scopes, member, expires).Scan(&view.CreatedAt, &view.ExpiresAt); err != nil {
			return err
		}
		return appendAudit(r.Context(), tx, ev, c.MeshID, "apikey_created", c.MemberID, c.MemberName,
			map[string]any{"apiKeyId": id, "prefix": key.Prefix, "capabilities": req.Capabilities, "memberId": member})
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	view.ID, view.Prefix, view.Label, view.Capabilities, view.TopicScopes = id, key.Prefix, req.Label, req.Capabilities, spec.scopes
	view.MemberID, view.Status, view.Secret = &member, "active", key.Secret
	writeJSON(w, http.StatusCreated, view)
}

// keySpec is a checked API key request: its topic scopes (nil: every
// topic) and expiry (nil: never), the caller's when the request omits them.
type keySpec struct {
	scopes  []string
	expires *time.Time
}

// checkKeyReq validates a new key's capabilities, scopes and expiry, and
// refuses (403) a key that would exceed the calling key: a key can only
// hand on what it holds.
func checkKeyReq(c *caller, req *createKeyReq, now time.Time) (keySpec, *reqError) {
	var spec keySpec
	if rerr := checkKeyCaps(c, req.Capabilities); rerr != nil {
		return spec, rerr
	}
	var rerr *reqError
	if spec.scopes, rerr = checkKeyScopes(c, req.TopicScopes); rerr != nil {
		return spec, rerr
	}
	spec.expires, rerr = checkKeyExpiry(c, req.ExpiresAt, now)
	return spec, rerr
}

func checkKeyCaps(c *caller, caps []string) *reqError {
	if len(caps) == 0 {
		return &reqError{http.StatusBadRequest, "invalid_capabilities", "capabilities: at least one of send, read, admin"}
	}
	seen := map[string]bool{}
	for _, cp := range caps {
		if !validCaps[cp] || seen[cp] {
			return &reqError{http.StatusBadRequest, "invalid_capabilities", "capabilities: distinct values of send, read, admin"}
		}
		seen[cp] = true
	}
	for _, cp := range caps {
		if !c.Caps[cp] {
			return &reqError{http.StatusForbidden, "exceeds_caller_capabilities", "capabilities: a key cannot grant " + cp + ", which the calling key lacks"}
		}
	}
	return nil
}

func checkKeyScopes(c *caller, scopes []string) ([]string, *reqError) {
	if scopes == nil {
		return slices.Clone(c.TopicScopes), nil // nil stays nil: every topic
	}
	for _, t := range scopes {
		if !topicNameRe.MatchString(t) {
			return nil, &reqError{http.StatusBadRequest, "invalid_topic_scopes", "topicScopes: topic names"}
		}
	}
	if c.TopicScopes != nil {
		for _, t := range scopes {
			if !slices.Contains(c.TopicScopes, t) {
				return nil, &reqError{http.StatusForbidden, "exceeds_caller_scopes", "topicScopes: the calling key is not scoped to " + t}
			}
		}
	}
	return scopes, nil
}

func checkKeyExpiry(c *caller, expiresAt string, now time.Time) (*time.Time, *reqError) {
	if expiresAt == "" {
		return c.ExpiresAt, nil
	}
	t, err := time.Parse(time.RFC3339Nano, expiresAt)
	if err != nil || !t.After(now) {
		return nil, &reqError{http.StatusBadRequest, "invalid_expires_at", "expiresAt: an RFC 3339 time in the future"}
	}
	if c.ExpiresAt != nil && t.After(*c.ExpiresAt) {
		return nil, &reqError{http.StatusForbidden, "exceeds_caller_expiry", "expiresAt: after the calling key's expiry " + c.ExpiresAt.UTC().Format(time.RFC3339)}
	}
	return &t, nil
}

func (s *Server) handleListAPIKeys(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	rows, err := s.pool.Query(r.Context(), `SELECT id, secret_prefix, label, capabilities::text, topic_scopes::text, issued_by_member_id,
	CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expires_at IS NOT NULL AND expires_at <= localtimestamp THEN 'expired' ELSE 'active' END,
	created_at, last_used_at, expires_at, revoked_at
FROM mesh.api_key WHERE mesh_id = $1 ORDER BY created_at, id`, c.MeshID)
	if err != nil {
		s.dbError(w, err)
		return
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (apiKeyView, error) {
		var v apiKeyView
		var caps string
		var scopes *string
		err := row.Scan(&v.ID, &v.Prefix, &v.Label, &caps, &scopes, &v.MemberID, &v.Status, &v.CreatedAt, &v.LastUsedAt, &v.ExpiresAt, &v.RevokedAt)
		_ = json.Unmarshal([]byte(caps), &v.Capabilities)
		if scopes != nil {
			_ = json.Unmarshal([]byte(*scopes), &v.TopicScopes)
		}
		return v, err
	})
	if err != nil {
		s.dbError(w, err)
		return
	}
	if out == nil {
		out = []apiKeyView{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"apiKeys": out})
}

func (s *Server) handleRevokeAPIKey(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	ref := r.PathValue("ref")
	if !cleanText(ref, 64) {
		writeErr(w, http.StatusBadRequest, "invalid_ref", "give an API key id or a prefix of one")
		return
	}
	// The rules (literal prefix of at least 6 characters, unique within
	// the mesh) and the audit row are package mesh's, shared with
	// meshctl apikey revoke.
	var res meshops.Revocation
	err := s.txn(r.Context(), func(tx pgx.Tx, ev *[]string) error {
		var err error
		res, err = meshops.RevokeAPIKey(r.Context(), tx, c.MeshID, ref, meshops.Actor{MemberID: c.MemberID, DisplayName: c.MemberName}, false)
		switch {
		case err != nil:
			return err
		case res.Result == meshops.NotFound && len(ref) < meshops.MinRevokePrefix:
			return &reqError{http.StatusNotFound, meshops.NotFound, "no API key with this id; a prefix needs at least 6 characters"}
		case res.Result == meshops.NotFound:
			return &reqError{http.StatusNotFound, meshops.NotFound, "no API key in this mesh matches"}
		case res.Result == meshops.NotUnique:
			return &reqError{http.StatusConflict, meshops.NotUnique, "the prefix matches several API keys: give more characters"}
		}
		if !res.AlreadyRevoked {
			*ev = append(*ev, "apikey_revoked")
		}
		return nil
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": meshops.Revoked, "id": res.ID, "alreadyRevoked": res.AlreadyRevoked})
}
