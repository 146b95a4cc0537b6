// The JavaScript oracle for the canonical form (SPEC §3): what the upstream
// broker hashes for a payload it reads back from jsonb. Its verifier gets the
// payload from the driver's JSON.parse, then serialises it with keys sorted
// recursively by Array.prototype.sort() (UTF-16 code units) and every key and
// leaf written by JSON.stringify (apps/broker/src/audit.ts, canonicalJson, in
// alezmad/claudemesh at 213a6b37cc1739776d71887d67e60ee0fcf2652a).
//
// Protocol: one JSON text per line on stdin (no raw newlines inside); one
// line per input on stdout: the canonical form, or "!" and the parse error.
// Run by the Go tests (jsdiff_test.go); any node since 12 (well-formed
// JSON.stringify).
"use strict";

function canon(v) {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return "[" + v.map(canon).join(",") + "]";
  return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canon(v[k])).join(",") + "}";
}

let pending = "";
let out = [];
function flush() {
  if (out.length > 0) {
    process.stdout.write(out.join(""));
    out = [];
  }
}
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf("\n")) >= 0) {
    const line = pending.slice(0, nl);
    pending = pending.slice(nl + 1);
    let r;
    try {
      r = canon(JSON.parse(line));
    } catch (e) {
      r = "!" + String(e.message).replace(/\n/g, " ");
    }
    out.push(r + "\n");
  }
  flush();
});
process.stdin.on("end", flush);
