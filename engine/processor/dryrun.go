package processor

import (
	"context"
	"io"
	"sync"

	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/internal/planner"
)

// dryRun writes each action as a JSON line instead of sending it.
type dryRun struct {
	mu sync.Mutex
	w  io.Writer
}

func (d *dryRun) Execute(_ context.Context, a action.Action) (action.Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return action.Result{}, planner.WriteJSON(d.w, &planner.Result{Actions: []action.Action{a}})
}
