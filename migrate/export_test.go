package migrate

import (
	"context"
	"time"
)

// WarmUpToDate exposes Up's warm-path check to the external tests.
func WarmUpToDate(ctx context.Context, r *Runner) (bool, error) {
	s, err := r.open(ctx)
	if err != nil {
		return false, err
	}
	defer s.close(ctx)
	return s.upToDate(ctx)
}

// WithWatch shortens when and how often a running no-transaction statement
// is watched, for tests.
func WithWatch(after, every time.Duration) Option {
	return func(c *config) error { c.watchAfter, c.watchEvery = after, every; return nil }
}
