package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress redraws one status line on a terminal once a second; on
// anything else (a file, a pipe, CI) it prints nothing.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	prefix  string
	status  string
	statusf func() string // if set, asked for the status at each redraw
	done    chan struct{}
	stopped bool
}

func newProgress(w io.Writer, prefix string) *progress {
	p := &progress{w: w, prefix: prefix, done: make(chan struct{})}
	if f, ok := w.(*os.File); !ok || !isTerminal(f) {
		p.stopped = true
		return p
	}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.mu.Lock()
				status := p.status
				if p.statusf != nil {
					status = p.statusf()
				}
				fmt.Fprintf(p.w, "\r\033[K%s: %s", p.prefix, status)
				p.mu.Unlock()
			}
		}
	}()
	return p
}

func (p *progress) set(status string) {
	p.mu.Lock()
	p.status = status
	p.mu.Unlock()
}

// setFunc makes f give the status, called only when the line is redrawn:
// no formatting work per event, and none at all off a terminal.
func (p *progress) setFunc(f func() string) {
	p.mu.Lock()
	p.statusf = f
	p.mu.Unlock()
}

// clear blanks the status line so that a message can be printed; the next
// redraw brings it back.
func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// stop ends the redraws and clears the line; it may be called twice.
func (p *progress) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	close(p.done)
	fmt.Fprint(p.w, "\r\033[K")
}

func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
