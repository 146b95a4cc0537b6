// rfc6962_root.js: the Merkle Tree Hash of RFC 6962 section 2.1, written
// from the RFC's recursive definition with Node's own crypto, as an
// oracle independent of golang.org/x/mod/sumdb/tlog.
//
// stdin: JSON array of leaf data, hex strings. stdout: JSON array whose
// element k is the hex MTH of the first k+1 leaves.
const crypto = require('crypto');
const sha = (...parts) => crypto.createHash('sha256').update(Buffer.concat(parts)).digest();
function mth(leaves) {
  if (leaves.length === 0) return sha(Buffer.alloc(0));
  if (leaves.length === 1) return sha(Buffer.from([0]), leaves[0]);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2; // largest power of two smaller than n
  return sha(Buffer.from([1]), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}
let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const leaves = JSON.parse(input).map((h) => Buffer.from(h, 'hex'));
  const out = [];
  for (let n = 1; n <= leaves.length; n++) out.push(mth(leaves.slice(0, n)).toString('hex'));
  process.stdout.write(JSON.stringify(out));
});
