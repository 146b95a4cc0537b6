// Writes the mention vectors (vectors/data/mention_v1_test.json), the
// expected tokens and recipients computed in Node with SPEC §5's runtime
// rule as the broker runs it: the regex below over the decoded v1 body,
// toLowerCase, a Set capped at 16; recipients = members whose
// displayName.toLowerCase() is a token, the sender excluded, at most 32.
// Go never computes an expected value of this file.
//
//   node vectors/testdata/mention/mention_vectors.mjs > vectors/data/mention_v1_test.json

function tokensOf(text) {
  const found = new Set();
  const re = /(^|[^A-Za-z0-9_-])@([A-Za-z0-9_-]{1,64})(?=$|[^A-Za-z0-9_-])/g;
  let m;
  while ((m = re.exec(text)) !== null) {
    found.add(m[2].toLowerCase());
    if (found.size >= 16) break;
  }
  return [...found];
}

function recipientsOf(tokens, sender, members) {
  const set = new Set(tokens);
  return members.filter((r) => set.has(r.displayName.toLowerCase()) && r.id !== sender).slice(0, 32).map((r) => r.id);
}

const notes = {
  Basic: { bugType: "BASIC", description: "Mentions in an ordinary message." },
  Boundary: { bugType: "EDGE_CASE", description: "A mention needs a non-token character (or the start) before the @ and after the token: e-mail addresses and a@b are none." },
  Length: { bugType: "EDGE_CASE", description: "Tokens of 1 to 64 characters; a longer run after @ is no mention at all (not its first 64 characters)." },
  Cap: { bugType: "EDGE_CASE", description: "At most 16 distinct tokens (in order of first appearance) and 32 recipients (in member order)." },
  Case: { bugType: "EDGE_CASE", description: "Tokens and display names compared lower-cased, as JavaScript's toLowerCase does (the Kelvin sign K lower-cases to k; İ to i̇, never i)." },
  Literal: { bugType: "INJECTION", description: "Display names with regex metacharacters match only their exact text (and a token cannot contain them)." },
  Sender: { bugType: "BASIC", description: "The sender is never notified of their own mention." },
  WrongExpectation: { bugType: "FUNCTIONALITY", description: "The expected tokens or recipients are what a wrong implementation gives (not lower-cased, uncapped, a 65-character prefix, the sender included, a pattern match): must not be produced." },
};

const team = [
  { id: "m1", displayName: "Bob" }, { id: "m2", displayName: "alice" }, { id: "m3", displayName: "ALICE" },
  { id: "m4", displayName: "a.b" }, { id: "m5", displayName: "(x)" }, { id: "m6", displayName: "a+b" },
  { id: "m7", displayName: "\u212aate" }, { id: "m8", displayName: "\u0130van" }, { id: "m9", displayName: "ivan" },
  { id: "m10", displayName: "team-1" }, { id: "m11", displayName: "x_y" }, { id: "m12", displayName: "bob" },
];
const crowd = Array.from({ length: 40 }, (_, i) => ({ id: `c${String(i).padStart(2, "0")}`, displayName: i % 2 ? "Team" : "team" }));
const many = Array.from({ length: 20 }, (_, i) => `@u${String.fromCharCode(97 + i)}`).join(" ");
const long64 = "a".repeat(64), long65 = "a".repeat(65);

const tests = [];
let n = 0;
const add = (comment, flags, body, sender, members, result = "valid", over = {}) => {
  const tokens = tokensOf(body);
  tests.push({ tcId: ++n, comment, flags, body, sender, members, tokens, recipients: recipientsOf(tokens, sender, members), result, ...over });
};
add("two mentions, one repeated in another case", ["Basic"], "hi @Bob and @alice, @BOB again", "m2", team);
add("the sender mentions themself", ["Sender"], "note to self @alice", "m2", team);
add("e-mail addresses and a@b are not mentions", ["Boundary"], "mail a@b.c or x@y, ping @bob.", "m9", team);
add("punctuation around mentions", ["Boundary"], "(@x) [@y] @z. @@a @-b- @_c", "m1", team);
add("non-ASCII before @", ["Boundary"], "é@bob ü @alice", "m1", team);
add("tokens of 64 and 65 characters", ["Length"], `@${long64} @${long65}`, "m1", team);
add("20 distinct tokens: the first 16 kept", ["Cap"], many, "m1", team);
add("40 members named team: 32 recipients", ["Cap"], "hey @team", "zz", crowd);
add("Kelvin sign and dotted capital I in display names", ["Case"], "@kate @ivan", "m1", team);
add("display names with metacharacters", ["Literal"], "@a @ab @x @a-b", "m1", team);
add("hyphen and underscore names", ["Basic"], "@team-1 @x_y", "m1", team);
add("no mention", ["Basic"], "nothing here", "m1", team);
add("the empty body", ["Basic"], "", "m1", team);
// Wrong expectations: what a wrong implementation would produce.
add("tokens not lower-cased", ["WrongExpectation"], "hi @Bob", "m2", team, "invalid", { tokens: ["Bob"], recipients: ["m1", "m12"] });
add("17 tokens kept", ["WrongExpectation"], many, "m1", team, "invalid",
  { tokens: Array.from({ length: 17 }, (_, i) => `u${String.fromCharCode(97 + i)}`), recipients: [] });
add("the first 64 characters of a 65-character run taken", ["WrongExpectation"], `@${long65}`, "m1", team, "invalid", { tokens: [long64], recipients: [] });
add("the sender notified", ["WrongExpectation"], "note to self @alice", "m2", team, "invalid", { tokens: ["alice"], recipients: ["m2", "m3"] });
add("a display name used as a pattern (a.b matching ab)", ["WrongExpectation"], "@ab", "m1", team, "invalid", { tokens: ["ab"], recipients: ["m4"] });
add("İvan lower-cased to ivan", ["WrongExpectation"], "@ivan", "m1", team, "invalid", { tokens: ["ivan"], recipients: ["m8", "m9"] });
add("all 40 recipients", ["WrongExpectation"], "hey @team", "zz", crowd, "invalid", { tokens: ["team"], recipients: crowd.map((c) => c.id) });

const file = {
  algorithm: "MESH-MENTION",
  generatorVersion: "node (vectors/testdata/mention/mention_vectors.mjs)",
  header: [
    "Mention extraction (SPEC §5, the broker's write path and the notifications backfill): tokens = matches of",
    "(^|[^A-Za-z0-9_-])@([A-Za-z0-9_-]{1,64})(?=$|[^A-Za-z0-9_-]) over the decoded v1 body, lower-cased, distinct, in order of",
    "first appearance, at most 16; recipients = the members (in the order given) whose display name, lower-cased as",
    "JavaScript does, is a token, the sender excluded, at most 32. Expected values computed by Node, never by Go.",
  ],
  notes,
  numberOfTests: tests.length,
  schema: "meshctl_mesh_mention_v1",
  testGroups: [{ tests, type: "Mentions" }],
};

// Sorted keys, two-space indent: the spelling meshctl writes its files in.
function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}
process.stdout.write(JSON.stringify(sortKeys(file), null, 2) + "\n");
