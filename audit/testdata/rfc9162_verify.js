// rfc9162_verify.js: the inclusion and consistency proof verification
// algorithms of RFC 9162 sections 2.1.3.2 and 2.1.4.2, written from the RFC
// with Node's own crypto, as an oracle independent of
// golang.org/x/mod/sumdb/tlog.
//
// stdin: JSON array of cases, hashes in hex:
//   {"kind":"inclusion","index":n,"size":t,"leaf":hex(leaf data),"proof":[hex],"root":hex}
//   {"kind":"consistency","first":m,"second":n,"proof":[hex],"firstRoot":hex,"secondRoot":hex}
// stdout: JSON array of booleans, one verdict per case.
const crypto = require('crypto');
const node = (l, r) => crypto.createHash('sha256').update(Buffer.concat([Buffer.from([1]), l, r])).digest();
const leafHash = (d) => crypto.createHash('sha256').update(Buffer.concat([Buffer.from([0]), d])).digest();
const eq = (a, b) => Buffer.compare(a, b) === 0;

function inclusion(index, size, leaf, proof, root) {
  if (index >= size) return false;
  let fn = BigInt(index), sn = BigInt(size - 1);
  let r = leafHash(leaf);
  for (const p of proof) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = node(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      }
    } else {
      r = node(r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  return sn === 0n && eq(r, root);
}

function consistency(first, second, proof, firstRoot, secondRoot) {
  if (first > second || first < 1) return false;
  if (first === second) return proof.length === 0 && eq(firstRoot, secondRoot);
  if (proof.length === 0) return false;
  let path = proof.slice();
  if ((first & (first - 1)) === 0) path.unshift(firstRoot);
  let fn = BigInt(first - 1), sn = BigInt(second - 1);
  while ((fn & 1n) === 1n) { fn >>= 1n; sn >>= 1n; }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = node(c, fr); sr = node(c, sr);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      }
    } else {
      sr = node(sr, c);
    }
    fn >>= 1n; sn >>= 1n;
  }
  return eq(fr, firstRoot) && eq(sr, secondRoot) && sn === 0n;
}

let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const hx = (h) => Buffer.from(h, 'hex');
  const out = JSON.parse(input).map((c) => c.kind === 'inclusion'
    ? inclusion(c.index, c.size, hx(c.leaf), c.proof.map(hx), hx(c.root))
    : consistency(c.first, c.second, c.proof.map(hx), hx(c.firstRoot), hx(c.secondRoot)));
  process.stdout.write(JSON.stringify(out));
});
