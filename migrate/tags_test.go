package migrate

import (
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// A COMMIT answered with ROLLBACK is never counted as a committed file.
func TestCommitAnsweredWithRollback(t *testing.T) {
	res := func(tag string, rows ...[][]byte) *pgconn.Result {
		return &pgconn.Result{CommandTag: pgconn.NewCommandTag(tag), Rows: rows}
	}
	row := [][]byte{[]byte("1.5")}
	results := []*pgconn.Result{
		res("BEGIN"), res("CREATE TABLE"), res("SET"), res("INSERT 0 1", row), res("COMMIT"), res("SET"),
		res("BEGIN"), res("CREATE TABLE"), res("SET"), res("INSERT 0 1", row), res("ROLLBACK"), res("SET"),
	}
	d, rolledBack, known := committedFiles(results, []int{4, 10})
	if len(d) != 1 || d[0] != 1.5 || !rolledBack || !known {
		t.Fatalf("committedFiles = %v, %v; want [1.5], true", d, rolledBack)
	}
}

// A file's own ROLLBACK TO SAVEPOINT after a one-row, one-column INSERT
// ... RETURNING is not the file's COMMIT answered with ROLLBACK: only the
// result at the COMMIT's position counts.
func TestRollbackToSavepointIsNotTheCommit(t *testing.T) {
	res := func(tag string, rows ...[][]byte) *pgconn.Result {
		return &pgconn.Result{CommandTag: pgconn.NewCommandTag(tag), Rows: rows}
	}
	row := [][]byte{[]byte("1.5")}
	results := []*pgconn.Result{
		res("BEGIN"), res("SAVEPOINT"), res("INSERT 0 1", [][]byte{[]byte("7")}), res("ROLLBACK"), res("SET"), res("INSERT 0 1", row), res("COMMIT"),
	}
	d, rolledBack, known := committedFiles(results, []int{6})
	if len(d) != 1 || d[0] != 1.5 || rolledBack || !known {
		t.Fatalf("committedFiles = %v, %v, %v; want [1.5], false, true", d, rolledBack, known)
	}
	// A result at the COMMIT's position that is no COMMIT is a miscount.
	if _, _, known := committedFiles(results, []int{5}); known {
		t.Error("an INSERT at the COMMIT's position was taken for a COMMIT")
	}
}
