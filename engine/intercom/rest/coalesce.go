package rest

import (
	"context"
	"sync"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// upserts coalesces concurrent upserts of one company. POST /companies
// creates or updates by company_id, each field the last value sent: so
// while one upsert of a company is in flight, the upserts of it that come
// meanwhile merge into one body (later values win per field, custom
// attributes per key), sent once the first has answered. N group calls of
// one company at the same time — a backfill sends one per member — cost at
// most two calls (one when they are all the same), and the company ends as
// if all had been sent in the order they came.
type upserts struct {
	mu        sync.Mutex
	companies map[string]*upsertState

	// For tests (export_test.go), set before the first upsert: off sends
	// every upsert on its own; joined, if set, is called each time an
	// upsert joins the round waiting for the one in flight.
	off    bool
	joined func(companyID string)
}

// upsertState is one company's upsert in flight and the round that waits
// for it.
type upsertState struct {
	flying *round // in flight; nil when none
	next   *round // collecting the upserts that came meanwhile
}

// round is one POST /companies and who waits for its answer.
type round struct {
	body intercom.CompanyBody
	done chan struct{} // closed when co and err are set
	co   *intercom.Company
	err  error
}

// upsert sends body through send, merged with the upserts of the same
// company that come while another is in flight.
func (u *upserts) upsert(ctx context.Context, body intercom.CompanyBody,
	send func(context.Context, intercom.CompanyBody) (*intercom.Company, error)) (*intercom.Company, error) {
	if u.off {
		return send(ctx, body)
	}
	u.mu.Lock()
	if u.companies == nil {
		u.companies = map[string]*upsertState{}
	}
	s := u.companies[body.CompanyID]
	if s == nil {
		s = &upsertState{}
		u.companies[body.CompanyID] = s
	}
	var r *round
	var lead bool
	switch {
	case s.flying == nil: // nothing in flight: go now
		r, lead = &round{body: body, done: make(chan struct{})}, true
		s.flying = r
	case s.next == nil: // the first to wait: it will send the merged round
		r, lead = &round{body: body, done: make(chan struct{})}, true
		s.next = r
	default: // merge into the waiting round
		r = s.next
		mergeCompany(&r.body, body)
	}
	prev := s.flying
	u.mu.Unlock()
	if prev != r && u.joined != nil {
		u.joined(body.CompanyID)
	}

	if !lead {
		select {
		case <-r.done:
			return r.co, r.err
		case <-ctx.Done():
			return nil, ctx.Err() // the round still carries this body: the outcome is unknown
		}
	}
	if prev != r {
		<-prev.done // it always ends: its request is bounded by its context and the client's timeout
	}
	if prev != r && prev.err == nil && prev.body.Digest() == r.body.Digest() {
		r.co = prev.co // the company is already so: nothing to send
	} else {
		r.co, r.err = send(ctx, r.body)
	}

	u.mu.Lock()
	s.flying = nil
	if s.next != nil { // hand over: the waiting round's leader is waiting for r.done
		s.flying, s.next = s.next, nil
	} else if s.flying == nil {
		delete(u.companies, body.CompanyID)
	}
	u.mu.Unlock()
	close(r.done)
	return r.co, r.err
}

// mergeCompany sets in dst every field src sets: later values win, custom
// attributes key by key.
func mergeCompany(dst *intercom.CompanyBody, src intercom.CompanyBody) {
	set := func(d *string, s string) {
		if s != "" {
			*d = s
		}
	}
	set(&dst.Name, src.Name)
	set(&dst.Plan, src.Plan)
	set(&dst.Website, src.Website)
	set(&dst.Industry, src.Industry)
	if src.MonthlySpend != "" {
		dst.MonthlySpend = src.MonthlySpend
	}
	if src.RemoteCreatedAt != nil {
		dst.RemoteCreatedAt = src.RemoteCreatedAt
	}
	if src.Size != nil {
		dst.Size = src.Size
	}
	if len(src.CustomAttributes) > 0 {
		merged := make(intercom.Object, len(dst.CustomAttributes), len(dst.CustomAttributes)+len(src.CustomAttributes))
		copy(merged, dst.CustomAttributes)
		for _, m := range src.CustomAttributes {
			merged.Set(m.Key, m.Raw)
		}
		dst.CustomAttributes = merged
	}
}
