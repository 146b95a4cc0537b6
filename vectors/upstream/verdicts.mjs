// vectors/upstream/verdicts.mjs — feeds meshctl's vector files to upstream's
// own verifiers and openers (bundled by generate.mjs) and prints where
// upstream's verdict differs from the file's. Not part of CI.
import { readFileSync } from "node:fs";
import path from "node:path";

export async function upstreamVerdicts(up, sodium, ctl, files) {
  const edSk = (seedHex) => sodium.to_hex(sodium.crypto_sign_seed_keypair(sodium.from_hex(seedHex)).privateKey);
  const edPk = (seedHex) => sodium.to_hex(sodium.crypto_sign_seed_keypair(sodium.from_hex(seedHex)).publicKey);
  const ok = (r) => r && r.ok === true;
  let envKey = null;
  const judge = {
    HelloSignature: async (t) => ok(await up.verifyHelloSignature({ meshId: t.meshId, memberId: t.memberId, pubkey: t.pubkey, timestamp: t.timestampMs, signature: t.sig, now: t.nowMs })),
    SessionAttestation: async (t) => ok(await up.verifySessionAttestation({ parentMemberPubkey: t.parentPubkey, sessionPubkey: t.sessionPubkey, expiresAt: t.expiresAtMs, signature: t.sig, now: t.nowMs })),
    SessionHello: async (t) => ok(await up.verifySessionHelloSignature({ meshId: t.meshId, parentMemberPubkey: t.parentPubkey, sessionPubkey: t.sessionPubkey, timestamp: t.timestampMs, signature: t.sig, now: t.nowMs })),
    InviteV1: async (t) => {
      const real = Date.now;
      Date.now = () => t.nowSec * 1000;
      try {
        await up.parseInviteLink(t.token);
        return true;
      } catch {
        return false;
      } finally {
        Date.now = real;
      }
    },
    InviteV2: async (t) => {
      try {
        const c = JSON.parse(t.stored);
        const parts = String(c.canonical).split("|");
        return Number(parts[3]) >= t.nowSec && (await up.verifyInviteV2({ canonical: c.canonical, signatureHex: c.signature, ownerPubkeyHex: parts[5] }));
      } catch {
        return false;
      }
    },
    BodyV2: async (t) => (await up.decryptMessage(sodium.from_hex(t.key), t.ciphertext, t.nonce)) === t.plaintext,
    DirectMessage: async (t) => (await up.decryptDirect({ nonce: t.nonce, ciphertext: t.ciphertext }, edPk(t.senderEdSeed), edSk(t.recipientEdSeed))) === t.plaintext,
    FileKey: async (t) => {
      const k = await up.openSealedKey(t.sealedKey, edPk(t.recipientEdSeed), edSk(t.recipientEdSeed));
      if (!k || sodium.to_hex(k) !== t.key) return false;
      const m = await up.decryptFile(Buffer.from(t.ciphertext, "base64"), t.nonce, k);
      return m != null && sodium.to_hex(m) === t.plaintext;
    },
    EnvSecret: async (t) => {
      if (envKey === null) envKey = t.key; // upstream caches its key for the process
      if (t.key.toLowerCase() !== envKey.toLowerCase()) return "skip";
      return up.decryptFromStorage(t.stored) === t.plaintext;
    },
  };
  for (const file of files) {
    const doc = JSON.parse(readFileSync(file, "utf8"));
    const name = path.basename(file);
    const sum = { agree: 0, upstreamAccepts: [], upstreamRefuses: [], notJudged: 0 };
    for (const g of doc.testGroups) {
      const { tests, type, ...params } = g;
      for (const test of tests) {
        const t = { ...params, ...test };
        if (type === "EnvSecret") ctl.env.BROKER_ENCRYPTION_KEY = t.key;
        const j = judge[type];
        if (!j || test.result === "acceptable") {
          sum.notJudged++;
          continue;
        }
        const got = await j(t);
        if (got === "skip") {
          sum.notJudged++;
          continue;
        }
        if (got === (test.result === "valid")) sum.agree++;
        else (got ? sum.upstreamAccepts : sum.upstreamRefuses).push(`${test.tcId} ${(test.flags ?? []).join(",")}: ${test.comment}`);
      }
    }
    console.log(JSON.stringify({ file: name, ...sum }));
  }
}
