package processor

import (
	"context"
	"errors"
	"fmt"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/pause"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
)

// Health is why delivery is paused, if it is: a refused token (since
// when) or Intercom unreachable (since when). Its Reason is the line
// /readyz and the logs give.
type Health = pause.Status

// ErrOutage is a run's error when Intercom stayed unreachable for
// Config.OutageWait: the run stopped, and what it did not send is left to
// its source (a checkpoint, a spool).
var ErrOutage = pause.ErrOutage

// Health says whether delivery is paused now, and why.
func (p *Processor) Health() Health {
	if p.gate == nil {
		return Health{}
	}
	return p.gate.Status()
}

// ReloadToken reads the token again from where it came from (TokenFile,
// INTERCOM_ACCESS_TOKEN, the login's store), on SIGHUP. If delivery is
// paused for a refused token, the pause's check reads and checks it at
// once: delivery resumes when Intercom takes it.
func (p *Processor) ReloadToken() {
	if p.gate == nil || p.gate.Recheck() {
		return
	}
	p.readToken()
}

// readToken replaces the token with the one found now, if the Processor
// found it (rather than being given a TokenSource).
func (p *Processor) readToken() {
	if p.token == nil {
		return
	}
	base, _ := p.cfg.BaseURL()
	ts, err := tokenSource(base, p.cfg.TokenFile)
	if err != nil {
		p.cfg.Logger.Warn("the token could not be read again; the one read before is kept", "error", err)
		return
	}
	p.token.Set(ts)
}

// recheckToken is the pause's check of a refused token: read it again,
// then GET /me. An answer other than 401 means Intercom takes the token.
func (p *Processor) recheckToken(ctx context.Context) error {
	p.readToken()
	_, err := p.client.Me(ctx)
	var ae *intercom.APIError
	if err != nil && errors.As(err, &ae) && !errors.Is(err, intercom.ErrUnauthorized) {
		return nil
	}
	return err
}

// RegionError is a workspace in another region than the API host the
// requests go to: Intercom refuses the token there.
type RegionError struct {
	Workspace string // its name and id
	Region    string // as GET /me says, e.g. "Europe"
	Want      string // its region's option value: us, eu or au
	Base      string // the API base URL in use
	Have      string // the region of Base
}

func (e *RegionError) Error() string {
	want, _ := rest.RegionURL(e.Want)
	return fmt.Sprintf("the token's workspace %s is in Intercom's %s region, but requests go to %s (region %s): use --region %s (API %s)",
		e.Workspace, e.Region, e.Base, e.Have, e.Want, want)
}

// CheckToken asks Intercom whose the token is (GET /me, few retries, not
// paused), for a start to log the admin, the workspace and its region. It
// fails with an error wrapping ErrUnauthorized when Intercom refuses the
// token, and with a *RegionError when the workspace is in another region
// than the API host (an APIBase of one's own, such as a simulator, is not
// compared). Other failures (Intercom unreachable) are returned as they
// are: a start may go on, paused. A dry run checks nothing.
func (p *Processor) CheckToken(ctx context.Context) (*intercom.Me, error) {
	if p.client == nil {
		return nil, nil
	}
	me, err := p.client.Me(ctx)
	if err != nil {
		return nil, err
	}
	base, _ := p.cfg.BaseURL()
	have, ok := rest.RegionOfURL(base)
	if !ok || me.App.Region == "" {
		return me, nil
	}
	if want, known := rest.RegionOf(me.App.Region); known && want != have {
		return me, &RegionError{Workspace: fmt.Sprintf("%q (id %s)", me.App.Name, me.App.IDCode), Region: me.App.Region,
			Want: want, Base: base, Have: have}
	}
	return me, nil
}
