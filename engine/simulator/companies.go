package simulator

import (
	"net/http"
	"slices"
	"strconv"
)

// companyJSON is a company as the API renders it.
type companyJSON struct {
	Type             string         `json:"type"`
	ID               string         `json:"id"`
	AppID            string         `json:"app_id"`
	CompanyID        string         `json:"company_id"`
	Name             string         `json:"name"` // "" when unset: never null
	Plan             *planJSON      `json:"plan,omitempty"`
	Size             int64          `json:"size"`
	Website          string         `json:"website,omitempty"`  // left out when unset
	Industry         string         `json:"industry,omitempty"` // left out when unset
	MonthlySpend     int64          `json:"monthly_spend"`
	RemoteCreatedAt  int64          `json:"remote_created_at,omitempty"` // left out when unset
	CreatedAt        int64          `json:"created_at"`
	UpdatedAt        int64          `json:"updated_at"`
	SessionCount     int            `json:"session_count"` // always 0: the simulator has no sessions
	UserCount        int            `json:"user_count"`
	CustomAttributes map[string]any `json:"custom_attributes"`
}

type planJSON struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

type pagesJSON struct {
	Type       string `json:"type"`
	Page       int    `json:"page"`
	PerPage    int    `json:"per_page"`
	TotalPages int    `json:"total_pages"`
}

type companyListJSON struct {
	Type       string        `json:"type"`
	Data       []companyJSON `json:"data"`
	TotalCount int           `json:"total_count"`
	Pages      pagesJSON     `json:"pages"`
}

func (st *store) renderCompany(co *Company) companyJSON {
	ca := cloneMap(co.CustomAttributes)
	if ca == nil {
		ca = map[string]any{}
	}
	out := companyJSON{
		Type:             "company",
		ID:               co.ID,
		AppID:            WorkspaceID,
		CompanyID:        co.CompanyID,
		Name:             co.Name,
		Size:             co.Size,
		Website:          co.Website,
		Industry:         co.Industry,
		MonthlySpend:     co.MonthlySpend,
		RemoteCreatedAt:  co.RemoteCreatedAt,
		CreatedAt:        co.CreatedAt,
		UpdatedAt:        co.UpdatedAt,
		UserCount:        st.userCount(co.ID),
		CustomAttributes: ca,
	}
	if co.Plan != "" {
		out.Plan = &planJSON{Type: "plan", Name: co.Plan}
	}
	return out
}

// companyParams are the body parameters of POST /companies.
var companyParams = []string{
	"company_id", "name", "plan", "size", "website", "industry",
	"monthly_spend", "remote_created_at", "custom_attributes",
}

// upsertCompany serves POST /companies: create, or update the company with
// the same company_id. Only the parameters present change; monthly_spend is
// truncated to an integer.
func upsertCompany(s *Server, c *call) (int, any, *apiError) {
	st := &s.st
	p, e := parseParams(c.body)
	if e != nil {
		return 0, nil, e
	}
	if e := p.only(companyParams...); e != nil {
		return 0, nil, e
	}
	key, _, e := p.str("company_id")
	if e != nil {
		return 0, nil, e
	}
	if key == "" {
		return 0, nil, errMissing("company_id not specified")
	}
	var nc Company
	existing := st.companies[st.companyKeys[key]]
	if existing != nil {
		nc = existing.clone()
	} else {
		nc = Company{CompanyID: key}
	}
	changed := false
	for _, f := range []struct {
		key string
		dst *string
	}{{"name", &nc.Name}, {"plan", &nc.Plan}, {"website", &nc.Website}, {"industry", &nc.Industry}} {
		v, ok, e := p.str(f.key)
		if e != nil {
			return 0, nil, e
		}
		if ok && v != *f.dst {
			*f.dst, changed = v, true
		}
	}
	for _, f := range []struct {
		key string
		dst *int64
	}{{"size", &nc.Size}, {"remote_created_at", &nc.RemoteCreatedAt}} {
		v, ok, e := p.integer(f.key)
		if e != nil {
			return 0, nil, e
		}
		if ok && v != *f.dst {
			*f.dst, changed = v, true
		}
	}
	if v, ok, e := p.number("monthly_spend"); e != nil {
		return 0, nil, e
	} else if ok && int64(v) != nc.MonthlySpend {
		nc.MonthlySpend, changed = int64(v), true
	}
	attrs, _, e := p.flat("custom_attributes")
	if e == nil {
		e = s.checkAttributes("company", attrs)
	}
	if e != nil {
		return 0, nil, e
	}
	if mergeAttributes(&nc.CustomAttributes, attrs) {
		changed = true
	}

	now := s.now().Unix()
	switch {
	case existing == nil:
		st.companySeq++
		nc.ID = makeID(companyIDPrefix, st.companySeq)
		nc.CreatedAt, nc.UpdatedAt = now, now
		st.companyKeys[key] = nc.ID
		st.companies[nc.ID] = &nc
	case changed:
		nc.UpdatedAt = now
		st.companies[nc.ID] = &nc
	}
	return http.StatusOK, st.renderCompany(st.companies[nc.ID]), nil
}

// getCompanies serves GET /companies: with ?company_id=X the company with
// that company_id, else every company, paged with page (default 1) and
// per_page (default 15, at most 60).
func getCompanies(s *Server, c *call) (int, any, *apiError) {
	st := &s.st
	q := c.r.URL.Query()
	if q.Has("company_id") {
		co, ok := st.companies[st.companyKeys[q.Get("company_id")]]
		if !ok {
			return 0, nil, errCompanyNotFound
		}
		return http.StatusOK, st.renderCompany(co), nil
	}
	page, perPage := 1, 15
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, nil, errInvalid("page must be a positive integer")
		}
		page = n
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 60 {
			return 0, nil, errInvalid("per_page must be an integer between 1 and 60")
		}
		perPage = n
	}
	all := make([]string, 0, len(st.companies))
	for id := range st.companies {
		all = append(all, id)
	}
	slices.Sort(all) // creation order: ids are fixed-width counters
	data := []companyJSON{}
	for i := (page - 1) * perPage; i < len(all) && i < page*perPage; i++ {
		data = append(data, st.renderCompany(st.companies[all[i]]))
	}
	return http.StatusOK, companyListJSON{
		Type:       "list",
		Data:       data,
		TotalCount: len(all),
		Pages:      pagesJSON{Type: "pages", Page: page, PerPage: perPage, TotalPages: (len(all) + perPage - 1) / perPage},
	}, nil
}

// getCompany serves GET /companies/{id}.
func getCompany(s *Server, c *call) (int, any, *apiError) {
	co, ok := s.st.companies[c.segs[1]]
	if !ok {
		return 0, nil, errCompanyNotFound
	}
	return http.StatusOK, s.st.renderCompany(co), nil
}
