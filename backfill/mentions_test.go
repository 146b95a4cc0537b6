package backfill

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// jsMentions is SPEC §5's rule written in JavaScript, the broker's own
// language: the regex with its lookahead, matchAll, lower-casing, the
// first 16 distinct.
const jsMentions = `
const re = /(^|[^A-Za-z0-9_-])@([A-Za-z0-9_-]{1,64})(?=$|[^A-Za-z0-9_-])/g;
const bodies = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = bodies.map(b => {
  const seen = [];
  for (const m of b.matchAll(re)) {
    const t = m[2].toLowerCase();
    if (!seen.includes(t)) seen.push(t);
    if (seen.length === 16) break;
  }
  return seen;
});
process.stdout.write(JSON.stringify(out));`

// mentionTokens agrees with JavaScript on generated bodies built from the
// characters the rule cares about, and on edge cases.
func TestMentionTokensAgreeWithJavaScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required under CI=true (the JavaScript oracle)")
		}
		t.Skip("no node: cannot run the JavaScript oracle")
	}
	bodies := []string{
		"", "@", "@a", "@@a", "a@b", " @a", "@a@b", "@a @b", "(@a)", "@a-b_c", "@" + strings.Repeat("x", 64),
		"@" + strings.Repeat("x", 65), "é@a", "😀@a", "\n@a\n", "@A @a", "-@a", "_@a", ".@a.",
	}
	alphabet := []string{"@", "@", "a", "B", "z", "0", "-", "_", ".", " ", "(", "é", "😀", "\n", "\u00a0"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		var b strings.Builder
		for range r.IntN(60) {
			if r.IntN(20) == 0 {
				b.WriteString("@" + strings.Repeat("q", 60+r.IntN(8)))
				continue
			}
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		bodies = append(bodies, b.String())
	}
	in, _ := json.Marshal(bodies)
	cmd := exec.Command(node, "-e", jsMentions)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var want [][]string
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i, b := range bodies {
		got := mentionTokens(b)
		if got == nil {
			got = []string{}
		}
		if diff := cmp.Diff(want[i], got); diff != "" {
			if bad++; bad <= 10 {
				t.Errorf("body %q (-js +go):\n%s", b, diff)
			}
		}
	}
	t.Logf("%d bodies compared, %d differ", len(bodies), bad)
}
