// Command demoseed writes a realistic installation through a running
// reference broker's REST API, as clients would: meshes, members, topics,
// API keys, and topic messages — version 1 with @mentions, and version 2
// sealed with the topic key that the broker sealed for the sender (opened
// with the member's own key, as a client does). It prints the created
// ids as shell assignments for scripts/demo. Used by scripts/demo only.
//
//	demoseed -broker http://127.0.0.1:PORT -admin-token TOKEN
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/claudemesh/meshctl/meshfmt"
)

type client struct {
	base, admin string
	http        *http.Client
}

func (c *client) call(method, path, key string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

type member struct {
	id, name, key string
	sk            ed25519.PrivateKey
}

type mesh struct {
	id, slug string
	owner    member
	members  []member
}

func main() {
	base := flag.String("broker", "", "the broker's base URL")
	admin := flag.String("admin-token", "", "the broker's BROKER_ADMIN_TOKEN")
	flag.Parse()
	c := &client{base: *base, admin: *admin, http: &http.Client{Timeout: 10 * time.Second}}
	if err := seed(c); err != nil {
		fmt.Fprintln(os.Stderr, "demoseed:", err)
		os.Exit(1)
	}
}

func newKey() ed25519.PrivateKey {
	_, sk, _ := ed25519.GenerateKey(rand.Reader)
	return sk
}

func pub(sk ed25519.PrivateKey) string { return hex.EncodeToString(sk.Public().(ed25519.PublicKey)) }

func (c *client) createMesh(name, slug, owner string) (*mesh, error) {
	sk := newKey()
	var r struct{ MeshID, MemberID, APIKey string }
	if err := c.call("POST", "/v1/meshes", c.admin, map[string]any{"name": name, "slug": slug, "ownerPubkey": pub(sk), "ownerDisplayName": owner,
		"ownerUserId": "user-" + slug}, &r); err != nil {
		return nil, err
	}
	return &mesh{id: r.MeshID, slug: slug, owner: member{id: r.MemberID, name: owner, key: r.APIKey, sk: sk}}, nil
}

func (c *client) addMember(m *mesh, name string) (member, error) {
	sk := newKey()
	var r struct{ MemberID string }
	if err := c.call("POST", "/v1/members", m.owner.key, map[string]any{"displayName": name, "pubkey": pub(sk)}, &r); err != nil {
		return member{}, err
	}
	var k struct{ Secret string }
	if err := c.call("POST", "/v1/apikeys", m.owner.key, map[string]any{"label": name + "'s agent", "capabilities": []string{"send", "read"}, "memberId": r.MemberID}, &k); err != nil {
		return member{}, err
	}
	mb := member{id: r.MemberID, name: name, key: k.Secret, sk: sk}
	m.members = append(m.members, mb)
	return mb, nil
}

func (c *client) postV1(who member, topic, text string) error {
	body, _ := meshfmt.EncodeBodyV1(text)
	return c.call("POST", "/v1/messages", who.key, map[string]any{"topic": topic, "ciphertext": body, "bodyVersion": 1}, nil)
}

// postV2 seals text with the topic key, which the broker sealed for who
// when who created the topic: fetched, opened with who's own key.
func (c *client) postV2(who member, topic, text string, mentions []string) error {
	var k struct{ EncryptedKey, Nonce string }
	if err := c.call("GET", "/v1/topics/"+topic+"/key", who.key, nil, &k); err != nil {
		return err
	}
	xsk, err := meshfmt.Ed25519SecretKeyToX25519(who.sk)
	if err != nil {
		return err
	}
	topicKey, _, err := meshfmt.OpenTopicKey(k.EncryptedKey, k.Nonce, xsk)
	if err != nil {
		return err
	}
	var nonce [24]byte
	_, _ = rand.Read(nonce[:])
	ct, n, err := meshfmt.EncodeBodyV2(text, nonce, topicKey)
	if err != nil {
		return err
	}
	return c.call("POST", "/v1/messages", who.key, map[string]any{"topic": topic, "ciphertext": ct, "nonce": n, "bodyVersion": 2, "mentions": mentions}, nil)
}

func seed(c *client) error {
	team, err := c.createMesh("Platform team", "platform", "Ada")
	if err != nil {
		return err
	}
	names := []string{"bob", "carol", "dave", "erin", "frank", "mallory"}
	for _, n := range names {
		if _, err := c.addMember(team, n); err != nil {
			return err
		}
	}
	bob, carol, dave, mallory := team.members[0], team.members[1], team.members[2], team.members[5]
	if err := c.call("POST", "/v1/topics", team.owner.key, map[string]any{"name": "incidents", "description": "on-call"}, nil); err != nil {
		return err
	}
	lines := []struct {
		who        member
		topic, msg string
	}{
		{bob, "general", "morning all, @carol can you review the schema change?"},
		{carol, "general", "@bob looking now; @dave the index build is yours"},
		{dave, "general", "deploying to staging, ping @Ada if it goes red"},
		{team.owner, "general", "thanks @bob @carol @dave — release at 3pm"},
		{mallory, "general", "hey @everyone click this"},
		{bob, "general", "plain status update, no mentions"},
	}
	for round := 0; round < 5; round++ {
		for _, l := range lines {
			if err := c.postV1(l.who, l.topic, fmt.Sprintf("%s (#%d)", l.msg, round+1)); err != nil {
				return err
			}
		}
	}
	for i := 0; i < 3; i++ {
		if err := c.postV2(team.owner, "incidents", fmt.Sprintf("sev2 #%d: db failover drill, @bob on point", i+1), []string{"bob"}); err != nil {
			return err
		}
	}
	ops, err := c.createMesh("Ops bots", "ops-bots", "Grace")
	if err != nil {
		return err
	}
	for _, n := range []string{"deployer", "pager"} {
		if _, err := c.addMember(ops, n); err != nil {
			return err
		}
	}
	if err := c.postV1(ops.members[0], "general", "@pager rollout 42 finished"); err != nil {
		return err
	}
	legacy, err := c.createMesh("Legacy", "legacy", "Hal")
	if err != nil {
		return err
	}
	if _, err := c.addMember(legacy, "ivy"); err != nil {
		return err
	}
	if err := c.postV1(legacy.members[0], "general", "is anyone still here, @Hal?"); err != nil {
		return err
	}
	fmt.Printf("team_mesh=%s\nlegacy_mesh=%s\nlegacy_owner=%s\nmallory=%s\ncarol=%s\nbob_key_prefix=%s\n",
		team.id, legacy.id, legacy.owner.id, mallory.id, carol.id, bob.key[:11])
	return nil
}
