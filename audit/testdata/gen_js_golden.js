// Regenerates js_golden.json: what JavaScript (the upstream broker) makes of
// each input with JSON.parse and a key-sorted JSON.stringify. Run: node gen_js_golden.js > js_golden.json
"use strict";
function canon(v) {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return "[" + v.map(canon).join(",") + "]";
  return "{" + Object.keys(v).sort().map(k => JSON.stringify(k) + ":" + canon(v[k])).join(",") + "}";
}
const inputs = [
  '{"restored":true,"pubkey":"abc","groups":[]}',
  '{"restored": true, "pubkey": "abc", "groups": []}',
  '1000000000000000000000', '1e21', '1E+21', '999999999999999999999', '100000000000000000000',
  '0.1', '-0', '-0.0', '0.0', '-0e10', '1e-7', '0.0000001', '0.000001', '0.0000012345', '1e-6',
  '9007199254740993', '9007199254740992', '-9007199254740993', '18446744073709551616',
  '123456789012345', '1234567890123456', '12345678901234567890', '-1234567890123456789012',
  '2.5', '1.5e300', '5e-324', '2e-324', '1e-400', '1e400', '-1e400', '1.7976931348623157e308',
  '333333333.33333329', '0.30000000000000004', '4.50', '2e-3', '1.0', '100', '-100', '1e2', '12e-1',
  '123456789.123456789', '0.000001000000000000000000000001', '1234567.8901234567e-10',
  '"\\u0000\\u0001\\u001f\\u007f\\u0080"', '"\\b\\f\\n\\r\\t\\"\\\\\\/"', '"</script>&\\u2028\\u2029"',
  '"\\uD83D\\uDE02\\u00e9\\uFB33"', '"\\ud800"', '"\\udc00x"', '"\\ud800\\ud800\\udc00"',
  '{"b":1,"a":2,"a":3}', '{"\\u20ac":1,"\\r":2,"\\n":3,"1":4,"\\u0080":5,"\\ud83d\\ude02":6,"\\u00f6":7,"\\ufb33":8}',
  '{"\\ue000":1,"\\ud83d\\ude00":2}', '{"":0," ":1}', '[]', '{}', '[[],{},[{}]]',
  '{"a":{"z":[1,{"y":2,"x":[3,{"w":null}]}],"b":false}}', 'true', 'false', 'null', ' \t\n\r[1 , 2]\n',
  '{"targetSpec":"*","priority":"next"}', '{"n":-1.0e-7,"m":1e+0,"k":-0.000}',
  // Keys that first differ at two astral characters with the same lead
  // surrogate: ordered by the trail surrogate, and both kept.
  '{"\\ud83d\\ude03":1,"\\ud83d\\ude02":2,"note":3}', '{"😃":1,"😂":2,"note":3}',
  '{"\\ud835\\udcb5":1,"\\ud835\\udc9c":2}', '{"x\\ud83d\\ude03":1,"x\\ud83d\\ude00":2,"x\\ud83d\\ude02y":3,"x\\ud83d\\ude02":4}',
  '{"😃":1,"😀":2,"😂":3,"\\ue000":4,"\\uffff":5,"a":6,"\\ud800\\udc00":7,"\\udbff\\udfff":8,"\\uf8ff":9}',
  '{"a":{"\\ud83d\\ude03":[{"\\ud83d\\ude02":1,"\\ud83d\\ude03":2}],"\\ud83d\\ude02":0}}',
  '{"\\ud83d":1,"\\ud83d\\ude02":2,"\\ud83dx":3,"\\ude02":4,"\\ud83e":5}',
];
const out = inputs.map(i => ({ in: i, out: canon(JSON.parse(i)) }));
console.log(JSON.stringify(out, null, 1));
