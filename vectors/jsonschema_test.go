package vectors

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The JSON Schemas of the vector files (vectors/schema/*.schema.json, one
// per `schema` name) are written from the table below: what other
// implementations read to know each field. Every file is validated against
// its schema; MESHCTL_UPDATE_VECTORS=1 rewrites the schema files.

// field kinds
const (
	kHex     = `{"type":"string","pattern":"^([0-9a-f]{2})*$"}`
	kHex24   = `{"type":"string","pattern":"^[0-9a-f]{48}$"}`
	kHex32   = `{"type":"string","pattern":"^[0-9a-f]{64}$"}`
	kStr     = `{"type":"string"}`
	kInt     = `{"type":"integer"}`
	kSafeInt = `{"type":"integer","minimum":-9007199254740991,"maximum":9007199254740991}`
	kDecimal = `{"type":"string","pattern":"^-?(0|[1-9][0-9]*)$","description":"a 64-bit integer as a decimal string (beyond 2^53, JSON.parse would misread a number)"}`
	kBool    = `{"type":"boolean"}`
	kNullStr = `{"type":["string","null"]}`
	kStrList = `{"type":"array","items":{"type":"string"}}`
	kMembers = `{"type":"array","items":{"type":"object","required":["id","displayName"],"additionalProperties":false,"properties":{"id":{"type":"string"},"displayName":{"type":"string"}}}}`
	kPKObj   = `{"type":"object","required":["pk"],"properties":{"pk":{"type":"string","pattern":"^([0-9a-f]{2})*$"}}}`
)

type fieldDef struct {
	kind     string
	required bool // in every test (false: optional, or given by the group)
}

func req(k string) fieldDef { return fieldDef{k, true} }
func opt(k string) fieldDef { return fieldDef{k, false} }

var schemaTable = map[string]struct {
	vendored bool // third-party shape: extra keys allowed
	groups   map[string]map[string]fieldDef
}{
	"eddsa_verify_schema_v1.json": {true, map[string]map[string]fieldDef{"EddsaVerify": {"publicKey": opt(kPKObj), "msg": req(kHex), "sig": req(kHex)}}},
	"xdh_comp_schema_v1.json":     {true, map[string]map[string]fieldDef{"XdhComp": {"curve": opt(kStr), "public": req(kHex), "private": req(kHex), "shared": req(kHex)}}},
	"aead_test_schema_v1.json": {true, map[string]map[string]fieldDef{"AeadTest": {"keySize": opt(kInt), "ivSize": opt(kInt), "tagSize": opt(kInt),
		"key": req(kHex), "iv": req(kHex), "aad": req(kHex), "msg": req(kHex), "ct": req(kHex), "tag": req(kHex)}}},
	"meshctl_ed25519_sign_v1": {false, map[string]map[string]fieldDef{
		"Ed25519Sign":   {"seed": req(kHex32), "publicKey": req(kHex32), "msg": req(kHex), "sig": req(kHex)},
		"Ed25519Verify": {"publicKey": req(kHex32), "msg": req(kHex), "sig": req(kHex)}}},
	"meshctl_ed25519_verify_v1": {false, map[string]map[string]fieldDef{"Ed25519Verify": {"publicKey": req(kHex32), "msg": req(kHex), "sig": req(kHex)}}},
	"meshctl_x25519_v1": {false, map[string]map[string]fieldDef{
		"XdhComp":    {"curve": opt(kStr), "public": req(kHex32), "private": req(kHex32), "shared": req(kHex32)},
		"XdhIterate": {"iterations": req(kInt), "shared": req(kHex32), "long": opt(kBool)}}},
	"meshctl_nacl_v1": {false, map[string]map[string]fieldDef{
		"Box":       {"secretKey": req(kHex32), "publicKey": req(kHex32), "nonce": req(kHex24), "msg": req(kHex), "box": req(kHex)},
		"SecretBox": {"key": req(kHex32), "nonce": req(kHex24), "msg": req(kHex), "box": req(kHex)}}},
	"meshctl_mesh_apikey_v1": {false, map[string]map[string]fieldDef{"ApiKey": {"random": opt(kHex32), "secret": req(kStr), "prefix": req(kStr), "hash": req(kStr)}}},
	"meshctl_mesh_keyconv_v1": {false, map[string]map[string]fieldDef{"Ed25519ToX25519": {"seed": opt(kHex32), "edPublic": req(kHex),
		"xPublic": opt(kHex32), "xSecret": opt(kHex32)}}},
	"meshctl_mesh_topickey_v1": {false, map[string]map[string]fieldDef{"TopicKeySeal": {"recipientSecret": opt(kHex32), "recipientEdSeed": opt(kHex32),
		"senderSecret": opt(kHex32), "nonce": req(kStr), "blob": req(kStr), "topicKey": req(kHex32), "topicSenderPubkey": opt(kHex32)}}},
	"meshctl_mesh_body_v1": {false, map[string]map[string]fieldDef{
		"BodyV1": {"ciphertext": req(kStr), "plaintext": req(kStr)},
		"BodyV2": {"key": opt(kHex32), "nonce": req(kStr), "ciphertext": req(kStr), "plaintext": req(kStr)}}},
	"meshctl_mesh_hello_v1": {false, map[string]map[string]fieldDef{"HelloSignature": {"meshId": req(kStr), "memberId": req(kStr), "pubkey": req(kStr),
		"timestampMs": req(kSafeInt), "nowMs": req(kSafeInt), "sig": req(kStr)}}},
	"meshctl_mesh_invite_v1": {false, map[string]map[string]fieldDef{
		"InviteV1": {"token": req(kStr), "nowSec": req(kSafeInt), "ownerSeed": opt(kHex32), "meshId": opt(kStr), "meshSlug": opt(kStr), "brokerUrl": opt(kStr),
			"expiresAt": opt(kSafeInt), "rootKey": opt(kStr), "role": opt(kStr), "ownerPubkey": opt(kStr), "signature": opt(kStr)},
		"InviteV2": {"stored": req(kStr), "nowSec": req(kSafeInt), "ownerSeed": opt(kHex32), "meshId": opt(kStr), "inviteId": opt(kStr),
			"expiresAt": opt(kSafeInt), "role": opt(kStr), "ownerPubkey": opt(kStr)}}},
	"meshctl_mesh_rootkey_v1": {false, map[string]map[string]fieldDef{"RootKeySeal": {"recipientSecret": opt(kHex32), "ephemeralSecret": opt(kHex32),
		"sealed": req(kStr), "rootKey": req(kStr)}}},
	"meshctl_mesh_lockkey_v1": {false, map[string]map[string]fieldDef{
		"MigrationLockKey": {"key": req(kDecimal)},
		"AuditLockKey":     {"meshId": req(kStr), "key": req(kDecimal)}}},
	"meshctl_mesh_audit_v1": {false, map[string]map[string]fieldDef{"AuditRowV1": {"prevHash": req(kStr), "meshId": req(kStr), "eventType": req(kStr),
		"actor": req(kNullStr), "payload": req(kStr), "createdAt": req(kStr), "hash": req(kStr)}}},
	"meshctl_mesh_session_v1": {false, map[string]map[string]fieldDef{
		"SessionAttestation": {"parentPubkey": req(kStr), "sessionPubkey": req(kStr), "expiresAtMs": req(kSafeInt), "nowMs": req(kSafeInt), "sig": req(kStr)},
		"SessionHello": {"meshId": req(kStr), "parentPubkey": req(kStr), "sessionPubkey": req(kStr), "timestampMs": req(kSafeInt),
			"nowMs": req(kSafeInt), "sig": req(kStr)}}},
	"meshctl_mesh_dm_v1": {false, map[string]map[string]fieldDef{"DirectMessage": {"senderEdSeed": req(kHex32), "recipientEdSeed": req(kHex32),
		"nonce": req(kStr), "ciphertext": req(kStr), "plaintext": req(kStr)}}},
	"meshctl_mesh_filekey_v1": {false, map[string]map[string]fieldDef{"FileKey": {"recipientEdSeed": req(kHex32), "sealedKey": req(kStr),
		"key": req(kHex32), "nonce": req(kStr), "ciphertext": req(kStr), "plaintext": req(kHex)}}},
	"meshctl_mesh_envsecret_v1": {false, map[string]map[string]fieldDef{"EnvSecret": {"key": opt(kStr), "stored": req(kStr), "plaintext": req(kStr)}}},
	"meshctl_mesh_backup_v1": {false, map[string]map[string]fieldDef{"CliBackup": {"passphrase": req(kStr), "file": req(kStr), "plaintext": req(kHex),
		"long": opt(kBool)}}},
	"meshctl_mesh_mention_v1": {false, map[string]map[string]fieldDef{"Mentions": {"body": req(kStr), "sender": req(kStr), "members": req(kMembers),
		"tokens": req(kStrList), "recipients": req(kStrList)}}},
	"meshctl_mesh_clisession_v1": {false, map[string]map[string]fieldDef{"CliSession": {"secret": opt(kStr), "token": req(kStr), "tokenHash": req(kStr),
		"sub": opt(kStr), "name": opt(kStr)}}},
}

const schemaBase = "https://github.com/claudemesh/meshctl/vectors/schema/"

func schemaFileName(name string) string { return strings.TrimSuffix(name, ".json") + ".schema.json" }

// buildSchema writes one schema document.
func buildSchema(name string) ([]byte, error) {
	def := schemaTable[name]
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	policy := raw(`{"type":"object","required":["default","reason"],"additionalProperties":false,"properties":{` +
		`"default":{"enum":["valid","invalid","either"]},"strict":{"enum":["valid","invalid","either"]},"reason":{"type":"string","minLength":1}}}`)
	var types []string
	for t := range def.groups {
		types = append(types, t)
	}
	sort.Strings(types)
	var groupSchemas []any
	for _, typ := range types {
		fields := def.groups[typ]
		testProps := map[string]any{"tcId": raw(`{"type":"integer","minimum":1}`), "comment": raw(kStr),
			"flags": raw(`{"type":"array","items":{"type":"string"}}`), "result": raw(`{"enum":["valid","invalid","acceptable"]}`)}
		groupProps := map[string]any{"type": map[string]any{"const": typ}}
		required := []string{"tcId", "result"}
		for f, fd := range fields {
			testProps[f] = raw(fd.kind)
			groupProps[f] = raw(fd.kind)
			if fd.required {
				required = append(required, f)
			}
		}
		sort.Strings(required)
		test := map[string]any{"type": "object", "required": required, "properties": testProps}
		if !def.vendored {
			test["additionalProperties"] = false
		}
		groupProps["tests"] = map[string]any{"type": "array", "minItems": 1, "items": test}
		group := map[string]any{"type": "object", "required": []string{"type", "tests"}, "properties": groupProps}
		if !def.vendored {
			group["additionalProperties"] = false
		}
		groupSchemas = append(groupSchemas, group)
	}
	doc := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         schemaBase + schemaFileName(name),
		"title":       "meshctl vector file, schema " + name,
		"description": "Wycheproof-style vector file. A test's result is valid, invalid or acceptable; an acceptable test is decided by the policy of its flags (notes.FLAG.policy, or meshctl's built-in policy for vendored files): invalid wins over either, either over valid. An either verdict pins nothing: both outcomes pass in that mode, and the test can never fail there.",
		"type":        "object",
		"required":    []string{"algorithm", "schema", "testGroups"},
		"properties": map[string]any{
			"algorithm":        map[string]any{"type": "string"},
			"schema":           map[string]any{"const": name},
			"generatorVersion": raw(kStr),
			"numberOfTests":    raw(`{"type":"integer","minimum":0}`),
			"header":           raw(`{"type":"array","items":{"type":"string"}}`),
			"provenance":       raw(`{"type":"object","required":["upstreamCommit","libsodiumWrappers","command"],"properties":{"upstreamCommit":{"type":"string","pattern":"^[0-9a-f]{40}$"}}}`),
			"notes": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "object", "required": []string{"description"},
				"properties": map[string]any{"bugType": raw(kStr), "description": raw(kStr), "effect": raw(kStr), "links": raw(`{"type":"array"}`), "cves": raw(`{"type":"array"}`), "policy": policy}}},
			"testGroups": map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"oneOf": groupSchemas}},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	return append(b, '\n'), err
}

// TestSchemasUpToDate: the committed schema files are those of the table,
// one per schema name Load knows.
func TestSchemasUpToDate(t *testing.T) {
	for name := range schemas {
		if _, ok := schemaTable[name]; !ok {
			t.Errorf("schema %s has no JSON Schema in the table", name)
		}
	}
	for name := range schemaTable {
		want, err := buildSchema(name)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("schema", schemaFileName(name))
		got, _ := os.ReadFile(path)
		if !bytes.Equal(got, want) {
			if os.Getenv("MESHCTL_UPDATE_VECTORS") == "1" {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			t.Errorf("%s is not up to date (MESHCTL_UPDATE_VECTORS=1 rewrites it)", path)
		}
	}
}

func compileSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	out := map[string]*jsonschema.Schema{}
	for name := range schemaTable {
		f, err := os.Open(filepath.Join("schema", schemaFileName(name)))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(schemaBase+schemaFileName(name), doc); err != nil {
			t.Fatal(err)
		}
	}
	for name := range schemaTable {
		s, err := c.Compile(schemaBase + schemaFileName(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = s
	}
	return out
}

// TestFilesMatchTheirJSONSchema validates every embedded file against the
// JSON Schema of its schema name, and checks the schemas refuse what they
// should (a misspelt field, a lock key as a number, a bad result).
func TestFilesMatchTheirJSONSchema(t *testing.T) {
	compiled := compileSchemas(t)
	files, _ := EmbeddedFiles()
	for name, data := range files {
		var head struct{ Schema string }
		json.Unmarshal(data, &head)
		s, ok := compiled[head.Schema]
		if !ok {
			t.Errorf("%s: no JSON Schema for %q", name, head.Schema)
			continue
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(inst); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, tt := range []struct{ name, schema, doc string }{
		{"misspelt field", "meshctl_mesh_hello_v1", `{"algorithm":"MESH-HELLO","schema":"meshctl_mesh_hello_v1","testGroups":[{"type":"HelloSignature","tests":[{"tcId":1,"result":"valid","meshId":"m","memberId":"x","pubKey":"p","timestampMs":1,"nowMs":1,"sig":"s"}]}]}`},
		{"lock key as a number", "meshctl_mesh_lockkey_v1", `{"algorithm":"MESH-LOCK-KEY","schema":"meshctl_mesh_lockkey_v1","testGroups":[{"type":"MigrationLockKey","tests":[{"tcId":1,"result":"valid","key":7473773831}]}]}`},
		{"unknown result", "meshctl_mesh_lockkey_v1", `{"algorithm":"MESH-LOCK-KEY","schema":"meshctl_mesh_lockkey_v1","testGroups":[{"type":"MigrationLockKey","tests":[{"tcId":1,"result":"maybe","key":"1"}]}]}`},
		{"policy verdict", "meshctl_mesh_lockkey_v1", `{"algorithm":"MESH-LOCK-KEY","schema":"meshctl_mesh_lockkey_v1","notes":{"F":{"description":"d","policy":{"default":"acceptable","reason":"r"}}},"testGroups":[{"type":"MigrationLockKey","tests":[{"tcId":1,"result":"valid","key":"1"}]}]}`},
	} {
		inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(tt.doc))
		if err := compiled[tt.schema].Validate(inst); err == nil {
			t.Errorf("%s: the schema accepts it", tt.name)
		}
	}
}
