package broker

import (
	"sync"
	"time"
)

// limiter is a token bucket per member id (SPEC §6: burst 10, refill
// 60/min). It lives in one replica's memory: with N replicas a member
// that spreads its requests can send up to N times the rate.
type limiter struct {
	mu      sync.Mutex
	burst   float64
	perSec  float64
	buckets map[string]*bucket
	now     func() time.Time
	sweep   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(burst, perMin int) *limiter {
	return &limiter{burst: float64(burst), perSec: float64(perMin) / 60, buckets: map[string]*bucket{}, now: time.Now}
}

// allow takes one token for key. When none is left it returns false and
// how long until one is.
func (l *limiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * l.perSec
	if b.tokens > l.burst {
		b.tokens = l.burst
	}
	b.last = now
	if now.Sub(l.sweep) > time.Minute {
		l.sweep = now
		for k, o := range l.buckets {
			if o != b && o.tokens+now.Sub(o.last).Seconds()*l.perSec >= l.burst {
				delete(l.buckets, k) // full again: forgetting it changes nothing
			}
		}
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.perSec * float64(time.Second))
}
