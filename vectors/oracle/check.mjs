// vectors/oracle/check.mjs — the independent oracle for meshctl's vector
// files: libsodium-wrappers 0.7.15 (libsodium 1.0.20, the library upstream
// claudemesh runs) and Node's own crypto, JSON.parse and Date.
//
//   node vectors/oracle/check.mjs FILE...
//
// Every test of every file is decided again here, from the layouts of
// SPEC §4 (and §2/§3 for lock keys and audit rows) re-implemented in this
// file, never from meshctl's Go code; so are the single-byte-flip
// negatives of files that do not carry them (the documented rule: for
// every valid test, each byte of the authenticated part XOR 0x01, each
// must be refused). A test's expected verdict is the file's: valid,
// invalid, or for acceptable tests the policy of its flags in strict mode
// (libsodium's rules, which are the broker's). "either" verdicts are
// counted, not compared. The last line on stdout is a JSON summary; the
// exit code is 1 when any verdict disagrees, 2 on bad usage or input.

import { createHash, createHmac, createDecipheriv } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const sodium = require("libsodium-wrappers");
await sodium.ready;
const wrappersVersion = require("libsodium-wrappers/package.json").version;
// crypto_pwhash (Argon2id) is only in the "sumo" build of the same release:
// upstream's CLI calls it on the standard build, where it is undefined, so
// `claudemesh backup` cannot run as published; the file layout is still
// decided here with the same libsodium.
const sumo = require("libsodium-wrappers-sumo");
await sumo.ready;

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node vectors/oracle/check.mjs FILE...");
  process.exit(2);
}

// ---- encodings --------------------------------------------------------
const V = sodium.base64_variants;
const hexb = (s) => (typeof s === "string" && /^([0-9a-fA-F]{2})*$/.test(s) ? Uint8Array.from(Buffer.from(s, "hex")) : null);
const b64d = (s, variant) => {
  try {
    return sodium.from_base64(s, variant);
  } catch {
    return null;
  }
};
const b64e = (b, variant) => sodium.to_base64(b, variant);
const eq = (a, b) => a != null && b != null && a.length === b.length && a.every((x, i) => x === b[i]);
const utf8 = (b) => {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(b);
  } catch {
    return null;
  }
};
const sha256hex = (s) => createHash("sha256").update(s).digest("hex");
const cat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const attempt = (f) => {
  try {
    return f();
  } catch {
    return null;
  }
};
const verify = (sig, msg, pk) => sig != null && pk != null && sig.length === 64 && pk.length === 32 &&
  attempt(() => sodium.crypto_sign_verify_detached(sig, msg, pk)) === true;
const verifyHex = (pkHex, sigHex, msg) => verify(hexb(sigHex), sodium.from_string(msg), hexb(pkHex));
const hex64 = (s) => typeof s === "string" && /^[0-9a-fA-F]{64}$/.test(s);
const edKeys = (seed) => {
  const kp = sodium.crypto_sign_seed_keypair(seed);
  return {
    pk: kp.publicKey, sk: kp.privateKey,
    xpk: attempt(() => sodium.crypto_sign_ed25519_pk_to_curve25519(kp.publicKey)),
    xsk: sodium.crypto_sign_ed25519_sk_to_curve25519(kp.privateKey),
  };
};

// strictObject reads one flat JSON object the way SPEC §4 requires token
// payloads to be read: keys compared after unescaping (as JSON.parse does),
// exactly the given set, none repeated, string or number values only,
// nothing after the object. Returns {key: {str} | {num}} or null.
function strictObject(text, keys) {
  let i = 0;
  const ws = () => { while (i < text.length && " \t\n\r".includes(text[i])) i++; };
  const str = () => {
    const m = /^"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/.exec(text.slice(i));
    if (!m) return null;
    i += m[0].length;
    return JSON.parse(m[0]);
  };
  const num = () => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i));
    if (!m) return null;
    i += m[0].length;
    return m[0];
  };
  const out = {};
  ws();
  if (text[i++] !== "{") return null;
  ws();
  if (text[i] === "}") i++;
  else {
    for (;;) {
      ws();
      const k = str();
      if (k === null || !keys.includes(k) || Object.hasOwn(out, k)) return null;
      ws();
      if (text[i++] !== ":") return null;
      ws();
      if (text[i] === '"') {
        const s = str();
        if (s === null) return null;
        out[k] = { str: s };
      } else {
        const n = num();
        if (n === null) return null;
        out[k] = { num: n };
      }
      ws();
      const c = text[i++];
      if (c === "}") break;
      if (c !== ",") return null;
    }
  }
  ws();
  if (i !== text.length) return null;
  return Object.keys(out).length === keys.length ? out : null;
}
// A JSON number as JSON.stringify writes a non-negative safe integer.
const safeInt = (v) => v && v.num !== undefined && /^(0|[1-9][0-9]{0,15})$/.test(v.num) && Number(v.num) <= Number.MAX_SAFE_INTEGER ? Number(v.num) : null;
const nonEmpty = (v) => (v && typeof v.str === "string" && v.str !== "" ? v.str : null);
const roles = ["admin", "member"];

// ---- one decision per group type -------------------------------------------
const decide = {
  EddsaVerify: (t) => verify(hexb(t.sig), hexb(t.msg), hexb(t.publicKey?.pk ?? t.publicKey)),
  Ed25519Verify: (t) => verify(hexb(t.sig), hexb(t.msg), hexb(t.publicKey)),
  Ed25519Sign: (t) => {
    const kp = sodium.crypto_sign_seed_keypair(hexb(t.seed));
    return eq(kp.publicKey, hexb(t.publicKey)) && eq(sodium.crypto_sign_detached(hexb(t.msg), kp.privateKey), hexb(t.sig)) &&
      verify(hexb(t.sig), hexb(t.msg), hexb(t.publicKey));
  },
  XdhComp: (t) => {
    if (t.curve !== undefined && t.curve !== "curve25519") return false;
    return eq(attempt(() => sodium.crypto_scalarmult(hexb(t.private), hexb(t.public))), hexb(t.shared));
  },
  XdhIterate: (t) => {
    if (t.long) return "skip: the 1,000,000-iteration vector (meshctl runs it with --long)";
    let k = new Uint8Array(32);
    k[0] = 9;
    let u = k.slice();
    for (let n = 0; n < t.iterations; n++) {
      const r = attempt(() => sodium.crypto_scalarmult(k, u));
      if (!r) return false;
      [u, k] = [k, r];
    }
    return eq(k, hexb(t.shared));
  },
  Box: (t) => {
    const m = attempt(() => sodium.crypto_box_open_easy(hexb(t.box), hexb(t.nonce), hexb(t.publicKey), hexb(t.secretKey)));
    const c = attempt(() => sodium.crypto_box_easy(hexb(t.msg), hexb(t.nonce), hexb(t.publicKey), hexb(t.secretKey)));
    return eq(m, hexb(t.msg)) && eq(c, hexb(t.box));
  },
  SecretBox: (t) => {
    const m = attempt(() => sodium.crypto_secretbox_open_easy(hexb(t.box), hexb(t.nonce), hexb(t.key)));
    return eq(m, hexb(t.msg)) && eq(attempt(() => sodium.crypto_secretbox_easy(hexb(t.msg), hexb(t.nonce), hexb(t.key))), hexb(t.box));
  },
  // API key: "cm_" + base64url-no-pad(32 bytes), prefix 11 chars, sha256 hex.
  ApiKey: (t) => {
    const s = t.secret;
    if (!s.startsWith("cm_") || s.length !== 46) return false;
    const b = b64d(s.slice(3), V.URLSAFE_NO_PADDING);
    if (!b || b.length !== 32) return false;
    if (t.random !== undefined && "cm_" + b64e(hexb(t.random), V.URLSAFE_NO_PADDING) !== s) return false;
    return t.prefix === s.slice(0, 11) && t.hash === sha256hex(s);
  },
  Ed25519ToX25519: (t) => {
    if (t.seed !== undefined) {
      const kp = sodium.crypto_sign_seed_keypair(hexb(t.seed));
      const xsk = sodium.crypto_sign_ed25519_sk_to_curve25519(kp.privateKey);
      if (!eq(kp.publicKey, hexb(t.edPublic)) || !eq(xsk, hexb(t.xSecret)) || !eq(sodium.crypto_scalarmult_base(xsk), hexb(t.xPublic))) return false;
    }
    const ed = hexb(t.edPublic);
    if (!ed || ed.length !== 32) return false;
    const x = attempt(() => sodium.crypto_sign_ed25519_pk_to_curve25519(ed));
    return x != null && (t.xPublic === undefined || eq(x, hexb(t.xPublic)));
  },
  // Topic key: blob = b64 std of sender_pk ‖ crypto_box_easy(key, nonce, recipient x25519 pk, sender sk).
  TopicKeySeal: (t) => {
    let rsk, rpk;
    if (t.recipientEdSeed !== undefined) {
      const k = edKeys(hexb(t.recipientEdSeed));
      if (!k.xpk) return false;
      [rsk, rpk] = [k.xsk, k.xpk];
    } else {
      rsk = hexb(t.recipientSecret);
      rpk = sodium.crypto_scalarmult_base(rsk);
    }
    const raw = b64d(t.blob, V.ORIGINAL);
    const n = b64d(t.nonce, V.ORIGINAL);
    if (!raw || !n || raw.length !== 80 || n.length !== 24) return false;
    const k = attempt(() => sodium.crypto_box_open_easy(raw.slice(32), n, raw.slice(0, 32), rsk));
    if (!eq(k, hexb(t.topicKey))) return false;
    if (t.senderSecret !== undefined) {
      const ssk = hexb(t.senderSecret);
      const box = attempt(() => sodium.crypto_box_easy(k, n, rpk, ssk));
      return box != null && b64e(cat(sodium.crypto_scalarmult_base(ssk), box), V.ORIGINAL) === t.blob;
    }
    return true;
  },
  BodyV1: (t) => {
    const b = b64d(t.ciphertext, V.ORIGINAL);
    return b != null && utf8(b) === t.plaintext;
  },
  BodyV2: (t) => {
    const c = b64d(t.ciphertext, V.ORIGINAL);
    const n = b64d(t.nonce, V.ORIGINAL);
    if (!c || !n || n.length !== 24) return false;
    const m = attempt(() => sodium.crypto_secretbox_open_easy(c, n, hexb(t.key)));
    return m != null && utf8(m) === t.plaintext;
  },
  HelloSignature: (t) => verifyHex(t.pubkey, t.sig, `${t.meshId}|${t.memberId}|${t.pubkey}|${t.timestampMs}`) &&
    Math.abs(t.nowMs - t.timestampMs) <= 60_000,
  InviteV1: (t) => {
    const raw = b64d(t.token, V.URLSAFE_NO_PADDING);
    const text = raw && utf8(raw);
    if (text == null) return false;
    const keys = ["v", "mesh_id", "mesh_slug", "broker_url", "expires_at", "mesh_root_key", "role", "owner_pubkey", "signature"];
    const o = strictObject(text, keys);
    if (!o || safeInt(o.v) !== 1) return false;
    const exp = safeInt(o.expires_at);
    const f = {};
    for (const k of keys.filter((k) => k !== "v" && k !== "expires_at")) {
      if ((f[k] = nonEmpty(o[k])) === null) return false;
    }
    if (exp === null || !roles.includes(f.role)) return false;
    const canonical = ["1", f.mesh_id, f.mesh_slug, f.broker_url, exp, f.mesh_root_key, f.role, f.owner_pubkey].join("|");
    if (!verifyHex(f.owner_pubkey, f.signature, canonical) || t.nowSec > exp) return false;
    if (t.meshId !== undefined) {
      if (t.meshId !== f.mesh_id || t.meshSlug !== f.mesh_slug || t.brokerUrl !== f.broker_url || t.expiresAt !== exp ||
        t.rootKey !== f.mesh_root_key || t.role !== f.role || t.ownerPubkey !== f.owner_pubkey || t.signature !== f.signature) return false;
      if (t.ownerSeed !== undefined) {
        const kp = sodium.crypto_sign_seed_keypair(hexb(t.ownerSeed));
        const p = { v: 1, mesh_id: f.mesh_id, mesh_slug: f.mesh_slug, broker_url: f.broker_url, expires_at: exp,
          mesh_root_key: f.mesh_root_key, role: f.role, owner_pubkey: f.owner_pubkey,
          signature: sodium.to_hex(sodium.crypto_sign_detached(canonical, kp.privateKey)) };
        return b64e(sodium.from_string(JSON.stringify(p)), V.URLSAFE_NO_PADDING) === t.token;
      }
    }
    return true;
  },
  InviteV2: (t) => {
    const o = strictObject(t.stored, ["canonical", "signature"]);
    const canonical = o && nonEmpty(o.canonical);
    const sig = o && nonEmpty(o.signature);
    if (!canonical || !sig) return false;
    const p = canonical.split("|");
    if (p.length !== 6 || p[0] !== "v=2" || p.includes("") || !roles.includes(p[4])) return false;
    const exp = safeInt({ num: p[3] });
    if (exp === null || !verifyHex(p[5], sig, canonical) || t.nowSec > exp) return false;
    if (t.meshId !== undefined) {
      if (t.meshId !== p[1] || t.inviteId !== p[2] || t.expiresAt !== exp || t.role !== p[4] || t.ownerPubkey !== p[5]) return false;
      if (t.ownerSeed !== undefined) {
        const kp = sodium.crypto_sign_seed_keypair(hexb(t.ownerSeed));
        return JSON.stringify({ canonical, signature: sodium.to_hex(sodium.crypto_sign_detached(canonical, kp.privateKey)) }) === t.stored;
      }
    }
    return true;
  },
  // Root key: crypto_box_seal of the 32 decoded bytes; base64url no pad.
  RootKeySeal: (t) => {
    const rsk = hexb(t.recipientSecret);
    const rpk = sodium.crypto_scalarmult_base(rsk);
    const raw = b64d(t.sealed, V.URLSAFE_NO_PADDING);
    const want = typeof t.rootKey === "string" && t.rootKey.length === 43 ? b64d(t.rootKey, V.URLSAFE_NO_PADDING) : null;
    if (!raw || !want || want.length !== 32) return false;
    const m = attempt(() => sodium.crypto_box_seal_open(raw, rpk, rsk));
    if (!m || m.length !== 32 || !eq(m, want)) return false;
    if (t.ephemeralSecret !== undefined) {
      const esk = hexb(t.ephemeralSecret);
      const epk = sodium.crypto_scalarmult_base(esk);
      const nonce = sodium.crypto_generichash(24, cat(epk, rpk));
      const box = attempt(() => sodium.crypto_box_easy(m, nonce, rpk, esk));
      return box != null && b64e(cat(epk, box), V.URLSAFE_NO_PADDING) === t.sealed;
    }
    return true;
  },
  MigrationLockKey: (t) => t.key === "7473773831",
  AuditLockKey: (t) => {
    const h = createHash("sha256").update("audit:" + t.meshId, "utf8").digest();
    return t.key === (h.readBigUInt64BE(0) & ((1n << 63n) - 1n)).toString();
  },
  AuditRowV1: (t) => {
    const canon = (v) => (Array.isArray(v) ? v.map(canon) : v !== null && typeof v === "object"
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])])) : v);
    const actor = t.actor === null ? "null" : t.actor;
    const iso = new Date(t.createdAt).toISOString();
    return t.hash === sha256hex(`${t.prevHash}|${t.meshId}|${t.eventType}|${actor}|${JSON.stringify(canon(JSON.parse(t.payload)))}|${iso}`);
  },
  SessionAttestation: (t) => hex64(t.sessionPubkey) &&
    verifyHex(t.parentPubkey, t.sig, `claudemesh-session-attest|${t.parentPubkey}|${t.sessionPubkey}|${t.expiresAtMs}`) &&
    t.expiresAtMs > t.nowMs && t.expiresAtMs <= t.nowMs + 24 * 3600 * 1000,
  SessionHello: (t) => hex64(t.parentPubkey) &&
    verifyHex(t.sessionPubkey, t.sig, `claudemesh-session-hello|${t.meshId}|${t.parentPubkey}|${t.sessionPubkey}|${t.timestampMs}`) &&
    Math.abs(t.nowMs - t.timestampMs) <= 60_000,
  // Direct message: crypto_box_easy between x25519(ed25519) keys.
  DirectMessage: (t) => {
    const s = edKeys(hexb(t.senderEdSeed));
    const r = edKeys(hexb(t.recipientEdSeed));
    const c = b64d(t.ciphertext, V.ORIGINAL);
    const n = b64d(t.nonce, V.ORIGINAL);
    if (!s.xpk || !r.xpk || !c || !n || n.length !== 24) return false;
    const m = attempt(() => sodium.crypto_box_open_easy(c, n, s.xpk, r.xsk));
    return m != null && utf8(m) === t.plaintext && eq(attempt(() => sodium.crypto_box_easy(m, n, r.xpk, s.xsk)), c);
  },
  // File key: crypto_box_seal(key, x25519(peer ed pk)), base64 std; body secretbox.
  FileKey: (t) => {
    const r = edKeys(hexb(t.recipientEdSeed));
    const sealed = b64d(t.sealedKey, V.ORIGINAL);
    if (!r.xpk || !sealed) return false;
    const k = attempt(() => sodium.crypto_box_seal_open(sealed, r.xpk, r.xsk));
    if (!k || k.length !== 32 || !eq(k, hexb(t.key))) return false;
    const c = b64d(t.ciphertext, V.ORIGINAL);
    const n = b64d(t.nonce, V.ORIGINAL);
    if (!c || !n || n.length !== 24) return false;
    return eq(attempt(() => sodium.crypto_secretbox_open_easy(c, n, k)), hexb(t.plaintext));
  },
  // Env secret: AES-256-GCM, base64 std of iv12 ‖ tag16 ‖ ct.
  EnvSecret: (t) => {
    if (!hex64(t.key)) return false;
    const raw = b64d(t.stored, V.ORIGINAL);
    if (!raw || raw.length < 28) return false;
    const pt = attempt(() => {
      const d = createDecipheriv("aes-256-gcm", Buffer.from(t.key, "hex"), raw.subarray(0, 12));
      d.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]);
    });
    return pt != null && utf8(pt) === t.plaintext;
  },
};

// The CLI backup, CLI session and XChaCha20-Poly1305 decisions.
const pwhashCache = new Map();
Object.assign(decide, {
  // "CMB1" ‖ salt16 ‖ nonce24 ‖ XChaCha20-Poly1305(config); key = Argon2id13
  // at libsodium's INTERACTIVE limits; upstream's restore needs 61 bytes.
  CliBackup: (t) => {
    if (t.long) return "skip: an Argon2id derivation of its own (meshctl runs it with --long)";
    const f = b64d(t.file, V.ORIGINAL);
    if (!f || f.length < 61 || Buffer.from(f.slice(0, 4)).toString("latin1") !== "CMB1") return false;
    const salt = f.slice(4, 20);
    const id = t.passphrase + "\0" + hx(salt);
    if (!pwhashCache.has(id)) {
      pwhashCache.set(id, sumo.crypto_pwhash(32, t.passphrase, salt, sumo.crypto_pwhash_OPSLIMIT_INTERACTIVE,
        sumo.crypto_pwhash_MEMLIMIT_INTERACTIVE, sumo.crypto_pwhash_ALG_ARGON2ID13));
    }
    const m = attempt(() => sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, f.slice(44), null, f.slice(20, 44), pwhashCache.get(id)));
    return eq(m, hexb(t.plaintext));
  },
  // HS256 JWT: the one header, HMAC-SHA256 under the secret's UTF-8 bytes,
  // a Latin-1 payload (btoa) read strictly; token hash = sha256 hex.
  CliSession: (t) => {
    const p = t.token.split(".");
    if (p.length !== 3 || p[0] !== "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9") return false;
    const payload = b64d(p[1], V.URLSAFE_NO_PADDING);
    const sig = b64d(p[2], V.URLSAFE_NO_PADDING);
    if (!payload || !sig || sig.length !== 32) return false;
    const mac = createHmac("sha256", Buffer.from(t.secret, "utf8")).update(`${p[0]}.${p[1]}`).digest();
    if (!eq(Uint8Array.from(mac), sig)) return false;
    const text = Buffer.from(payload).toString("latin1");
    const all = ["sub", "email", "name", "type", "jti", "iat", "exp"];
    let o = strictObject(text, all);
    if (!o) o = strictObject(text, all.filter((k) => k !== "email"));
    if (!o) o = strictObject(text, all.filter((k) => k !== "name"));
    if (!o) o = strictObject(text, all.filter((k) => k !== "email" && k !== "name"));
    if (!o) return false;
    for (const k of ["email", "name"]) if (o[k] && typeof o[k].str !== "string") return false;
    const iat = safeInt(o.iat), exp = safeInt(o.exp);
    if (!nonEmpty(o.sub) || !nonEmpty(o.jti) || o.type?.str !== "cli-session" || iat === null || exp === null || exp - iat !== 2_592_000) return false;
    if (t.sub !== undefined && (o.sub.str !== t.sub || (o.name?.str ?? "") !== t.name)) return false;
    return t.tokenHash === sha256hex(t.token);
  },
  AeadTest: (t) => {
    const iv = hexb(t.iv);
    if (iv.length !== 24) return false;
    const ct = cat(hexb(t.ct), hexb(t.tag));
    const m = attempt(() => sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ct, hexb(t.aad), iv, hexb(t.key)));
    return eq(m, hexb(t.msg)) && eq(attempt(() => sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(hexb(t.msg), hexb(t.aad), null, iv, hexb(t.key))), ct);
  },
});

// Mentions (SPEC §5): the broker's regex over the body, toLowerCase, a Set
// of at most 16; recipients by lower-cased display name, sender excluded, 32.
decide.Mentions = (t) => {
  const found = new Set();
  const re = /(^|[^A-Za-z0-9_-])@([A-Za-z0-9_-]{1,64})(?=$|[^A-Za-z0-9_-])/g;
  let m;
  while ((m = re.exec(t.body)) !== null) {
    found.add(m[2].toLowerCase());
    if (found.size >= 16) break;
  }
  const tokens = [...found];
  const ids = t.members.filter((r) => found.has(r.displayName.toLowerCase()) && r.id !== t.sender).slice(0, 32).map((r) => r.id);
  return JSON.stringify(tokens) === JSON.stringify(t.tokens) && JSON.stringify(ids) === JSON.stringify(t.recipients);
};

// ---- the single-byte flips (for files that do not carry them) -------------
function flipEach(bytes, make) {
  const out = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes.slice();
    b[i] ^= 1;
    out.push(make(b));
  }
  return out;
}
const hx = (b) => Buffer.from(b).toString("hex");
const without = (t, ...keys) => Object.fromEntries(Object.entries(t).filter(([k]) => !keys.includes(k)));
const flips = {
  EddsaVerify: (t) => flipEach(hexb(t.sig), (b) => ({ ...t, sig: hx(b) })),
  Ed25519Verify: (t) => flipEach(hexb(t.sig), (b) => ({ ...t, sig: hx(b) })),
  Ed25519Sign: (t) => flipEach(hexb(t.sig), (b) => ({ type: "Ed25519Verify", ...t, sig: hx(b) })),
  Box: (t) => flipEach(hexb(t.box), (b) => ({ ...t, box: hx(b) })),
  SecretBox: (t) => flipEach(hexb(t.box), (b) => ({ ...t, box: hx(b) })),
  TopicKeySeal: (t) => flipEach(b64d(t.blob, V.ORIGINAL), (b) => ({ ...without(t, "senderSecret"), blob: b64e(b, V.ORIGINAL) })),
  BodyV2: (t) => flipEach(b64d(t.ciphertext, V.ORIGINAL), (b) => ({ ...t, ciphertext: b64e(b, V.ORIGINAL) })),
  HelloSignature: (t) => flipEach(hexb(t.sig), (b) => ({ ...t, sig: hx(b) })),
  SessionAttestation: (t) => flipEach(hexb(t.sig), (b) => ({ ...t, sig: hx(b) })),
  SessionHello: (t) => flipEach(hexb(t.sig), (b) => ({ ...t, sig: hx(b) })),
  InviteV1: (t) => {
    const p = JSON.parse(utf8(b64d(t.token, V.URLSAFE_NO_PADDING)));
    return flipEach(hexb(p.signature), (b) => ({ nowSec: t.nowSec,
      token: b64e(sodium.from_string(JSON.stringify({ ...p, signature: hx(b) })), V.URLSAFE_NO_PADDING) }));
  },
  InviteV2: (t) => {
    const p = JSON.parse(t.stored);
    return flipEach(hexb(p.signature), (b) => ({ nowSec: t.nowSec, stored: JSON.stringify({ canonical: p.canonical, signature: hx(b) }) }));
  },
  RootKeySeal: (t) => flipEach(b64d(t.sealed, V.URLSAFE_NO_PADDING), (b) => ({ ...without(t, "ephemeralSecret"), sealed: b64e(b, V.URLSAFE_NO_PADDING) })),
  DirectMessage: (t) => flipEach(b64d(t.ciphertext, V.ORIGINAL), (b) => ({ ...t, ciphertext: b64e(b, V.ORIGINAL) })),
  FileKey: (t) => {
    const c = b64d(t.ciphertext, V.ORIGINAL);
    return [
      ...flipEach(b64d(t.sealedKey, V.ORIGINAL), (b) => ({ ...t, sealedKey: b64e(b, V.ORIGINAL) })),
      ...flipEach(c.slice(0, 16), (b) => ({ ...t, ciphertext: b64e(cat(b, c.slice(16)), V.ORIGINAL) })),
    ];
  },
  EnvSecret: (t) => flipEach(b64d(t.stored, V.ORIGINAL), (b) => ({ ...t, stored: b64e(b, V.ORIGINAL) })),
  // Backup: magic, nonce and ciphertext (a salt flip costs an Argon2id run;
  // the files carry a salt change of their own).
  CliBackup: (t) => {
    const f = b64d(t.file, V.ORIGINAL);
    return flipEach(f, (b) => ({ ...t, long: false, file: b64e(b, V.ORIGINAL) })).filter((_, i) => i < 4 || i >= 20);
  },
  CliSession: (t) => {
    const p = t.token.split(".");
    return flipEach(b64d(p[2], V.URLSAFE_NO_PADDING), (b) => {
      const token = `${p[0]}.${p[1]}.${b64e(b, V.URLSAFE_NO_PADDING)}`;
      return { ...t, token, tokenHash: sha256hex(token) };
    });
  },
  AeadTest: (t) => flipEach(hexb(t.tag), (b) => ({ ...t, tag: hx(b) })),
};

// ---- expected verdicts -----------------------------------------------------
// Policies of vendored Wycheproof x25519 flags (they cannot carry one): the
// all-zero shared secret is refused, everything else computed (RFC 7748).
const builtin = {
  "xdh_comp_schema_v1.json": Object.fromEntries([
    ...["LowOrderPublic", "ZeroSharedSecret", "SmallPublicKey"].map((f) => [f, { default: "invalid" }]),
    ...["Twist", "NonCanonicalPublic", "EdgeCaseMultiplication", "SpecialPublicKey", "EdgeCaseShared", "Ktv"].map((f) => [f, { default: "valid" }]),
  ]),
};
function expected(test, notes, schema) {
  if (test.result !== "acceptable") return test.result;
  let want = "valid";
  for (const f of test.flags ?? []) {
    const p = notes?.[f]?.policy ?? builtin[schema]?.[f];
    if (!p) throw new Error(`tcId ${test.tcId}: acceptable flag ${f} has no policy`);
    const v = p.strict || p.default;
    if (v === "invalid") return "invalid";
    if (v === "either") want = "either";
  }
  return want;
}

// ---- run -------------------------------------------------------------------
const summary = { oracle: `libsodium-wrappers ${wrappersVersion} (libsodium ${sodium.sodium_version_string()}), node ${process.version}`,
  files: {}, vectors: 0, agree: 0, disagree: 0, either: 0, skipped: 0 };
const started = process.hrtime.bigint();
for (const file of files) {
  let doc;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    console.error(`${file}: ${e.message}`);
    process.exit(2);
  }
  const name = path.basename(file);
  const carriesFlips = Object.hasOwn(doc.notes ?? {}, "ByteFlip");
  const fs = (summary.files[name] = { vectors: 0, agree: 0, disagree: 0, either: 0, skipped: 0, flips: 0 });
  const judge = (type, t, want, label) => {
    fs.vectors++;
    const d = decide[type];
    if (!d) throw new Error(`${name}: no decision for group type ${type}`);
    const got = d(t);
    if (typeof got === "string") {
      fs.skipped++;
      return;
    }
    if (want === "either") {
      fs.either++;
      return;
    }
    if (got === (want === "valid")) fs.agree++;
    else {
      fs.disagree++;
      console.log(`DISAGREE ${name} tcId ${t.tcId}${label}: file says ${want}, libsodium ${got ? "accepts" : "refuses"}`);
    }
  };
  for (const g of doc.testGroups) {
    const { tests, type, ...params } = g;
    for (const test of tests) {
      const t = { ...params, ...test };
      const want = expected(test, doc.notes, doc.schema);
      judge(type, t, want, "");
      if (!carriesFlips && test.result === "valid" && flips[type]) {
        for (const f of flips[type](t)) {
          fs.flips++;
          judge(f.type ?? type, { ...f, tcId: t.tcId }, "invalid", " (flip)");
        }
      }
    }
  }
  for (const k of ["vectors", "agree", "disagree", "either", "skipped"]) summary[k] += fs[k];
}
summary.ms = Number(process.hrtime.bigint() - started) / 1e6;
console.log(JSON.stringify(summary));
process.exit(summary.disagree === 0 ? 0 : 1);
