// Package mesh holds the queries on the mesh schema that operator tools
// share, starting with naming a mesh: by its id, or by its slug when that
// slug is unique (slugs are not unique in mesh.mesh).
package mesh

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Querier is what the lookups need: a *pgx.Conn, pgx.Tx or pool.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// NotFoundError: no mesh has the id or slug.
type NotFoundError struct{ Ref string }

func (e *NotFoundError) Error() string { return fmt.Sprintf("no mesh has id or slug %q", e.Ref) }

// AmbiguousError: the slug names several meshes; give an id.
type AmbiguousError struct {
	Slug string
	IDs  []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("slug %q names %d meshes (%s): give the mesh id", e.Slug, len(e.IDs), strings.Join(e.IDs, ", "))
}

// Resolve returns the id of the mesh ref names: a mesh whose id is ref, or
// else the one mesh whose slug is ref. An id always wins over a slug.
func Resolve(ctx context.Context, q Querier, ref string) (string, error) {
	rows, err := q.Query(ctx, `SELECT id FROM mesh.mesh WHERE id = $1
UNION ALL SELECT id FROM mesh.mesh WHERE slug = $1 AND NOT EXISTS (SELECT 1 FROM mesh.mesh WHERE id = $1)
ORDER BY 1`, ref)
	if err != nil {
		return "", err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	switch len(ids) {
	case 0:
		return "", &NotFoundError{Ref: ref}
	case 1:
		return ids[0], nil
	default:
		return "", &AmbiguousError{Slug: ref, IDs: ids}
	}
}
