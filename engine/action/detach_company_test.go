package action

import (
	"errors"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

func detach(companyKey string, who Contact) Action {
	return Action{Rule: "Detach", Kind: detachCompany, Fields: &DetachCompany{
		CompanyID: companyKey, ContactRef: ContactRef{ContactID: who.ID, ExternalID: who.ExternalID, Email: who.Email},
	}}
}

// TestDetachCompany: with the ids cached, one call; with a cold cache the
// company is found by company_id and the contact by search; detaching a
// contact that is not attached succeeds.
func TestDetachCompany(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	exec(t, c, identifyUser("u-1", "ann@example.com"))
	exec(t, c, group("co-1", Contact{ExternalID: "u-1"}))
	s.ResetRequests()

	res := exec(t, c, detach("co-1", Contact{ExternalID: "u-1"}))
	if res.Calls != 1 || res.ContactID != contactID(1) || res.CompanyID != companyID(1) {
		t.Errorf("cached detach: %+v", res)
	}
	wantTranscript(t, s, `DELETE /contacts/`+contactID(1)+`/companies/`+companyID(1)+` [200]`)
	if st := s.State(); len(st.Contacts[0].CompanyIDs) != 0 || st.Companies[0].UserCount != 0 || len(st.Companies) != 1 {
		t.Errorf("after detach: %+v", st)
	}

	res = exec(t, newClient(t, s), detach("co-1", Contact{ExternalID: "u-1"}))
	if res.Calls != 3 {
		t.Errorf("cold detach: %+v", res)
	}
	wantTranscript(t, s,
		`GET /companies?company_id=co-1 [200]`,
		`GET /contacts/find_by_external_id/u-1 [200]`,
		`DELETE /contacts/`+contactID(1)+`/companies/`+companyID(1)+` [404]`,
	)
}

// TestDetachCompanyNotFound: an unknown company is an error that names it
// (not a silent success, and not a contact to wait for); an unknown
// contact is ErrContactNotFound, which a dispatcher waits on.
func TestDetachCompanyNotFound(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	exec(t, c, identifyUser("u-1", ""))
	s.ResetRequests()

	_, err := execute(c, detach("nope", Contact{ExternalID: "u-1"}))
	const want = `detach_company: company not found (company_id "nope"): intercom: 404 not_found: Company Not Found (request sim-000000000002)`
	if !errors.Is(err, ErrCompanyNotFound) || errors.Is(err, ErrContactNotFound) || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	wantTranscript(t, s, `GET /companies?company_id=nope [404]`)

	exec(t, c, group("co-1", Contact{}))
	_, err = execute(newClient(t, s), detach("co-1", Contact{ExternalID: "u-9"}))
	if !errors.Is(err, ErrContactNotFound) || err.Error() != `detach_company: contact not found (external_id "u-9")` {
		t.Errorf("err = %v", err)
	}
}

// TestDetachCompanyStaleCompany: a cached company deleted meanwhile is
// looked up again, and then it is an unknown company.
func TestDetachCompanyStaleCompany(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	exec(t, c, identifyUser("u-1", ""))
	exec(t, c, group("co-1", Contact{ExternalID: "u-1"}))
	s.Reset() // the workspace is emptied; the client's cache still knows co-1 and u-1
	exec(t, newClient(t, s), identifyUser("u-1", ""))
	s.ResetRequests()

	_, err := execute(c, detach("co-1", Contact{ExternalID: "u-1"}))
	if !errors.Is(err, ErrCompanyNotFound) {
		t.Errorf("err = %v, want ErrCompanyNotFound", err)
	}
	wantTranscript(t, s,
		`DELETE /contacts/`+contactID(1)+`/companies/`+companyID(1)+` [404]`,
		`GET /companies?company_id=co-1 [404]`,
	)
}
