package simulator

import (
	"net/http"
	"slices"
	"strings"
)

// call is one routed API request.
type call struct {
	r    *http.Request
	body []byte
	segs []string   // path segments
	ver  apiVersion // the request's Intercom-Version
	// header holds headers the handler adds to its answer (the Link of a
	// 410 contact_merged).
	header http.Header
}

// handler serves one endpoint with the workspace lock held. It returns the
// status and the body to encode (nil: no body), or an error answer.
type handler func(s *Server, c *call) (int, any, *apiError)

func splitPath(p string) []string {
	return strings.Split(strings.TrimPrefix(p, "/"), "/")
}

// route finds the handler for method and path. When the path exists but the
// method does not, it returns a nil handler and the Allow header value; when
// the path does not exist, nil and "".
func route(method, path string) (handler, string) {
	segs := splitPath(path)
	if slices.Contains(segs, "") {
		return nil, ""
	}
	var m map[string]handler
	n := len(segs)
	switch {
	case n == 1 && segs[0] == "me":
		m = map[string]handler{http.MethodGet: getMe}
	case n == 1 && segs[0] == "admins":
		m = map[string]handler{http.MethodGet: listAdmins}
	case n == 1 && segs[0] == "contacts":
		m = map[string]handler{http.MethodPost: createContact}
	case n == 2 && segs[0] == "contacts" && segs[1] == "search":
		m = map[string]handler{http.MethodPost: searchContacts}
	case n == 2 && segs[0] == "contacts" && segs[1] == "merge":
		m = map[string]handler{http.MethodPost: mergeContacts}
	case n >= 3 && segs[0] == "contacts" && segs[1] == "find_by_external_id": // an external_id may hold "/"
		m = map[string]handler{http.MethodGet: findByExternalID}
	case n == 3 && segs[0] == "contacts" && (segs[2] == "archive" || segs[2] == "unarchive"):
		m = map[string]handler{http.MethodPost: archiveContact}
	case n == 2 && segs[0] == "contacts":
		m = map[string]handler{
			http.MethodGet:    getContact,
			http.MethodPut:    updateContact,
			http.MethodDelete: deleteContact,
		}
	case n == 3 && segs[0] == "contacts" && segs[2] == "companies":
		m = map[string]handler{
			http.MethodGet:  listContactCompanies,
			http.MethodPost: attachCompany,
		}
	case n == 4 && segs[0] == "contacts" && segs[2] == "companies":
		m = map[string]handler{http.MethodDelete: detachCompany}
	case n == 3 && segs[0] == "contacts" && segs[2] == "tags":
		m = map[string]handler{http.MethodPost: tagOneContact}
	case n == 4 && segs[0] == "contacts" && segs[2] == "tags":
		m = map[string]handler{http.MethodDelete: untagOneContact}
	case n == 3 && segs[0] == "contacts" && segs[2] == "notes":
		m = map[string]handler{http.MethodPost: createNote}
	case n == 1 && segs[0] == "companies":
		m = map[string]handler{
			http.MethodGet:  getCompanies,
			http.MethodPost: upsertCompany,
		}
	case n == 2 && segs[0] == "companies":
		m = map[string]handler{http.MethodGet: getCompany}
	case n == 1 && segs[0] == "events":
		m = map[string]handler{http.MethodPost: createEvent}
	case n == 1 && segs[0] == "data_attributes":
		m = map[string]handler{
			http.MethodGet:  listDataAttributes,
			http.MethodPost: createDataAttribute,
		}
	case n == 1 && segs[0] == "tags":
		m = map[string]handler{
			http.MethodGet:  listTags,
			http.MethodPost: postTags,
		}
	default:
		return nil, ""
	}
	if h := m[method]; h != nil {
		return h, ""
	}
	return nil, strings.Join(sortedKeys(m), ", ")
}

type appJSON struct {
	Type   string `json:"type"`
	IDCode string `json:"id_code"`
	Name   string `json:"name"`
	Region string `json:"region"`
}

// adminJSON is an admin as the API renders it: GET /me (with the app),
// GET /admins, and a note's author.
type adminJSON struct {
	Type             string   `json:"type"`
	ID               string   `json:"id"`
	Email            string   `json:"email"`
	Name             string   `json:"name"`
	AwayModeEnabled  bool     `json:"away_mode_enabled"`
	AwayModeReassign bool     `json:"away_mode_reassign"`
	HasInboxSeat     bool     `json:"has_inbox_seat"`
	TeamIDs          []int64  `json:"team_ids"`
	App              *appJSON `json:"app,omitempty"`
}

func simAdmin() adminJSON {
	return adminJSON{Type: "admin", ID: "1", Email: "sim@example.com", Name: "Simulator", HasInboxSeat: true, TeamIDs: []int64{}}
}

// getMe serves GET /me: the admin and workspace the token belongs to.
func getMe(s *Server, _ *call) (int, any, *apiError) {
	a := simAdmin()
	region := s.opts.Region
	if region == "" {
		region = "US"
	}
	a.App = &appJSON{Type: "app", IDCode: WorkspaceID, Name: "Intercom Simulator", Region: region}
	return http.StatusOK, a, nil
}

// listAdmins serves GET /admins.
func listAdmins(*Server, *call) (int, any, *apiError) {
	return http.StatusOK, struct {
		Type   string      `json:"type"`
		Admins []adminJSON `json:"admins"`
	}{"admin.list", []adminJSON{simAdmin()}}, nil
}
