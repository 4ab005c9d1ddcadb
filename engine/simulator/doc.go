// Package simulator is an in-memory simulator of the parts of the Intercom
// REST API this project uses, in the style of net/http/httptest.
//
// NewServer starts a simulator on a loopback port; NewHandler returns one that
// is not started, for use as an http.Handler. The simulator keeps contacts,
// companies and data events in memory and answers with objects and error
// bodies shaped like Intercom's. It can be made hostile on purpose: bearer
// token checks, fixed-window rate limiting with X-RateLimit-* headers, a
// search index that lags writes (Options.SearchLag), and injected faults
// (5xx answers, dropped connections, slow answers, bursts of 429s) that never
// change state — and one that does: answers lost after the request was
// handled (Faults.LostAnswerRate), as when a connection drops after Intercom
// did the work. Data events are de-duplicated as Intercom documents, by
// contact, event name and created_at (not metadata): a client that resends
// an event after a lost answer stores it once, and a second event of one
// name for one contact in the same second is not stored. The request log
// (Requests, GET /_sim/requests) redacts the credentials of the
// Authorization header; Options.Observe sees each request with its answer.
//
// Versions: the simulator speaks Intercom-Version 2.11 to 2.16
// (MinVersion, DefaultVersion), and 2.16 to a request without the header;
// another value is refused, 400 intercom_version_invalid. Its answers keep
// to Intercom's OpenAPI description of 2.16 (the contract check of
// engine/simulator/contract holds every test's exchanges to it): owner_id
// is a string from 2.16 and an integer before, in bodies and answers alike.
//
// Endpoints:
//
//	GET    /me                              the admin and workspace of the token
//	GET    /admins                          admin.list with that one admin
//	POST   /contacts                        create a user or lead
//	GET    /contacts/{id}                   retrieve a contact
//	PUT    /contacts/{id}                   partial update
//	DELETE /contacts/{id}                   delete a contact (and its events)
//	POST   /contacts/search                 search (lags writes by SearchLag)
//	POST   /contacts/merge                  merge a lead into a user
//	GET    /contacts/{id}/companies         companies attached to a contact
//	POST   /contacts/{id}/companies         attach a company {"id": ...}
//	DELETE /contacts/{id}/companies/{cid}   detach a company
//	POST   /contacts/{id}/tags              tag a contact {"id": tag id}
//	DELETE /contacts/{id}/tags/{tid}        untag a contact
//	POST   /contacts/{id}/notes             add a note to a contact
//	POST   /companies                       create or update by company_id
//	GET    /companies?company_id=X          retrieve by company_id (no query: list all)
//	GET    /companies/{id}                  retrieve by Intercom id
//	POST   /events                          record a data event (202, empty body; a duplicate is ignored)
//	GET    /data_attributes?model=M         standard and custom attributes (M: contact, company)
//	POST   /data_attributes                 create a custom attribute
//	GET    /tags                            list the tags
//	POST   /tags                            create a tag; tag or untag contacts or companies
//	GET    /_sim/state                      State as JSON (no auth, no faults, not recorded)
//	GET    /_sim/requests                   Requests() as JSON (no auth, no faults, not recorded)
//	POST   /_sim/reset                      Reset (no auth, no faults, not recorded)
//	PUT    /_sim/outage                     SetOutage: {"status":401,"seconds":5} or {"drop":true}; no seconds: until DELETE
//	DELETE /_sim/outage                     SetOutage(Outage{}): the outage ends
//
// The simulator is deliberately stricter than Intercom in places so that
// client bugs surface: unknown body parameters are rejected with 400
// parameter_invalid, and numeric fields must be JSON numbers of the right kind.
// Custom attribute names are checked only when Options.DataAttributes is set
// (then a contact or company carrying an attribute the workspace lacks is
// refused whole, 400 "Custom attribute 'x' does not exist", as Intercom
// does, and POST /data_attributes stops at Intercom's 250 custom
// attributes); otherwise any name is accepted, whatever /data_attributes
// lists. Attribute values are not checked against the data_type of their
// attribute.
package simulator
