package simulator

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// The Intercom-Version values the simulator speaks: those the project
// speaks. A request without the header gets DefaultVersion, as a workspace
// configured for it would; any other value is refused with 400
// intercom_version_invalid.
const (
	// MinVersion is the oldest version the simulator speaks.
	MinVersion = string(intercom.FirstVersion)
	// DefaultVersion is the newest, and the one a request without an
	// Intercom-Version header gets.
	DefaultVersion = string(intercom.LastVersion)
)

// apiVersion is an Intercom API version 2.x, by its minor number.
type apiVersion int

// The versions whose changes the simulator answers (see api216.go):
// find_by_external_id from 2.13; owner_id a string, email_verified and
// 410 contact_merged from 2.16.
const (
	version213 apiVersion = 13
	version216 apiVersion = 16
)

// requestVersion reads a request's Intercom-Version header: a version
// intercom.ParseVersion accepts.
func requestVersion(r *http.Request) (apiVersion, *apiError) {
	v := strings.TrimSpace(r.Header.Get("Intercom-Version"))
	if v == "" {
		v = DefaultVersion
	}
	if _, err := intercom.ParseVersion(v); err != nil {
		return 0, &apiError{http.StatusBadRequest, "intercom_version_invalid",
			"Intercom-Version " + strconv.Quote(v) + " is not supported: the simulator speaks " + MinVersion + " to " + DefaultVersion}
	}
	minor, _ := strconv.Atoi(strings.TrimPrefix(v, "2."))
	return apiVersion(minor), nil
}

// ownerID renders a contact's owner_id for version v: null when unset, else
// the admin's id, a string from 2.16 and an integer before.
func (v apiVersion) ownerID(id int64) any {
	switch {
	case id == 0:
		return nil
	case v >= version216:
		return strconv.FormatInt(id, 10)
	}
	return id
}
