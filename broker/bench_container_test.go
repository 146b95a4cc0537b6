package broker

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ory/dockertest/v3/docker"
)

// cpuNanos is a container's cumulative CPU time (docker stats).
func (c *cluster) cpuNanos(id string) uint64 {
	ch := make(chan *docker.Stats, 2)
	go func() {
		_ = c.pool.Client.Stats(docker.StatsOptions{ID: id, Stats: ch, Stream: false, Timeout: 10 * time.Second})
	}()
	s, ok := <-ch
	if !ok || s == nil {
		return 0
	}
	return s.CPUStats.CPUUsage.TotalUsage
}

// BenchmarkContainerMessages measures messages accepted per second over
// HTTP (audit and mention notifications on: every message mentions
// another member), with 1 and 2 broker replicas, for one busy mesh (50
// senders in one mesh: one audit chain, one lock) against 50 meshes (one
// sender each plus a peer to mention). Reported: msgs/s, p50 and p99
// latency, and the CPU the database and the brokers used, in cores.
//
//	go test -tags sodium -run '^$' -bench ContainerMessages -benchtime 3000x ./broker/
func BenchmarkContainerMessages(b *testing.B) {
	const senders, workers = 50, 16
	for _, replicas := range []int{1, 2} {
		c := newCluster(b)
		c.startPG()
		var brokers []*brokerC
		for i := range replicas {
			br := c.startBroker(fmt.Sprintf("r%d", i))
			br.waitReady(b, 90*time.Second)
			brokers = append(brokers, br)
		}
		db := c.pgPool()
		e := brokers[0].env(b, db)
		for _, meshes := range []int{1, senders} {
			type sender struct{ key, mention string }
			var ss []sender
			if meshes == 1 {
				ms := e.createMesh("busy", newIdentity(1))
				for i := range senders {
					_, k := e.addMember(ms, fmt.Sprintf("s%02d", i), newIdentity(byte(i+2)))
					ss = append(ss, sender{k, fmt.Sprintf("s%02d", (i+1)%senders)})
				}
			} else {
				for i := range senders {
					ms := e.createMesh(fmt.Sprintf("m%02d", i), newIdentity(byte(i+2)))
					e.addMember(ms, "peer", newIdentity(200))
					ss = append(ss, sender{ms.Key, "peer"})
				}
			}
			b.Run(fmt.Sprintf("replicas=%d/meshes=%d", replicas, meshes), func(b *testing.B) {
				lat := make([]time.Duration, b.N)
				var failed int
				var mu sync.Mutex
				next := make(chan int, b.N)
				for i := range b.N {
					next <- i
				}
				close(next)
				var ids []string
				for _, br := range brokers {
					ids = append(ids, br.r.Container.ID)
				}
				dbBefore := c.cpuNanos(c.pg.Container.ID)
				var brBefore uint64
				for _, id := range ids {
					brBefore += c.cpuNanos(id)
				}
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for w := range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range next {
							s := ss[(i*workers+w)%len(ss)]
							t0 := time.Now()
							_, st := post(brokers[i%len(brokers)].base, s.key, map[string]any{"topic": "general",
								"ciphertext": b64(fmt.Sprintf("bench %d @%s", i, s.mention))})
							lat[i] = time.Since(t0)
							if st != 201 {
								mu.Lock()
								failed++
								mu.Unlock()
							}
						}
					}()
				}
				wg.Wait()
				wall := time.Since(start)
				b.StopTimer()
				if failed > 0 {
					b.Fatalf("%d of %d messages refused", failed, b.N)
				}
				dbCPU := float64(c.cpuNanos(c.pg.Container.ID)-dbBefore) / float64(wall.Nanoseconds())
				var brAfter uint64
				for _, id := range ids {
					brAfter += c.cpuNanos(id)
				}
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(float64(b.N)/wall.Seconds(), "msgs/s")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
				b.ReportMetric(dbCPU, "db_cores")
				b.ReportMetric(float64(brAfter-brBefore)/float64(wall.Nanoseconds()), "broker_cores")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
