package action

import (
	"errors"
	"reflect"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

func tagCo(companyKey string, untag bool, tags ...string) Action {
	a := &TagCompany{CompanyID: companyKey, Tags: tags}
	if untag {
		a.Untag = &untag
	}
	return Action{Rule: "Tag", Kind: tagCompany, Fields: a}
}

// TestTagCompany tags a company by your company_id (no lookup), one call
// per tag, and untags it with Intercom's id as well (cached, else read).
func TestTagCompany(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	exec(t, c, group("co-1", Contact{}))
	s.ResetRequests()

	if res := exec(t, c, tagCo("co-1", false, "Enterprise", "EMEA")); res.Calls != 2 {
		t.Errorf("tag: %+v", res)
	}
	exec(t, c, tagCo("co-1", true, "EMEA"))
	wantTranscript(t, s,
		`POST /tags {"name":"Enterprise","companies":[{"company_id":"co-1"}]} [200]`,
		`POST /tags {"name":"EMEA","companies":[{"company_id":"co-1"}]} [200]`,
		// An untag names Intercom's id too, as Intercom requires: the id
		// the group's upsert cached.
		`POST /tags {"name":"EMEA","companies":[{"company_id":"co-1","id":"`+companyID(1)+`","untag":true}]} [200]`,
	)
	if got := s.State().Companies[0].Tags; !reflect.DeepEqual(got, []string{"Enterprise"}) {
		t.Errorf("company tags: %v", got)
	}

	// A client that has not seen the company reads its id once.
	fresh := newClient(t, s)
	exec(t, fresh, tagCo("co-1", true, "Enterprise"))
	wantTranscript(t, s,
		`GET /companies?company_id=co-1 [200]`,
		`POST /tags {"name":"Enterprise","companies":[{"company_id":"co-1","id":"`+companyID(1)+`","untag":true}]} [200]`,
	)
	_, err := execute(fresh, tagCo("co-9", true, "Enterprise"))
	const wantUntag = `tag_company: company not found (company_id "co-9"): intercom: 404 not_found: Company Not Found (request sim-000000000007)`
	if !errors.Is(err, ErrCompanyNotFound) || err.Error() != wantUntag {
		t.Errorf("untag of an unknown company: err = %v\nwant %s", err, wantUntag)
	}
	s.ResetRequests()

	_, err = execute(c, tagCo("co-9", false, "Enterprise"))
	const want = `tag_company: company not found (company_id "co-9"): tag company with "Enterprise": intercom: 404 company_not_found: Company Not Found (request sim-000000000008)`
	if !errors.Is(err, ErrCompanyNotFound) || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}
