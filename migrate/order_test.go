package migrate

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// orderNames mixes characters above U+FFFF (surrogate pairs in UTF-16)
// with characters from U+E000 to U+FFFF, where UTF-16 order and byte
// order disagree.
var orderNames = []string{
	"0001_Ａ.sql", "0001_😀.sql", "0001_a.sql", "0001_é.sql", "0001_\ue000.sql", "0001_𝔸.sql",
	"0001_\uffef.sql", "0001_ß.sql", "0002.sql", "0001_A.sql", "0001_a_.sql", "0001.sql", "0001_\U0010fffd.sql",
}

func loadNames(t *testing.T, names []string) []string {
	t.Helper()
	m := fstest.MapFS{}
	for _, n := range names {
		m[n] = file("SELECT 1;")
	}
	src, err := LoadSource(m)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range src.Files {
		got = append(got, f.Name)
	}
	return got
}

// TestFileOrderIsJavaScriptSort checks LoadSource orders names exactly as
// upstream's runner does, asking Node's Array.prototype.sort itself.
func TestFileOrderIsJavaScriptSort(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required under CI=true: it is the oracle for upstream's file order")
		}
		t.Skip("node not installed: cannot ask JavaScript for the order")
	}
	in, _ := json.Marshal(orderNames)
	out, err := exec.Command(node, "-e", "process.stdout.write(JSON.stringify(JSON.parse(process.argv[1]).sort()))", string(in)).Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var want []string
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	if diff := cmp.Diff(want, loadNames(t, orderNames)); diff != "" {
		t.Errorf("order (-node +meshctl):\n%s", diff)
	}
}

// TestFileOrderUTF16 pins the case named in SPEC §2 without Node.
func TestFileOrderUTF16(t *testing.T) {
	got := loadNames(t, []string{"0001_Ａ.sql", "0001_😀.sql"})
	if diff := cmp.Diff([]string{"0001_😀.sql", "0001_Ａ.sql"}, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	// Status agrees: a file sorting after the newest row in UTF-16 order is
	// pending, not out of order.
	src, _ := LoadSource(fstest.MapFS{"0001_😀.sql": file("SELECT 1;"), "0001_Ａ.sql": file("SELECT 2;")})
	st := &Status{Counts: map[State]int{}}
	rows := map[string]trackRow{"0001_😀.sql": {sha256: src.Lookup("0001_😀.sql").SHA256, appliedAt: time.Now()}}
	if err := classify(st, src, rows, nil); err != nil {
		t.Fatal(err)
	}
	if st.Files[1].Filename != "0001_Ａ.sql" || st.Files[1].State != StatePending {
		t.Errorf("status: %+v, want 0001_Ａ.sql pending", st.Files[1])
	}
}

// TestForeignHistory: a table filled from another folder is refused, not
// shown as every row missing and every file out of order.
func TestForeignHistory(t *testing.T) {
	src, _ := LoadSource(fstest.MapFS{"0000_mesh_core.sql": file("SELECT 0;"), "0001_audit_log.sql": file("SELECT 1;")})
	rows := map[string]trackRow{}
	for i, n := range []string{"0000_init.sql", "0001_peers.sql", "0002_topics.sql", "0003_keys.sql"} {
		rows[n] = trackRow{sha256: strings.Repeat("0", 63) + string(rune('a'+i)), appliedAt: time.Now()}
	}
	var fe *ForeignHistoryError
	if err := classify(&Status{Table: DefaultTable, Counts: map[State]int{}}, src, rows, nil); !errors.As(err, &fe) {
		t.Fatalf("classify: %v, want a *ForeignHistoryError", err)
	}
	if fe.Rows != 4 || fe.Unknown != 4 || fe.Files != 2 || len(fe.Examples) != 3 {
		t.Errorf("error fields %+v", fe)
	}
	// One file of the folder applied: the folder's own history with
	// missing rows, not a foreign one.
	rows["0000_mesh_core.sql"] = trackRow{sha256: src.Files[0].SHA256, appliedAt: time.Now()}
	st := &Status{Counts: map[State]int{}}
	if err := classify(st, src, rows, nil); err != nil {
		t.Errorf("classify with one own row: %v", err)
	}
	if st.Counts[StateMissingFile] != 4 {
		t.Errorf("counts %v, want 4 missing-file", st.Counts)
	}
}
