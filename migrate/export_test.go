package migrate

import "context"

// WarmUpToDate exposes Up's warm-path check to the external tests.
func WarmUpToDate(ctx context.Context, r *Runner) (bool, error) {
	s, err := r.open(ctx)
	if err != nil {
		return false, err
	}
	defer s.close(ctx)
	return s.upToDate(ctx)
}
