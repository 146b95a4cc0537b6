package gate

import (
	"fmt"
	"path/filepath"

	"github.com/claudemesh/meshctl/migrate"
)

// ClassDrift: the tracking table and the migration files disagree
// (changed, missing, out-of-order or failed files).
const ClassDrift Class = "drift"

// MigrationsResult is the database's own verdict on an expected migration.
type MigrationsResult struct {
	Expect        string        `json:"expect"`
	State         migrate.State `json:"state,omitempty"` // the expected file's state; "" when neither file nor row exists
	Ready         bool          `json:"ready"`
	Class         Class         `json:"class"`
	NewestApplied string        `json:"newest_applied,omitempty"`
	Applied       int           `json:"applied"`
	Pending       int           `json:"pending"`
	Drift         []string      `json:"drift"` // "file: state" for every file that drifts
}

// Migrations judges st (migrate.Runner.Status) for the expected file: ready
// when it is applied and nothing drifts; ClassMigration when it is pending
// (or unknown); ClassDrift when any file drifts. The error is an *Error
// with the class, nil when ready.
func Migrations(st *migrate.Status, expect string) (*MigrationsResult, error) {
	name := filepath.Base(expect)
	r := &MigrationsResult{Expect: name, Drift: []string{}}
	for _, f := range st.Files {
		if f.Filename == name {
			r.State = f.State
		}
		switch f.State {
		case migrate.StateApplied:
			r.Applied++
			r.NewestApplied = max(r.NewestApplied, f.Filename)
		case migrate.StatePending:
			r.Pending++
		case migrate.StateChanged, migrate.StateMissingFile, migrate.StateOutOfOrder, migrate.StateFailed:
			r.Drift = append(r.Drift, f.Filename+": "+string(f.State))
			if f.State != migrate.StateOutOfOrder {
				r.NewestApplied = max(r.NewestApplied, f.Filename)
			}
		}
	}
	var detail string
	switch {
	case r.State == migrate.StatePending || r.State == migrate.StateOutOfOrder:
		r.Class, detail = ClassMigration, fmt.Sprintf("migration %s is %s in %s", name, r.State, st.Table)
	case r.State == "":
		r.Class, detail = ClassMigration, fmt.Sprintf("migration %s is neither a migration file nor a row of %s", name, st.Table)
	case len(r.Drift) > 0:
		r.Class, detail = ClassDrift, fmt.Sprintf("%s drifts from the files: %v", st.Table, r.Drift)
	default:
		r.Class, r.Ready = ClassReady, true
		return r, nil
	}
	return r, &Error{Class: r.Class, Detail: detail}
}
