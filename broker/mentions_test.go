package broker

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMentionTokens(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		body     string
		explicit []string
		want     []string
	}{
		{"hi @Alice and @bob", nil, []string{"alice", "bob"}},
		{"@a@b", nil, []string{"a"}},       // the match consumed 'a'
		{"@a @b", nil, []string{"a", "b"}}, //
		{"x@@b", nil, []string{"b"}},
		{"mail a@b.c", nil, nil},
		{"@" + long, nil, []string{long}},
		{"@" + long + "a", nil, nil},
		{"(@dash-ok_1)", nil, []string{"dash-ok_1"}},
		{"@ALICE @alice", nil, []string{"alice"}},
		{"é@x", nil, []string{"x"}},
		{"@x", []string{}, nil},                                    // an explicit empty list wins
		{"@x", []string{"Bob", "@bob", "C"}, []string{"bob", "c"}}, // one leading '@' dropped, as upstream does
		{"", nil, nil},
	}
	for _, tc := range tests {
		if got := mentionTokens(tc.body, tc.explicit); !cmp.Equal(got, tc.want) {
			t.Errorf("mentionTokens(%q, %q) = %q, want %q", tc.body, tc.explicit, got, tc.want)
		}
	}
	var b strings.Builder
	for i := range 20 {
		b.WriteString(" @u")
		b.WriteByte(byte('a' + i))
	}
	if got := mentionTokens(b.String(), nil); len(got) != maxMentionTokens || got[15] != "up" {
		t.Errorf("want the first 16 tokens, got %q", got)
	}
}

// TestMentionTokensAgainstJavaScript runs SPEC §5's regular expression in
// Node (JavaScript's own regex engine, with real lookahead) over random
// strings and compares the tokens.
func TestMentionTokensAgainstJavaScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required under CI=true (the JavaScript oracle)")
		}
		t.Skip("node not installed")
	}
	alphabet := []string{"@", "@", "a", "B", "z", "0", "_", "-", " ", ".", "é", "@@", strings.Repeat("x", 63)}
	r := rand.New(rand.NewPCG(1, 2))
	inputs := make([]string, 3000)
	for i := range inputs {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		inputs[i] = b.String()
	}
	in, _ := json.Marshal(inputs)
	const js = `const re=/(^|[^A-Za-z0-9_-])@([A-Za-z0-9_-]{1,64})(?=$|[^A-Za-z0-9_-])/g;
let d='';process.stdin.on('data',c=>d+=c).on('end',()=>{const out=JSON.parse(d).map(s=>{
const seen=[];for(const m of s.matchAll(re)){const t=m[2].toLowerCase();if(!seen.includes(t))seen.push(t);if(seen.length>=16)break;}
return seen;});process.stdout.write(JSON.stringify(out));});`
	cmd := exec.Command(node, "-e", js)
	cmd.Stdin = strings.NewReader(string(in))
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var want [][]string
	if err := json.Unmarshal(outb, &want); err != nil {
		t.Fatal(err)
	}
	for i, s := range inputs {
		got := mentionTokens(s, nil)
		if len(got) == 0 && len(want[i]) == 0 {
			continue
		}
		if !cmp.Equal(got, want[i]) {
			t.Errorf("%q: Go %q, JavaScript %q", s, got, want[i])
		}
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(10, 60)
	now := l.now()
	l.now = func() time.Time { return now }
	for i := range 10 {
		if ok, _ := l.allow("m"); !ok {
			t.Fatalf("request %d refused within the burst", i+1)
		}
	}
	ok, wait := l.allow("m")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("11th request: ok=%v wait=%v, want refused with ≤1 s to wait", ok, wait)
	}
	if ok, _ := l.allow("other"); !ok {
		t.Fatal("buckets are per member")
	}
	now = now.Add(time.Second)
	if ok, _ := l.allow("m"); !ok {
		t.Fatal("one token refills per second at 60/min")
	}
	if ok, _ := l.allow("m"); ok {
		t.Fatal("only one token refilled")
	}
}
