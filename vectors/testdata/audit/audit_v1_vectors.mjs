// Writes the audit v1 row-hash vectors (vectors/data/audit_v1_test.json)
// computed with the upstream broker's own runtime semantics: JSON.parse,
// JSON.stringify, Array.prototype.sort (UTF-16 code units) and
// Date.prototype.toISOString, in Node. This is the independent oracle for
// audit.HashV1; Go never computes an expected hash of this file.
//
//   node vectors/testdata/audit/audit_v1_vectors.mjs > vectors/data/audit_v1_test.json
import { createHash } from "node:crypto";

function canonical(v) {
  if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]";
  if (v !== null && typeof v === "object") {
    return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canonical(v[k])).join(",") + "}";
  }
  return JSON.stringify(v);
}

function rowHash(r) {
  const actor = r.actor === null ? "null" : r.actor;
  const iso = new Date(r.createdAt).toISOString();
  const s = [r.prevHash, r.meshId, r.eventType, actor, canonical(JSON.parse(r.payload)), iso].join("|");
  return createHash("sha256").update(s, "utf8").digest("hex");
}

const notes = {
  SpecPin: { bugType: "BASIC", description: "The SPEC §3 pin." },
  Chain: { bugType: "BASIC", description: "A row chained on the previous row's hash." },
  ActorNull: { bugType: "EDGE_CASE", description: "actor_member_id is NULL: the four letters null are hashed." },
  ActorNullCollision: { bugType: "KNOWN_WEAKNESS", description: "An actor id that is literally the text null hashes like a NULL actor (upstream format ambiguity; kept for compatibility)." },
  KeyOrder: { bugType: "CANONICALIZATION", description: "Object keys sorted by UTF-16 code units, recursively; the stored order does not matter." },
  Utf16Order: { bugType: "CANONICALIZATION", description: "Keys whose UTF-16 order differs from code-point and UTF-8 order (astral vs U+E000..U+FFFF)." },
  Numbers: { bugType: "CANONICALIZATION", description: "Numbers formatted as JavaScript does (1e+21, 1e-7, -0 as 0, integers beyond 2^53 rounded)." },
  Strings: { bugType: "CANONICALIZATION", description: "Strings escaped as JSON.stringify does (only \", \\ and controls; / < > & U+2028 raw)." },
  DuplicateKey: { bugType: "CANONICALIZATION", description: "A duplicate key: the last one wins (JSON.parse and jsonb agree)." },
  Timestamp: { bugType: "CANONICALIZATION", description: "created_at to toISOString: exactly 3 fractional digits, microseconds truncated (never rounded up)." },
  Tampered: { bugType: "INTEGRITY", description: "A field changed after hashing: the stored hash must not match." },
  HashCase: { bugType: "FORMAT", description: "The stored hash in upper case: hashes are lower-case hex." },
};

const pin = { prevHash: "genesis", meshId: "mesh1", eventType: "peer_joined", actor: "actor",
  payload: '{"restored":true,"pubkey":"abc","groups":[]}', createdAt: "2026-04-15T12:00:00.000Z" };
const pinHash = rowHash(pin);
if (pinHash !== "73bad757dad9b1fee95c3eb00f4a72e7a6d188d8c765d9bcdef4625f267a0a6c") throw new Error("SPEC pin mismatch: " + pinHash);

const mesh = "8c1f3f0e2a9b4d7c9e0f1a2b3c4d5e6f";
const valid = [
  ["SPEC §3 pin", ["SpecPin"], pin],
  ["second row of the chain: message_sent", ["Chain"], { prevHash: pinHash, meshId: "mesh1", eventType: "message_sent", actor: "actor",
    payload: '{"targetSpec":"*","priority":"now"}', createdAt: "2026-04-15T12:00:01.250Z" }],
  ["NULL actor", ["ActorNull"], { prevHash: "genesis", meshId: mesh, eventType: "peer_left", actor: null, payload: "{}", createdAt: "2026-05-01T00:00:00.000Z" }],
  ["actor id is the text null: same hash as a NULL actor", ["ActorNullCollision"], { prevHash: "genesis", meshId: mesh, eventType: "peer_left", actor: "null", payload: "{}", createdAt: "2026-05-01T00:00:00.000Z" }],
  ["keys out of order, nested objects and arrays", ["KeyOrder"], { prevHash: pinHash, meshId: mesh, eventType: "state_set", actor: "m1",
    payload: '{"z":{"y":[{"b":1,"a":[3,2,1]}],"x":{}},"a":null,"B":true,"b":false}', createdAt: "2026-05-01T10:20:30.400Z" }],
  ["keys whose UTF-16 order is not code-point order", ["Utf16Order"], { prevHash: pinHash, meshId: mesh, eventType: "state_set", actor: "m1",
    payload: '{"\\ufb01":1,"\\ud83d\\ude00":2,"a":3,"Z":4,"é":5,"\\u007f":6,"":7}', createdAt: "2026-05-01T10:20:30.400Z" }],
  ["numbers as JavaScript prints them", ["Numbers"], { prevHash: pinHash, meshId: mesh, eventType: "state_set", actor: "m1",
    payload: '{"a":1e21,"b":1e-7,"c":2.5,"d":-0,"e":1.0,"f":123456789012345678901234567890,"g":0.1,"h":1e300,"i":5e-324,"j":-1.5E+3,"k":100,"l":9007199254740993,"m":0.000001}',
    createdAt: "2026-05-01T10:20:30.400Z" }],
  ["strings as JSON.stringify escapes them", ["Strings"], { prevHash: pinHash, meshId: mesh, eventType: "state_set", actor: "m1",
    payload: '{"s":"quote \\" backslash \\\\ nl \\n cr \\r tab \\t bs \\b ff \\f ctrl \\u0001 \\u001f del \\u007f slash \\/ html <>& ls \\u2028 ps \\u2029 emoji \\ud83d\\ude00 \\u00e9"}',
    createdAt: "2026-05-01T10:20:30.400Z" }],
  ["duplicate key: the last wins", ["DuplicateKey"], { prevHash: pinHash, meshId: mesh, eventType: "state_set", actor: "m1",
    payload: '{"a":1,"a":2}', createdAt: "2026-05-01T10:20:30.400Z" }],
  ["microseconds truncated: .123456 → .123", ["Timestamp"], { prevHash: pinHash, meshId: mesh, eventType: "peer_joined", actor: "m2",
    payload: '{"pubkey":"ab"}', createdAt: "2026-12-31T23:59:59.123456Z" }],
  ["microseconds truncated, not rounded: .999999 → .999", ["Timestamp"], { prevHash: pinHash, meshId: mesh, eventType: "peer_joined", actor: "m2",
    payload: '{"pubkey":"ab"}', createdAt: "2026-12-31T23:59:59.999999Z" }],
  ["whole second → .000", ["Timestamp"], { prevHash: pinHash, meshId: mesh, eventType: "member_banned", actor: "m2",
    payload: '{"memberId":"m3"}', createdAt: "2027-01-01T00:00:00Z" }],
];

const tests = [];
let n = 0;
for (const [comment, flags, r] of valid) {
  tests.push({ tcId: ++n, comment, flags, ...r, hash: rowHash(r), result: "valid" });
}
const tamper = [
  ["event_type changed", { eventType: "peer_left" }],
  ["created_at one millisecond later", { createdAt: "2026-04-15T12:00:00.001Z" }],
  ["prev_hash changed", { prevHash: "0".repeat(64) }],
  ["payload value changed", { payload: '{"restored":false,"pubkey":"abc","groups":[]}' }],
  ["mesh_id changed", { meshId: "mesh2" }],
  ["actor changed to NULL", { actor: null }],
  ["payload element added", { payload: '{"restored":true,"pubkey":"abc","groups":["g"]}' }],
];
for (const [comment, change] of tamper) {
  tests.push({ tcId: ++n, comment: "SPEC pin with " + comment, flags: ["Tampered"], ...pin, ...change, hash: pinHash, result: "invalid" });
}
tests.push({ tcId: ++n, comment: "SPEC pin with the hash in upper case", flags: ["HashCase"], ...pin, hash: pinHash.toUpperCase(), result: "invalid" });

const file = {
  algorithm: "MESH-AUDIT-V1",
  schema: "meshctl_mesh_audit_v1",
  generatorVersion: "node (vectors/testdata/audit/audit_v1_vectors.mjs)",
  numberOfTests: n,
  header: [
    "Audit chain v1 row hashes (SPEC §3): sha256hex(prev_hash|mesh_id|event_type|actor|canonical(payload)|created_at_iso).",
    "Expected hashes are computed by Node (JSON.parse/stringify, UTF-16 key sort, Date.toISOString): the upstream runtime.",
    "payload is the JSON text as read back; createdAt is UTC with up to 6 fractional digits (PostgreSQL timestamp precision).",
  ],
  notes,
  testGroups: [{ type: "AuditRowV1", tests }],
};
process.stdout.write(JSON.stringify(file, null, 2) + "\n");
