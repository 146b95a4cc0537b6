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

// ApplyNoTxUnlinted applies the no-transaction file name the way Up does
// (lock, tracking tables, progress), skipping the lint that would refuse
// it: for testing the defences behind that lint.
func ApplyNoTxUnlinted(ctx context.Context, r *Runner, name string) error {
	s, err := r.open(ctx)
	if err != nil {
		return err
	}
	defer s.close(ctx)
	if _, err := s.lock(ctx); err != nil {
		return err
	}
	if _, err := s.status(ctx); err != nil {
		return err
	}
	if err := s.setTimeouts(ctx); err != nil {
		return err
	}
	if _, err := s.prepareExtras(ctx); err != nil {
		return err
	}
	_, err = s.applyNoTx(ctx, r.src.Lookup(name), nil)
	return err
}
