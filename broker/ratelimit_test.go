package broker

import (
	"testing"
	"time"
)

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
