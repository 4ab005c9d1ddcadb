package dispatch

import (
	"context"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/action"
)

// parkFor sets how long p, whose action failed with err (a contact not
// found), waits from now: ContactWait for its contact's identify; for a
// contact a search did not find (action.SearchMissed), SearchWait when
// that is longer, since Intercom's search lags writes by up to a few
// minutes and a contact made outside this run shows up only then.
func (d *Dispatcher) parkFor(p *parked, err error, now time.Time) *parked {
	p.wait = d.cfg.ContactWait
	if d.cfg.SearchWait > p.wait && action.SearchMissed(err) {
		p.wait = d.cfg.SearchWait
		p.searchUntil = now.Add(p.wait)
	}
	p.deadline = now.Add(p.wait)
	return p
}

// awaitSearch waits, at the end of the input, until search will have
// caught up with p's contact (p.searchUntil), so that its last try can
// find a contact made moments ago outside this run. A stop or an abort
// ends the wait: the last try is made at once.
func (w *worker) awaitSearch(ctx context.Context, p *parked) {
	d := time.Until(p.searchUntil)
	if p.searchUntil.IsZero() || d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-w.d.stop:
	}
}
