package meshfmt

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestMentionTokensRules(t *testing.T) {
	long64, long65 := strings.Repeat("a", 64), strings.Repeat("a", 65)
	var many []string
	for i := 0; i < 20; i++ {
		many = append(many, "@u"+string(rune('a'+i)))
	}
	for _, tt := range []struct {
		body string
		want []string
	}{
		{"hi @Bob and @alice, @BOB again", []string{"bob", "alice"}},
		{"mail a@b.c or x@y", nil},
		{"@" + long64 + " @" + long65, []string{long64}},
		{"(@x) [@y] @z.", []string{"x", "y", "z"}},
		{"@@a @-b- @_c", []string{"a", "-b-", "_c"}},
		{"é@a ü @b", []string{"a", "b"}},
		{strings.Join(many, " "), func() []string {
			var w []string
			for i := 0; i < 16; i++ {
				w = append(w, "u"+string(rune('a'+i)))
			}
			return w
		}()},
	} {
		if got := MentionTokens(tt.body); !cmp.Equal(got, tt.want) {
			t.Errorf("MentionTokens(%q) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

func TestMentionRecipients(t *testing.T) {
	members := []MentionCandidate{{"1", "Bob"}, {"2", "a.b"}, {"3", "ALICE"}, {"4", "\u212aate"}, {"5", "\u0130van"}, {"6", "bob"}}
	got := MentionRecipients(MentionTokens("@bob @alice @a @kate @ivan @i̇van"), "6", members)
	want := []MentionCandidate{{"1", "Bob"}, {"3", "ALICE"}, {"4", "\u212aate"}}
	if !cmp.Equal(got, want) {
		t.Errorf("recipients = %v, want %v (the sender excluded, 'a.b' literal, Kelvin sign K lower-cases to k, İ to i̇)", got, want)
	}
	var lots []MentionCandidate
	for i := 0; i < 40; i++ {
		lots = append(lots, MentionCandidate{ID: string(rune('A' + i)), DisplayName: "team"})
	}
	if n := len(MentionRecipients([]string{"team"}, "", lots)); n != MaxMentionRecipients {
		t.Errorf("%d recipients, want the cap %d", n, MaxMentionRecipients)
	}
}

// TestMentionsAgreeWithJavaScript runs upstream's own extraction (the
// broker's extractMentionTokens: the same regex, a Set, capped at 16) and
// recipient filter (lower-cased display names, sender excluded, 32) in
// Node, and toLowerCase over every code point, and compares with meshfmt.
func TestMentionsAgreeWithJavaScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required under CI=true (the JavaScript oracle for mention extraction)")
		}
		t.Skip("node not installed")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	atoms := []string{"@", "@", "a", "B", "z", "0", "_", "-", " ", ".", ",", "é", "\u212a", "\n", "(", "🔒", strings.Repeat("x", 63)}
	bodies := []string{"", "@", "@a", "a@b", strings.Repeat("@ab ", 30), "@" + strings.Repeat("q", 64) + "!", "@" + strings.Repeat("q", 65)}
	for i := 0; i < 3000; i++ {
		var b strings.Builder
		for n := rng.IntN(40); n > 0; n-- {
			b.WriteString(atoms[rng.IntN(len(atoms))])
		}
		bodies = append(bodies, b.String())
	}
	names := []string{"Bob", "bob", "ALICE", "a.b", "(x)", "\u212aate", "\u0130van", "ΟΔΟΣ", "Σ", "aΣ", "aΣb", "aΣ.", "ß", "Ǆ", "team-1", "x_y"}
	input, _ := json.Marshal(map[string]any{"bodies": bodies, "names": names})
	script := `
const inp = JSON.parse(require("fs").readFileSync(0, "utf8"));
const extract = (text) => {
  const found = new Set();
  const re = /(^|[^A-Za-z0-9_-])@([A-Za-z0-9_-]{1,64})(?=$|[^A-Za-z0-9_-])/g;
  let m;
  while ((m = re.exec(text)) !== null) { found.add(m[2].toLowerCase()); if (found.size >= 16) break; }
  return [...found];
};
const lower = {};
for (let c = 0; c <= 0x10ffff; c++) {
  if (c >= 0xd800 && c <= 0xdfff) continue;
  const s = String.fromCodePoint(c), l = s.toLowerCase();
  if (l !== s) lower[c] = l;
}
process.stdout.write(JSON.stringify({ tokens: inp.bodies.map(extract), names: inp.names.map((n) => n.toLowerCase()), lower }));
`
	cmd := exec.Command(node, "-e", script)
	cmd.Stdin = bytes.NewReader(input)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Tokens [][]string
		Names  []string
		Lower  map[string]string
	}
	if err := json.Unmarshal(out, &js); err != nil {
		t.Fatal(err)
	}
	for i, b := range bodies {
		got := MentionTokens(b)
		if len(got) == 0 && len(js.Tokens[i]) == 0 {
			continue
		}
		if !cmp.Equal(got, js.Tokens[i]) {
			t.Errorf("body %q: Go %q, JavaScript %q", b, got, js.Tokens[i])
		}
	}
	for i, n := range names {
		if got := JSLowerCase(n); got != js.Names[i] {
			t.Errorf("JSLowerCase(%q) = %q, JavaScript %q", n, got, js.Names[i])
		}
	}
	// Code point by code point: the two Unicode versions (Go's tables,
	// Node's ICU) may differ on characters assigned recently; what decides
	// a mention is only which characters lower-case into ASCII (tokens are
	// ASCII), and that must agree exactly.
	versionDiffs := 0
	for c := rune(0); c <= utf8.MaxRune; c++ {
		if c >= 0xd800 && c <= 0xdfff {
			continue
		}
		want, ok := js.Lower[itoa(int(c))]
		if !ok {
			want = string(c)
		}
		got := JSLowerCase(string(c))
		if got == want {
			continue
		}
		if isASCII(got) || isASCII(want) {
			t.Errorf("JSLowerCase(U+%04X) = %q, JavaScript %q", c, got, want)
		}
		versionDiffs++
	}
	t.Logf("%d bodies and %d display names agree with Node %s; toLowerCase of every code point agrees where ASCII is involved (%d differ only by Unicode version: Go %s)",
		len(bodies), len(names), strings.TrimSpace(nodeVersion(node)), versionDiffs, unicode.Version)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func nodeVersion(node string) string {
	out, _ := exec.Command(node, "--version").Output()
	return string(out)
}
