// vectors/upstream/generate.mjs — make vectors/data/upstream_*.json with
// upstream claudemesh's OWN functions (not part of CI; see docs/vectors.md).
//
//   node vectors/upstream/generate.mjs SRC OUTDIR
//   node vectors/upstream/generate.mjs SRC --verdicts FILE...
//
// The second form writes nothing: it feeds meshctl's vector files to
// upstream's own verifiers and openers and prints, per file, where
// upstream's verdict differs from the file's (a reviewer's report: upstream
// is sometimes more lenient than meshctl, by design of meshctl).
//
// SRC is a directory holding upstream's tree at UPSTREAM_COMMIT (generate.sh
// extracts it). The needed modules are bundled with esbuild; the database,
// HTTP and logging modules they import are replaced by stubs, so the
// functions run unchanged, offline, under Node with libsodium-wrappers
// 0.7.15 (libsodium 1.0.20) from this folder's node_modules.
//
// Randomness: libsodium-wrappers' randombytes_buf and crypto_box_keypair and
// node:crypto's randomBytes are replaced by a seeded stream, so most objects
// are reproducible. crypto_box_seal draws its ephemeral key inside
// libsodium; for those the files carry the object and the recipient key
// that opens it. Every object is written with the keys needed to verify or
// open it; nothing here decides a verdict — meshctl and the Node oracle do.

import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

export const UPSTREAM_COMMIT = "213a6b37cc1739776d71887d67e60ee0fcf2652a";
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "package.json"));
const esbuild = require("esbuild");

const [src, outDir, ...verdictFiles] = process.argv.slice(2);
if (!src || !outDir || (outDir === "--verdicts" && verdictFiles.length === 0)) {
  console.error("usage: node vectors/upstream/generate.mjs SRC OUTDIR | SRC --verdicts FILE...");
  process.exit(2);
}
const cli = path.join(src, "apps/cli/src");
const broker = path.join(src, "apps/broker/src");
const api = path.join(src, "packages/api/src");

// Modules bundled for real; every other import is a stub.
const real = [
  `${cli}/services/crypto/`, `${cli}/services/broker/hello-sig.ts`, `${cli}/services/broker/session-hello-sig.ts`,
  `${cli}/services/invite/parse-v1.ts`, `${cli}/commands/topic-post.ts`,
  `${broker}/crypto.ts`, `${broker}/broker.ts`, `${broker}/broker-crypto.ts`,
  `${api}/modules/mesh/mutations.ts`,
];
const isReal = (p) => real.some((r) => (r.endsWith("/") ? p.startsWith(r) : p === r));

// Functions upstream keeps module-private, exported for this run only (the
// bundle's copy of broker.ts gains one export line; nothing else changes).
const privateExports = {
  [`${broker}/broker.ts`]: "export { sealTopicKeyForMember as __sealTopicKeyForMember, generateTopicKeyBundle as __generateTopicKeyBundle, newApiKeySecret as __newApiKeySecret };",
};

const stubSource = (name) => `
const name = ${JSON.stringify(name)};
const ctl = globalThis.__upstreamStub;
function chain(label) {
  const f = function () {};
  return new Proxy(f, {
    get(_t, k) {
      if (k === "then") {
        // An awaited database chain yields the next queued result.
        return label.startsWith("db") ? (res) => res(ctl.db.shift() ?? []) : undefined;
      }
      if (k === Symbol.toPrimitive) return () => label;
      if (k === Symbol.iterator) return undefined;
      if (k === "__esModule") return false;
      if (k === "values" || k === "set") return (v) => { ctl.writes.push({ op: k, v }); return chain(label); };
      return chain(label + "." + String(k));
    },
    apply() { return chain(label); },
    construct() { return chain(label); },
  });
}
if (name === "env") module.exports = { env: ctl.env };
else if (name === "with-rest-key") module.exports = { withRestKey: (_opts, fn) => fn({ secret: "cm_stub", mesh: { slug: "stub", secretKey: "" } }) };
else if (name === "client") module.exports = { request: async (r) => { ctl.requests.push(r); return { messageId: "m1", historyId: null, topic: "t", topicId: "t1", notifications: 0 }; } };
else {
  // Any named import resolves through the prototype (esbuild's interop
  // copies own properties and keeps the prototype).
  const any = new Proxy({}, { get(_t, k) {
    if (k === "__esModule" || typeof k === "symbol") return undefined;
    if (k === "db") return chain("db");
    return chain(name + "." + String(k));
  } });
  module.exports = Object.create(any);
}
`;

const plugin = {
  name: "upstream",
  setup(b) {
    b.onResolve({ filter: /.*/ }, (a) => {
      if (a.kind === "entry-point") return undefined;
      const p = a.path;
      // One libsodium instance, shared with this script (so that its
      // randomness can be seeded): the bundle reads it from a global.
      if (p === "libsodium-wrappers") return { path: "sodium", namespace: "sodium" };
      if ((p === "node:crypto" || p === "crypto") && a.namespace !== "detcrypto") return { path: "detcrypto", namespace: "detcrypto" };
      if (p.startsWith("node:")) return { external: true };
      if (a.importer.includes("node_modules")) return undefined;
      let abs;
      if (p.startsWith("~/")) abs = path.join(cli, p.slice(2));
      else if (p.startsWith(".")) abs = path.resolve(a.resolveDir, p);
      else if (path.isAbsolute(p)) abs = p;
      else return { path: p, namespace: "stub" };
      abs = abs.replace(/\.js$/, ".ts");
      if (!/\.tsx?$/.test(abs)) abs += ".ts";
      if (isReal(abs)) return { path: abs };
      return { path: path.basename(abs, ".ts"), namespace: "stub" };
    });
    b.onLoad({ filter: /.*/, namespace: "sodium" }, () => ({ contents: "module.exports = globalThis.__upstreamSodium;", loader: "js" }));
    b.onLoad({ filter: /.*/, namespace: "stub" }, (a) => ({ contents: stubSource(a.path), loader: "js" }));
    b.onLoad({ filter: /.*/, namespace: "detcrypto" }, () => ({
      contents: `const c = require("node:crypto");
module.exports = Object.assign(Object.create(c), { randomBytes: (n) => Buffer.from(globalThis.__upstreamStub.rand(n)) });`,
      loader: "js",
      resolveDir: here,
    }));
    b.onLoad({ filter: /\.ts$/ }, (a) => {
      let s = readFileSync(a.path, "utf8");
      if (privateExports[a.path]) s += "\n" + privateExports[a.path] + "\n";
      return { contents: s, loader: "ts" };
    });
  },
};

const entry = `
export { signHello } from ${JSON.stringify(`${cli}/services/broker/hello-sig.ts`)};
export { signParentAttestation, signSessionHello } from ${JSON.stringify(`${cli}/services/broker/session-hello-sig.ts`)};
export { buildSignedInvite } from ${JSON.stringify(`${cli}/services/invite/parse-v1.ts`)};
export { encryptMessage, sealTopicKeyFor } from ${JSON.stringify(`${cli}/services/crypto/topic-key.ts`)};
export { encryptDirect } from ${JSON.stringify(`${cli}/services/crypto/box.ts`)};
export { encryptFile, sealKeyForPeer } from ${JSON.stringify(`${cli}/services/crypto/file-crypto.ts`)};
export { sealRootKeyToRecipient } from ${JSON.stringify(`${broker}/crypto.ts`)};
export { __sealTopicKeyForMember, __generateTopicKeyBundle, __newApiKeySecret } from ${JSON.stringify(`${broker}/broker.ts`)};
export { encryptForStorage } from ${JSON.stringify(`${broker}/broker-crypto.ts`)};
export { createMyInvite, ensureGeneralTopic } from ${JSON.stringify(`${api}/modules/mesh/mutations.ts`)};
export { runTopicPost } from ${JSON.stringify(`${cli}/commands/topic-post.ts`)};
export { parseInviteLink } from ${JSON.stringify(`${cli}/services/invite/parse-v1.ts`)};
export { decryptMessage } from ${JSON.stringify(`${cli}/services/crypto/topic-key.ts`)};
export { decryptDirect } from ${JSON.stringify(`${cli}/services/crypto/box.ts`)};
export { openSealedKey, decryptFile } from ${JSON.stringify(`${cli}/services/crypto/file-crypto.ts`)};
export { verifyHelloSignature, verifySessionAttestation, verifySessionHelloSignature, verifyInviteV2 } from ${JSON.stringify(`${broker}/crypto.ts`)};
export { decryptFromStorage } from ${JSON.stringify(`${broker}/broker-crypto.ts`)};
`;

// ---- deterministic randomness -------------------------------------------
let counter = 0;
const SEED = "meshctl upstream vectors v1";
function rand(n) {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 32) {
    const h = createHash("sha256").update(`${SEED}\0${counter++}`).digest();
    out.set(h.subarray(0, Math.min(32, n - i)), i);
  }
  return out;
}
const ctl = { db: [], writes: [], requests: [], env: { BROKER_ENCRYPTION_KEY: "" }, rand };
globalThis.__upstreamStub = ctl;

const work = mkdtempSync(path.join(tmpdir(), "meshctl-upstream-"));
const bundle = path.join(work, "bundle.mjs");
await esbuild.build({
  stdin: { contents: entry, resolveDir: here, loader: "js" },
  bundle: true, platform: "node", format: "esm", outfile: bundle, plugins: [plugin], logLevel: "error",
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
const sodium = require("libsodium-wrappers");
await sodium.ready;
globalThis.__upstreamSodium = sodium;
sodium.randombytes_buf = (n) => rand(n);
sodium.crypto_box_keypair = () => sodium.crypto_box_seed_keypair(rand(32));
const up = await import(pathToFileURL(bundle).href);
if (outDir === "--verdicts") {
  const { upstreamVerdicts } = await import(pathToFileURL(path.join(here, "verdicts.mjs")).href);
  await upstreamVerdicts(up, sodium, ctl, verdictFiles);
  process.exit(0);
}

const hex = (b) => Buffer.from(b).toString("hex");
const b64 = (b) => Buffer.from(b).toString("base64");
const edFromSeed = (seed) => {
  const kp = sodium.crypto_sign_seed_keypair(seed);
  return { seed: hex(seed), pk: hex(kp.publicKey), sk: hex(kp.privateKey) };
};
const seq = (start) => Uint8Array.from({ length: 32 }, (_, i) => (start + i) & 0xff);
const owner = edFromSeed(seq(1)); // SPEC §4's pinned key: seed 01..20
const alice = edFromSeed(seq(0x40));
const bob = edFromSeed(seq(0x80));
const NOW_MS = 1_777_777_777_000;
const realNow = Date.now;
Date.now = () => NOW_MS;

const pkgVersion = JSON.parse(readFileSync(require.resolve("libsodium-wrappers/package.json"), "utf8")).version;
const provenance = {
  upstream: "github.com/alezmad/claudemesh",
  upstreamCommit: UPSTREAM_COMMIT,
  libsodiumWrappers: pkgVersion,
  libsodium: sodium.sodium_version_string(),
  node: process.version,
  command: "vectors/upstream/generate.sh GIT_DIR_OR_URL",
  randomness: `randombytes_buf, crypto_box_keypair and node:crypto randomBytes replaced by sha256("${SEED}\\0" + counter); crypto_box_seal's ephemeral key is libsodium's own`,
};

function file(name, algorithm, schema, header, notes) {
  const groups = [];
  let n = 0;
  return {
    group(type, params = {}) {
      const g = { type, ...params, tests: [] };
      groups.push(g);
      return {
        add(fn, comment, fields) {
          n++;
          g.tests.push({ tcId: n, comment: `${fn}: ${comment}`, flags: ["Upstream"], result: "valid", ...fields });
        },
      };
    },
    write() {
      const doc = {
        algorithm, schema, generatorVersion: "meshctl-upstream-1", numberOfTests: n,
        header: [...header, `Every object made by upstream's own function at commit ${UPSTREAM_COMMIT} under libsodium-wrappers ${pkgVersion} (libsodium ${provenance.libsodium}).`],
        provenance,
        notes: { Upstream: { bugType: "BASIC", description: "An object made by upstream's own code (the function is named in the comment): meshctl must accept it.", ...notes } },
        testGroups: groups.filter((g) => g.tests.length > 0),
      };
      writeFileSync(path.join(outDir, name), JSON.stringify(doc, null, 2) + "\n");
      return n;
    },
  };
}

const counts = {};

// ---- hello, session attestation, session hello ----------------------------
{
  const f = file("upstream_hello_test.json", "MESH-HELLO", "meshctl_mesh_hello_v1",
    ["Hello signatures made by upstream's CLI (apps/cli/src/services/broker/hello-sig.ts signHello); nowMs is the signing time."]);
  const g = f.group("HelloSignature");
  for (const [meshId, memberId, who] of [["meshA", "memberA", owner], ["mesh-7f3a", "member-19c2", alice], ["m", "ü-member", bob]]) {
    for (const dt of [0, 12_345]) {
      Date.now = () => NOW_MS + dt;
      const r = await up.signHello(meshId, memberId, who.pk, who.sk);
      g.add("signHello", `${meshId}/${memberId}`, { meshId, memberId, pubkey: who.pk, timestampMs: r.timestamp, nowMs: r.timestamp, sig: r.signature });
    }
  }
  Date.now = () => NOW_MS;
  counts.hello = f.write();
}
{
  const f = file("upstream_session_test.json", "MESH-SESSION", "meshctl_mesh_session_v1",
    ["Session attestations and session hellos made by upstream's CLI (apps/cli/src/services/broker/session-hello-sig.ts)."]);
  const ga = f.group("SessionAttestation");
  const gh = f.group("SessionHello");
  for (const [parent, session, ttl] of [[alice, bob, undefined], [owner, alice, 60_000], [bob, owner, 24 * 3600_000]]) {
    const a = await up.signParentAttestation({ parentMemberPubkey: parent.pk, parentSecretKey: parent.sk, sessionPubkey: session.pk, ttlMs: ttl, now: NOW_MS });
    ga.add("signParentAttestation", `ttl ${ttl ?? "default (12 h)"}`, { parentPubkey: a.parentMemberPubkey, sessionPubkey: a.sessionPubkey, expiresAtMs: a.expiresAt, nowMs: NOW_MS, sig: a.signature });
    const h = await up.signSessionHello({ meshId: "meshA", parentMemberPubkey: parent.pk, sessionPubkey: session.pk, sessionSecretKey: session.sk, now: NOW_MS + 5 });
    gh.add("signSessionHello", "session hello", { meshId: "meshA", parentPubkey: parent.pk, sessionPubkey: session.pk, timestampMs: h.timestamp, nowMs: h.timestamp, sig: h.signature });
  }
  counts.session = f.write();
}

// ---- invites -------------------------------------------------------------
{
  const f = file("upstream_invite_test.json", "MESH-INVITE", "meshctl_mesh_invite_v1",
    ["Invites made by upstream: v1 tokens by the CLI (apps/cli/src/services/invite/parse-v1.ts buildSignedInvite) and by the",
      "dashboard (packages/api/src/modules/mesh/mutations.ts createMyInvite, which also signs the v2 capability)."]);
  const g1 = f.group("InviteV1");
  const rootKey = sodium.to_base64(new Uint8Array(32).fill(7), sodium.base64_variants.URLSAFE_NO_PADDING);
  const pin = await up.buildSignedInvite({ v: 1, mesh_id: "meshA", mesh_slug: "my-mesh", broker_url: "wss://ic.claudemesh.com/ws",
    expires_at: 1777777777, mesh_root_key: rootKey, role: "member", owner_pubkey: owner.pk, owner_secret_key: owner.sk });
  const want = (p) => ({ meshId: p.mesh_id, meshSlug: p.mesh_slug, brokerUrl: p.broker_url, expiresAt: p.expires_at, rootKey: p.mesh_root_key,
    role: p.role, ownerPubkey: p.owner_pubkey, signature: p.signature, ownerSeed: owner.seed });
  g1.add("buildSignedInvite", "the SPEC §4 pin", { token: pin.token, nowSec: 1777777777, ...want(pin.payload) });
  const esc = await up.buildSignedInvite({ v: 1, mesh_id: "mesh-\u00fc", mesh_slug: 'a "quoted" <b>&amp; \u2028 slug\\', broker_url: "wss://b.example/ws",
    expires_at: 1777780000, mesh_root_key: rootKey, role: "admin", owner_pubkey: owner.pk, owner_secret_key: owner.sk });
  g1.add("buildSignedInvite", "JSON.stringify-sensitive characters, role admin", { token: esc.token, nowSec: 1777777777, ...want(esc.payload) });
  const g2 = f.group("InviteV2");
  for (const role of ["member", "admin"]) {
    const meshRow = { id: "mesh-" + role, slug: "slug-" + role, ownerUserId: "user1", ownerPubkey: owner.pk, ownerSecretKey: owner.sk, rootKey };
    ctl.db = [[meshRow], [{ id: "invite-" + role, token: "t", code: "c", expiresAt: new Date(NOW_MS) }], []];
    ctl.writes = [];
    await up.createMyInvite({ userId: "user1", meshId: meshRow.id, input: { role, expiresInDays: 7, maxUses: 1 } });
    const token = ctl.writes.find((w) => w.op === "values").v.token;
    const cap = ctl.writes.find((w) => w.op === "set").v.capabilityV2;
    const p = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    g1.add("createMyInvite", `dashboard v1 token, role ${role}`, { token, nowSec: NOW_MS / 1000, ...want(p) });
    const canonical = JSON.parse(cap).canonical.split("|");
    g2.add("createMyInvite", `dashboard v2 capability, role ${role}`, { stored: cap, nowSec: NOW_MS / 1000, ownerSeed: owner.seed,
      meshId: canonical[1], inviteId: canonical[2], expiresAt: Number(canonical[3]), role: canonical[4], ownerPubkey: canonical[5] });
  }
  counts.invite = f.write();
}

// ---- topic keys and bodies -------------------------------------------------
const xsk = (ed) => hex(sodium.crypto_sign_ed25519_sk_to_curve25519(sodium.from_hex(ed.sk)));
{
  const f = file("upstream_topic_key_test.json", "MESH-TOPIC-KEY", "meshctl_mesh_topickey_v1",
    ["Topic-key sealed copies made by upstream: the broker's creator path (apps/broker/src/broker.ts generateTopicKeyBundle +",
      "sealTopicKeyForMember), the dashboard's #general (packages/api ensureGeneralTopic) and the CLI re-seal",
      "(apps/cli/src/services/crypto/topic-key.ts sealTopicKeyFor, whose sender key is the re-sealing member's own).",
      "The recipient is given by its ed25519 seed (recipientEdSeed): the x25519 keys come from libsodium's conversion."]);
  const g = f.group("TopicKeySeal");
  for (const r of [alice, bob, owner]) {
    const bundle = await up.__generateTopicKeyBundle();
    ctl.db = [[{ peerPubkey: r.pk }]];
    ctl.writes = [];
    await up.__sealTopicKeyForMember({ topicId: "t1", memberId: "m1", bundle });
    const row = ctl.writes.find((w) => w.op === "values").v;
    g.add("sealTopicKeyForMember", "broker creator seal", { recipientEdSeed: r.seed, senderSecret: hex(bundle.senderSecret),
      nonce: row.nonce, blob: row.encryptedKey, topicKey: hex(bundle.topicKey), topicSenderPubkey: bundle.senderPubkeyHex });
    const re = await up.sealTopicKeyFor(bundle.topicKey, r.pk, owner.sk);
    g.add("sealTopicKeyFor", "CLI re-seal by the owner (sender = the owner's own x25519 key)", { recipientEdSeed: r.seed, senderSecret: xsk(owner),
      nonce: re.nonce, blob: re.encryptedKey, topicKey: hex(bundle.topicKey), topicSenderPubkey: bundle.senderPubkeyHex });
  }
  // The dashboard's #general: the topic key is discarded upstream; the
  // seeded randombytes_buf stream tells us which bytes it drew.
  const before = counter;
  ctl.db = [[], [{ id: "general-1" }], [{ id: "owner-member", peerPubkey: alice.pk }]];
  ctl.writes = [];
  await up.ensureGeneralTopic("meshG");
  const topicRow = ctl.writes.find((w) => w.op === "values").v;
  const keyRow = ctl.writes.filter((w) => w.op === "values")[1].v;
  counter = before;
  const topicKey = rand(32);
  g.add("ensureGeneralTopic", "dashboard #general, sealed for the owner-member", { recipientEdSeed: alice.seed, nonce: keyRow.nonce,
    blob: keyRow.encryptedKey, topicKey: hex(topicKey), topicSenderPubkey: topicRow.encryptedKeyPubkey });
  counter += 1000;
  counts.topicKey = f.write();

  const fb = file("upstream_body_test.json", "MESH-BODY", "meshctl_mesh_body_v1",
    ["Message bodies made by upstream's CLI: v1 by `claudemesh topic post --plaintext` (apps/cli/src/commands/topic-post.ts",
      "runTopicPost, its POST body captured), v2 by apps/cli/src/services/crypto/topic-key.ts encryptMessage."]);
  const gv1 = fb.group("BodyV1");
  for (const text of ["hello @alice, see #general", "ünïcödé 🔐\u2028 — v1", "line 1\nline 2\ttab"]) {
    ctl.requests = [];
    const log = console.log;
    console.log = () => {};
    try {
      await up.runTopicPost("general", text, { plaintext: true, json: true });
    } finally {
      console.log = log;
    }
    const post = ctl.requests.find((r) => r.path === "/api/v1/messages").body;
    if (post.bodyVersion !== 1) throw new Error("topic post --plaintext did not write a v1 body");
    gv1.add("runTopicPost", `v1 body, ${text.length} characters`, { ciphertext: post.ciphertext, plaintext: text });
  }
  const key = rand(32);
  const gb = fb.group("BodyV2", { key: hex(key) });
  for (const text of ["hello @bob", "", "ünïcödé 🔐\u2028", "long ".repeat(300)]) {
    const e = await up.encryptMessage(key, text);
    gb.add("encryptMessage", `${text.length} characters`, { nonce: e.nonce, ciphertext: e.ciphertext, plaintext: text });
  }
  counts.body = fb.write();
}

// ---- root key, API keys, DM envelopes, file keys, env secrets ------------
{
  const f = file("upstream_root_key_test.json", "MESH-ROOT-KEY-SEAL", "meshctl_mesh_rootkey_v1",
    ["Sealed root keys made by upstream's broker (apps/broker/src/crypto.ts sealRootKeyToRecipient, the invite v2 claim)."]);
  const g = f.group("RootKeySeal");
  for (let i = 0; i < 3; i++) {
    const rkp = sodium.crypto_box_seed_keypair(rand(32));
    const rootKey = sodium.to_base64(rand(32), sodium.base64_variants.URLSAFE_NO_PADDING);
    const sealed = await up.sealRootKeyToRecipient({ rootKeyBase64url: rootKey,
      recipientX25519PubkeyBase64url: sodium.to_base64(rkp.publicKey, sodium.base64_variants.URLSAFE_NO_PADDING) });
    g.add("sealRootKeyToRecipient", "sealed root key", { recipientSecret: hex(rkp.privateKey), sealed, rootKey });
  }
  counts.rootKey = f.write();
}
{
  const f = file("upstream_apikey_test.json", "MESH-APIKEY", "meshctl_mesh_apikey_v1",
    ["API keys made by upstream's broker (apps/broker/src/broker.ts newApiKeySecret); random = the 32 bytes it drew."]);
  const g = f.group("ApiKey");
  for (let i = 0; i < 4; i++) {
    const before = counter;
    const k = up.__newApiKeySecret();
    counter = before;
    const r = rand(32);
    g.add("newApiKeySecret", "API key", { random: hex(r), secret: k.plaintext, prefix: k.prefix, hash: k.hash });
  }
  counts.apiKey = f.write();
}
{
  const f = file("upstream_dm_test.json", "MESH-DM", "meshctl_mesh_dm_v1",
    ["Direct-message envelopes made by upstream's CLI (apps/cli/src/services/crypto/box.ts encryptDirect): crypto_box_easy",
      "between the x25519 forms of the sender's and recipient's ed25519 keys (given by their seeds)."]);
  const g = f.group("DirectMessage");
  for (const [from, to, msg] of [[alice, bob, "hi bob"], [bob, alice, ""], [owner, alice, "ünï 🔐 " + "x".repeat(200)]]) {
    const e = await up.encryptDirect(msg, to.pk, from.sk);
    g.add("encryptDirect", `${msg.length} characters`, { senderEdSeed: from.seed, recipientEdSeed: to.seed, nonce: e.nonce, ciphertext: e.ciphertext, plaintext: msg });
  }
  counts.dm = f.write();
}
{
  const f = file("upstream_file_key_test.json", "MESH-FILE-KEY", "meshctl_mesh_filekey_v1",
    ["File bodies and keys made by upstream's CLI (apps/cli/src/services/crypto/file-crypto.ts encryptFile, sealKeyForPeer):",
      "the body is crypto_secretbox_easy under a random key; the key is crypto_box_seal'ed to the peer's x25519 key."]);
  const g = f.group("FileKey");
  for (const [to, body] of [[alice, "file body\n"], [bob, ""], [owner, "\u0000\u0001binary\u00ff".repeat(50)]]) {
    const e = await up.encryptFile(Buffer.from(body, "utf8"));
    const sealedKey = await up.sealKeyForPeer(e.key, to.pk);
    g.add("encryptFile+sealKeyForPeer", `${Buffer.byteLength(body)} bytes`, { recipientEdSeed: to.seed, sealedKey, key: hex(e.key), nonce: e.nonce,
      ciphertext: b64(e.ciphertext), plaintext: hex(Buffer.from(body, "utf8")) });
  }
  counts.fileKey = f.write();
}
{
  const f = file("upstream_env_secret_test.json", "MESH-ENV-SECRET", "meshctl_mesh_envsecret_v1",
    ["Env secrets at rest made by upstream's broker (apps/broker/src/broker-crypto.ts encryptForStorage): AES-256-GCM,",
      "key BROKER_ENCRYPTION_KEY (64 hex), stored base64 std of iv12 ‖ tag16 ‖ ct."]);
  const key = hex(rand(32));
  ctl.env.BROKER_ENCRYPTION_KEY = key;
  const g = f.group("EnvSecret", { key });
  for (const text of ['{"API_TOKEN":"s3cr3t"}', "", "ünï 🔐"]) {
    g.add("encryptForStorage", `${text.length} characters`, { stored: up.encryptForStorage(text), plaintext: text });
  }
  counts.envSecret = f.write();
}

Date.now = realNow;
console.log(JSON.stringify({ upstreamCommit: UPSTREAM_COMMIT, libsodium: provenance.libsodium, objects: counts }));
process.exit(0);
