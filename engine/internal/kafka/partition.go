package kafka

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// partition is one owned partition: the records fetched and not yet
// dispatched, the run sending them, and its offsets. It is the run's
// Source.
type partition struct {
	tp
	run   delivery.Run
	off   *offsets
	abort context.CancelFunc // cuts off the run
	done  chan struct{}      // closed when the run has returned
	sum   delivery.Summary   // the run's, once done
	err   error

	lastOffset int64  // the last offset committed; under Consumer.commitMu
	lastMeta   string // and its metadata
	resume     func() // resumes the partition's fetching
	already    func() // counts a record an earlier owner settled

	mu     sync.Mutex
	buf    []*kgo.Record
	paused bool
	max    int
	wake   chan struct{} // a record was pushed
}

// push adds a fetched record; it returns true when the partition's
// fetching should pause (max records are waiting).
func (p *partition) push(r *kgo.Record, max int) bool {
	p.mu.Lock()
	p.buf = append(p.buf, r)
	p.max = max
	pause := !p.paused && len(p.buf) >= max
	if pause {
		p.paused = true
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return pause
}

// Next gives the dispatcher the partition's next record, in offset order,
// waiting for one; it returns ctx's error when ctx is done. Each event is
// Redeliverable (a stop leaves it uncommitted for the next owner), and
// its Done settles its offset.
func (p *partition) Next(ctx context.Context) (delivery.Event, error) {
	for {
		p.mu.Lock()
		if len(p.buf) > 0 {
			r := p.buf[0]
			p.buf[0] = nil
			p.buf = p.buf[1:]
			resume := p.paused && len(p.buf) <= p.max/2
			if resume {
				p.paused = false
			}
			// Recorded before the dispatcher can settle it.
			before := p.off.read(r.Offset, r.LeaderEpoch)
			p.mu.Unlock()
			if resume {
				p.resume()
			}
			if before { // an earlier owner sent it
				p.already()
				continue
			}
			off := r.Offset
			return delivery.Event{
				Raw:           r.Value,
				Ref:           Ref(r.Topic, r.Partition, r.Offset),
				Redeliverable: true,
				Done:          func() { p.off.settle(off) },
			}, nil
		}
		p.mu.Unlock()
		select {
		case <-p.wake:
		case <-ctx.Done():
			return delivery.Event{}, ctx.Err()
		}
	}
}
