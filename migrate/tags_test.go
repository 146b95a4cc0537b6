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
	d, rolledBack := committedFiles(results)
	if len(d) != 1 || d[0] != 1.5 || !rolledBack {
		t.Fatalf("committedFiles = %v, %v; want [1.5], true", d, rolledBack)
	}
}
