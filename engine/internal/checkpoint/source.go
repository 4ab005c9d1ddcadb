package checkpoint

import (
	"context"
	"io"
	"sync/atomic"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// Source reads one input, skipping the events its checkpoint says are
// settled, and records in the checkpoint each event it gives as it is
// settled. Its events are Redeliverable: a stopped run leaves what it did
// not send unsettled, to be read again on resume.
type Source struct {
	in    *delivery.LineSource
	path  string
	file  *File
	skip  Mark
	t     *Tracker
	ended atomic.Bool // the input was read to its end
}

// NewSource reads in, the input at path (as given to Create), resuming
// from skip (its Progress.Mark).
func NewSource(in *delivery.LineSource, path string, file *File, skip Mark) *Source {
	return &Source{in: in, path: path, file: file, skip: skip, t: file.Tracker(path)}
}

// Next returns the next event not settled before, or io.EOF.
func (s *Source) Next(ctx context.Context) (delivery.Event, error) {
	for {
		ev, err := s.in.Next(ctx)
		if err == io.EOF && !s.ended.Swap(true) && s.t.Pending() == 0 {
			s.file.Finish(s.path)
		}
		if err != nil {
			return ev, err
		}
		line := s.in.Line()
		if s.skip.Has(line) {
			s.t.Skip(line)
			continue
		}
		s.t.Read(line)
		ev.Redeliverable = true
		ev.Done = func() {
			s.file.Settled(s.path, line)
			if s.ended.Load() && s.t.Pending() == 0 {
				s.file.Finish(s.path)
			}
		}
		return ev, nil
	}
}
