package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/claudemesh/meshctl/internal/pgquote"
)

// VerifyOptions selects what Verify checks.
type VerifyOptions struct {
	// MeshID limits verification to one mesh; empty means every mesh.
	MeshID string
	// Heads are checkpointed heads (Checkpoint.Heads) to check the chains
	// against, any number per mesh; nil checks the chains alone.
	Heads []Head
	// MerkleRoots computes each mesh's Merkle root (MeshResult.MerkleRoot),
	// as a checkpoint needs.
	MerkleRoots bool
	// Workers canonicalise and hash rows in parallel; 0 means GOMAXPROCS.
	Workers int
	// Strict makes precision findings (created_at with a fraction of a
	// millisecond) tampering; by default they are warnings.
	Strict bool
	// Window and MaxFindings default to DefaultWindow and DefaultMaxFindings.
	Window      int
	MaxFindings int
	// Progress, when set, is told how many rows have been verified so
	// far: about every ProgressInterval while Verify runs, and once more
	// with the final count (Report.Rows, Done set) when it succeeds. It is
	// called from one goroutine, never concurrently and never after
	// Verify returns; it never sees a smaller count than the call before.
	// The pipeline only adds each batch's size to a counter, so a slow
	// callback cannot slow verification down (but it delays Verify's
	// return by its last call).
	Progress func(Progress)
}

// Progress is a progress report of Verify: like migrate's and backfill's
// Events, a typed value handed to a caller's func.
type Progress struct {
	Rows int64 // rows verified so far
	Done bool  // the final report: Rows is Report.Rows
}

// ProgressInterval is how often VerifyOptions.Progress is called.
const ProgressInterval = 100 * time.Millisecond

// copyQuery streams the rows in binary COPY format (no unescaping) in id
// order, which the primary key gives without a sort: ORDER BY mesh_id, id
// would make PostgreSQL sort the whole table, spilling a temporary file as
// large as the table. The checker keeps per-mesh state instead.
const copyQuery = `COPY (SELECT mesh_id, id::int8, event_type, actor_member_id, payload, prev_hash, hash, created_at
FROM mesh.audit_log %s ORDER BY id) TO STDOUT (FORMAT binary)`

// Verify checks every audit chain (or one mesh's) on conn, streaming the
// rows in bounded memory. A non-nil error means the verification could
// not be completed; tampering is reported in the Report, not as an error.
func Verify(ctx context.Context, conn *pgx.Conn, opt VerifyOptions) (*Report, error) {
	where := ""
	if opt.MeshID != "" {
		// COPY takes no parameters, so the id is quoted into the query.
		// Not through a session setting: behind a transaction-mode pooler
		// the COPY may run on another server connection, where another
		// client's value (or none) would select the wrong rows.
		if strings.ContainsRune(opt.MeshID, 0) {
			return nil, fmt.Errorf("audit verify: mesh id contains a NUL byte")
		}
		where = "WHERE mesh_id = " + pgquote.Literal(opt.MeshID)
	}
	p := newPipeline(opt)
	p.start()
	var endProgress func(final int64)
	if opt.Progress != nil {
		endProgress = p.reportProgress(opt.Progress)
	}
	_, err := conn.PgConn().CopyTo(ctx, p, fmt.Sprintf(copyQuery, where))
	if err == nil {
		err = p.flush()
	}
	rep, perr := p.wait(opt.MeshID)
	if endProgress != nil {
		final := int64(-1)
		if err == nil && perr == nil {
			final = rep.Rows
		}
		endProgress(final)
	}
	if err != nil {
		return nil, fmt.Errorf("audit verify: reading mesh.audit_log: %w", err)
	}
	if perr != nil {
		return nil, fmt.Errorf("audit verify: %w", perr)
	}
	return rep, nil
}

const (
	batchRows  = 1024
	batchBytes = 1 << 20
	batches    = 8 // in flight: bounds memory to about batches × batchBytes
)

// batch is a run of consecutive rows and the arena holding their bytes.
type batch struct {
	arena []byte
	rows  []rowView
	spans []rowSpans
	done  chan struct{}
}

// rowSpans locates a row's fields in the arena while it is being filled
// (the arena may grow, so slices are cut only when the batch is sealed).
type rowSpans struct {
	mesh, event, actor, payload, prev, hash [2]int
}

// pipeline parses the COPY stream into batches (io.Writer side), hashes
// batches on worker goroutines, and checks them in order on one goroutine.
type pipeline struct {
	workers int
	free    chan *batch
	work    chan *batch
	order   chan *batch
	cur     *batch
	pending []byte
	header  bool
	trailer bool
	checker *checker
	wg      sync.WaitGroup
	doneCh  chan struct{}
	err     error
	checked atomic.Int64 // rows through the checker, added once per batch
	large   hasher       // hashes large payloads on the COPY goroutine
}

func newPipeline(opt VerifyOptions) *pipeline {
	w := opt.Workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	p := &pipeline{
		workers: w,
		free:    make(chan *batch, batches),
		work:    make(chan *batch, batches),
		order:   make(chan *batch, batches),
		checker: newChecker(opt.Window, opt.MaxFindings, opt.Heads),
		doneCh:  make(chan struct{}),
	}
	p.checker.strict = opt.Strict
	p.checker.merkleRoots = opt.MerkleRoots
	for i := 0; i < batches; i++ {
		p.free <- &batch{arena: make([]byte, 0, batchBytes+64<<10), rows: make([]rowView, 0, batchRows), spans: make([]rowSpans, 0, batchRows)}
	}
	return p
}

func (p *pipeline) start() {
	for i := 0; i < p.workers; i++ {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			var h hasher
			var canon []byte
			for b := range p.work {
				for i := range b.rows {
					if !b.rows[i].ready {
						canon = h.compute(&b.rows[i], canon)
					}
				}
				close(b.done)
			}
		}()
	}
	go func() {
		defer close(p.doneCh)
		for b := range p.order {
			<-b.done
			for i := range b.rows {
				p.checker.row(&b.rows[i])
			}
			p.checked.Add(int64(len(b.rows)))
			p.free <- b
		}
	}()
}

// reportProgress calls fn with the rows checked so far every
// ProgressInterval, on its own goroutine, until the returned function is
// called; that makes one last call with final (unless it is negative) and
// returns when fn will not be called again.
func (p *pipeline) reportProgress(fn func(Progress)) func(final int64) {
	stop := make(chan int64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(ProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fn(Progress{Rows: p.checked.Load()})
			case final := <-stop:
				if final >= 0 {
					fn(Progress{Rows: final, Done: true})
				}
				return
			}
		}
	}()
	return func(final int64) {
		stop <- final
		<-done
	}
}

// wait ends the pipeline and returns the report.
func (p *pipeline) wait(scope string) (*Report, error) {
	close(p.work)
	close(p.order)
	p.wg.Wait()
	<-p.doneCh
	if p.err != nil {
		return nil, p.err
	}
	return p.checker.finish(scope), nil
}

// Write receives the COPY stream; pgx calls it once per CopyData message
// (usually one row), and the bytes are not retained after it returns.
func (p *pipeline) Write(data []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n := len(data)
	buf := data
	if len(p.pending) > 0 {
		p.pending = append(p.pending, data...)
		buf = p.pending
	}
	used, err := p.parse(buf)
	if err != nil {
		p.err = err
		return 0, err
	}
	rest := buf[used:]
	if len(p.pending) > 0 {
		p.pending = append(p.pending[:0], rest...)
	} else {
		p.pending = append(p.pending, rest...)
	}
	return n, nil
}

var copySignature = []byte("PGCOPY\n\xff\r\n\x00")

var errCopyFormat = errors.New("unexpected binary COPY data from the server")

// parse consumes as many complete tuples from buf as it holds.
func (p *pipeline) parse(buf []byte) (int, error) {
	pos := 0
	if !p.header {
		if len(buf) < 19 {
			return 0, nil
		}
		if !bytes.Equal(buf[:11], copySignature) {
			return 0, errCopyFormat
		}
		ext := int(binary.BigEndian.Uint32(buf[15:19]))
		if len(buf) < 19+ext {
			return 0, nil
		}
		pos = 19 + ext
		p.header = true
	}
	for pos+2 <= len(buf) && !p.trailer {
		nf := int16(binary.BigEndian.Uint16(buf[pos:]))
		if nf == -1 {
			p.trailer = true
			return pos + 2, nil
		}
		if nf != 8 {
			return pos, errCopyFormat
		}
		// Find the tuple's end first, so a partial tuple is left pending.
		end := pos + 2
		var lens [8]int
		for f := 0; f < 8; f++ {
			if end+4 > len(buf) {
				return pos, nil
			}
			l := int(int32(binary.BigEndian.Uint32(buf[end:])))
			end += 4
			lens[f] = l
			if l > 0 {
				end += l
			}
		}
		if end > len(buf) {
			return pos, nil
		}
		if err := p.addTuple(buf[pos+2:end], lens); err != nil {
			return pos, err
		}
		pos = end
	}
	return pos, nil
}

// addTuple copies one tuple into the current batch.
func (p *pipeline) addTuple(t []byte, lens [8]int) error {
	b := p.cur
	if b == nil {
		b = <-p.free
		b.arena, b.rows, b.spans = b.arena[:0], b.rows[:0], b.spans[:0]
		p.cur = b
	}
	var sp rowSpans
	var r rowView
	pos := 0
	field := func(i int) ([]byte, bool) {
		pos += 4
		if lens[i] < 0 {
			return nil, false
		}
		f := t[pos : pos+lens[i]]
		pos += lens[i]
		return f, true
	}
	put := func(f []byte) [2]int {
		off := len(b.arena)
		b.arena = append(b.arena, f...)
		return [2]int{off, len(b.arena)}
	}
	mesh, _ := field(0)
	sp.mesh = put(mesh)
	id, ok := field(1)
	if !ok || len(id) != 8 {
		return errCopyFormat
	}
	r.id = int64(binary.BigEndian.Uint64(id))
	ev, _ := field(2)
	sp.event = put(ev)
	actor, ok := field(3)
	r.actorNull = !ok
	sp.actor = put(actor)
	payload, _ := field(4)
	if len(payload) == 0 || payload[0] != 1 {
		r.problem = "payload: unknown jsonb binary version"
	} else {
		payload = payload[1:]
	}
	large := len(payload) >= largePayload
	if !large {
		sp.payload = put(payload)
	}
	prev, _ := field(5)
	sp.prev = put(prev)
	hash, _ := field(6)
	sp.hash = put(hash)
	ts, ok := field(7)
	if !ok || len(ts) != 8 {
		return errCopyFormat
	}
	r.ms, r.subMs, ok = timestampMillis(int64(binary.BigEndian.Uint64(ts)))
	if !ok && r.problem == "" {
		r.problem = "created_at: " + ErrTimeRange.Error()
	}
	if large {
		// Hashed here, from the COPY buffer, one at a time: a large
		// payload is never copied into a batch, nor held by several
		// workers at once.
		if r.problem == "" {
			v := rowView{mesh: mesh, event: ev, actor: actor, actorNull: r.actorNull, payload: payload, prev: prev, hash: hash, ms: r.ms}
			p.large.computeLarge(&v)
			r.computed, r.problem = v.computed, v.problem
		}
		r.ready = true
	}
	b.rows = append(b.rows, r)
	b.spans = append(b.spans, sp)
	if len(b.rows) >= batchRows || len(b.arena) >= batchBytes {
		p.seal()
	}
	return nil
}

// timestampMillis converts a binary timestamp (µs since 2000-01-01) to
// Unix milliseconds, flooring as JavaScript's Date does, and the
// nanoseconds the floor drops.
func timestampMillis(us int64) (ms int64, subMs int32, ok bool) {
	const epoch2000 = 946684800 * 1_000_000
	const limit = maxDateMs * 1000
	if us > limit-epoch2000 || us < -limit-epoch2000 {
		return 0, 0, false // includes 'infinity' and '-infinity'
	}
	u := us + epoch2000
	ms = u / 1000
	if u%1000 < 0 {
		ms--
	}
	return ms, int32(u-ms*1000) * 1000, true
}

// seal cuts the current batch's slices and hands it to the workers and
// the checker.
func (p *pipeline) seal() {
	b := p.cur
	if b == nil {
		return
	}
	a := b.arena
	cut := func(s [2]int) []byte { return a[s[0]:s[1]:s[1]] }
	for i := range b.rows {
		r, s := &b.rows[i], &b.spans[i]
		r.mesh, r.event, r.actor, r.payload, r.prev, r.hash = cut(s.mesh), cut(s.event), cut(s.actor), cut(s.payload), cut(s.prev), cut(s.hash)
	}
	b.done = make(chan struct{})
	p.cur = nil
	p.order <- b
	p.work <- b
}

// flush hands over the last partial batch once the stream has ended.
func (p *pipeline) flush() error {
	if len(p.pending) > 0 || !p.trailer {
		return errCopyFormat
	}
	p.seal()
	return nil
}

// countBudget bounds EstimateRows's exact count for one mesh: an estimate
// that costs a noticeable part of the verification is not worth having.
const countBudget = time.Second

// EstimateRows says about how many rows Verify will read, cheaply, so a
// caller can show a percentage; it returns -1 when it cannot tell.
//
// For one mesh it counts exactly over the mesh_id index, giving up (-1)
// after about a second. For every mesh it reads the planner's statistics
// (pg_class.reltuples scaled to the table's current size, as the planner
// does), which are as fresh as the last VACUUM or ANALYZE: -1 when the
// table has never been analysed. The estimate may be off either way;
// callers must cope with Verify reading more rows than it says.
func EstimateRows(ctx context.Context, conn *pgx.Conn, meshID string) (int64, error) {
	var n int64
	if meshID == "" {
		err := conn.QueryRow(ctx, `SELECT CASE WHEN c.reltuples < 0 OR c.relpages = 0 THEN -1
	ELSE (c.reltuples / c.relpages * (pg_relation_size(c.oid) / current_setting('block_size')::int8))::int8 END
FROM pg_class c WHERE c.oid = 'mesh.audit_log'::regclass`).Scan(&n)
		if err != nil {
			return -1, fmt.Errorf("audit estimate: %w", err)
		}
		return n, nil
	}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", countBudget.Milliseconds())); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM mesh.audit_log WHERE mesh_id = $1`, meshID).Scan(&n)
	})
	var pe *pgconn.PgError
	switch {
	case err == nil:
		return n, nil
	case ctx.Err() != nil:
		return -1, ctx.Err()
	case errors.As(err, &pe) && pe.Code == "57014": // over budget: no estimate
		return -1, nil
	}
	return -1, fmt.Errorf("audit estimate: %w", err)
}
