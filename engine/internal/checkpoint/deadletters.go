package checkpoint

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// KeptDeadLetters reads, in the dead-letter file at path (absolute), the
// dead letters the earlier runs of inputs wrote for events they did not
// settle: a run killed after an event's dead letter and before its settle
// was recorded. The run resuming them dispatches those events again; given
// the set (delivery.DeadLetterFile.Kept), the file keeps each such dead
// letter once.
//
// inputs are the inputs' progress by the name their events' refs carry
// (as given to delivery.NewLineSource). Only the dead letters written to
// path after an input's Progress.DeadLettersFrom count for it, and only
// those of lines its mark does not have: what any other run wrote, or a
// settled event's, is never taken for one.
func KeptDeadLetters(path string, inputs map[string]Progress) (*delivery.DeadLetterSet, error) {
	kept := &delivery.DeadLetterSet{}
	from := int64(-1)
	for _, p := range inputs {
		if p.DeadLetters == path && (from < 0 || p.DeadLettersFrom < from) {
			from = p.DeadLettersFrom
		}
	}
	if from < 0 {
		return kept, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return kept, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil, err
	}
	r := bufio.NewReader(f)
	for at := from; ; {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			return kept, nil // a last line cut short: not written whole, not kept
		}
		if err != nil {
			return nil, err
		}
		var dl delivery.DeadLetter
		if json.Unmarshal(line, &dl) == nil {
			for name, p := range inputs {
				n, ok := delivery.RefLine(dl.Ref, name)
				if ok && p.DeadLetters == path && at >= p.DeadLettersFrom && !p.Done && !p.Mark.Has(n) {
					kept.Add(dl)
					break
				}
			}
		}
		at += int64(len(line))
	}
}
