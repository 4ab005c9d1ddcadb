package intercom

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is an Intercom API version, the Intercom-Version header, such as
// "2.16". The zero Version is DefaultVersion. What a version changes in
// the requests and answers this project uses is asked of it (OwnerIDString,
// EmailVerified, FindByExternalID, MergedAnswers410), so that call
// sequences and the client write the body each version expects.
type Version string

// The versions this project speaks: FirstVersion to LastVersion, each
// described by Intercom's OpenAPI description of it; DefaultVersion is the
// one sent when none is chosen.
const (
	FirstVersion   Version = "2.11"
	LastVersion    Version = "2.16"
	DefaultVersion Version = LastVersion
)

// ParseVersion accepts a version from FirstVersion to LastVersion.
func ParseVersion(s string) (Version, error) {
	minor := minorOf(s)
	if minor < 0 {
		return "", fmt.Errorf("%q: want a version from %s to %s (default %s)", s, FirstVersion, LastVersion, DefaultVersion)
	}
	if minor < FirstVersion.minor() || minor > LastVersion.minor() {
		return "", fmt.Errorf("%s is not supported: want a version from %s to %s (default %s)", s, FirstVersion, LastVersion, DefaultVersion)
	}
	return Version(s), nil
}

// minorOf is the minor number of a version 2.x as Intercom writes it
// ("2.16" → 16; no sign, no leading zero, at most 2 digits), else -1.
func minorOf(s string) int {
	digits, ok := strings.CutPrefix(s, "2.")
	n, err := strconv.Atoi(digits)
	if !ok || err != nil || n < 0 || n > 99 || strconv.Itoa(n) != digits {
		return -1
	}
	return n
}

// String returns the version as the header sends it.
func (v Version) String() string {
	if v == "" {
		return string(DefaultVersion)
	}
	return string(v)
}

// minor is the version's minor number (2.16 → 16); -1 when it is not a
// 2.x version.
func (v Version) minor() int { return minorOf(v.String()) }

// OwnerIDString says whether a contact's owner_id is a JSON string (2.16
// on) rather than an integer.
func (v Version) OwnerIDString() bool { return v.minor() >= 16 }

// EmailVerified says whether a contact body may carry email_verified
// (2.16 on).
func (v Version) EmailVerified() bool { return v.minor() >= 16 }

// FindByExternalID says whether GET /contacts/find_by_external_id/{id}
// exists (2.13 on): it finds a user without the lag of search.
func (v Version) FindByExternalID() bool { return v.minor() >= 13 }

// MergedAnswers410 says whether a merged contact's old id answers 410
// contact_merged with a Link to the contact it was merged into (2.16 on),
// rather than 404.
func (v Version) MergedAnswers410() bool { return v.minor() >= 16 }
