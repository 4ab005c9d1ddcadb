package rest

import (
	"context"
	"net/http"
	"sync"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// upserts coalesces concurrent upserts of one company. POST /companies
// creates or updates by company_id, each field the last value sent: so
// while one upsert of a company is in flight (its wait for the rate
// limiter included), the upserts of it that come meanwhile merge into one
// body (later values win per field, custom attributes per key), sent once
// the first has answered. N upserts of one company at the same time cost
// at most two calls (one when they are all the same), and the company ends
// as if all had been sent in the order they came. Should Intercom refuse
// the merged body, each of its upserts is sent again on its own, so that
// only the one it refuses fails.
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
	body  intercom.CompanyBody
	parts []intercom.CompanyBody // the upserts merged into body, in the order they came
	done  chan struct{}          // closed when co and err (or each) are set
	co    *intercom.Company
	err   error
	each  []outcome // set when Intercom refused the merged body: each part's own
	cut   bool      // the leader's context ended while it sent: not the others'
}

// outcome is the answer to one upsert.
type outcome struct {
	co  *intercom.Company
	err error
}

func newRound(body intercom.CompanyBody) *round {
	return &round{body: body, parts: []intercom.CompanyBody{body}, done: make(chan struct{})}
}

// result is the answer for the i-th upsert merged into r.
func (r *round) result(i int) (*intercom.Company, error) {
	if r.each != nil {
		return r.each[i].co, r.each[i].err
	}
	return r.co, r.err
}

// upsert sends body through send, merged with the upserts of the same
// company that come while another is in flight. The callers' contexts may
// differ: should the one that sends a merged round be cancelled, the
// others send their upserts again.
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
	part := 0 // this upsert's index in r.parts
	switch {
	case s.flying == nil: // nothing in flight: go now
		r, lead = newRound(body), true
		s.flying = r
	case s.next == nil: // the first to wait: it will send the merged round
		r, lead = newRound(body), true
		s.next = r
	default: // merge into the waiting round
		r = s.next
		part = len(r.parts)
		r.parts = append(r.parts, body)
		r.body.Merge(body)
	}
	prev := s.flying
	u.mu.Unlock()
	if prev != r && u.joined != nil {
		u.joined(body.CompanyID)
	}

	if !lead {
		select {
		case <-r.done:
			if _, err := r.result(part); err != nil && r.cut && ctx.Err() == nil {
				return u.upsert(ctx, body, send) // the leader was cancelled, not this caller: send it again
			}
			return r.result(part)
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
		if len(r.parts) > 1 && refused(r.err) {
			// Intercom refuses a body whole, for one bad value (a custom
			// attribute the workspace lacks): send each upsert on its own,
			// in order, so that only the one it refuses fails, as without
			// coalescing.
			r.each = make([]outcome, len(r.parts))
			for i, b := range r.parts {
				r.each[i].co, r.each[i].err = send(ctx, b)
			}
		}
		r.cut = ctx.Err() != nil
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
	return r.result(0)
}

// refused says whether Intercom refused a request's body itself (400,
// 422): another body may pass.
func refused(err error) bool {
	s := intercom.StatusOf(err)
	return s == http.StatusBadRequest || s == http.StatusUnprocessableEntity
}
