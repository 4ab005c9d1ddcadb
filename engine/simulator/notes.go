package simulator

import (
	"net/http"
	"strconv"
	"strings"
)

// noteJSON is a note as the API renders it.
type noteJSON struct {
	Type      string    `json:"type"`
	ID        string    `json:"id"`
	CreatedAt int64     `json:"created_at"`
	Contact   refJSON   `json:"contact"`
	Author    adminJSON `json:"author"`
	Body      string    `json:"body"`
}

// noteOrder is the sequence number in a note's id.
func noteOrder(n Note) int64 {
	v, _ := strconv.ParseInt(n.ID, 10, 64)
	return v
}

// noteBody is the body Intercom stores: notes are HTML, and plain text
// becomes one paragraph ("Hello" → "<p>Hello</p>"). A body that already
// starts with a tag is kept as sent.
func noteBody(body string) string {
	if strings.HasPrefix(strings.TrimSpace(body), "<") {
		return body
	}
	return "<p>" + body + "</p>"
}

// createNote serves POST /contacts/{id}/notes {"body", "admin_id"}: it adds
// a note to the contact and answers it. admin_id (a string or an integer)
// must be the simulator's admin; without it the note is the token's admin's,
// which is the same one. A missing or blank body is refused.
func createNote(s *Server, c *call) (int, any, *apiError) {
	st := &s.st
	p, e := parseParams(c.body)
	if e != nil {
		return 0, nil, e
	}
	if e := p.only("body", "admin_id"); e != nil {
		return 0, nil, e
	}
	body, _, e := p.str("body")
	if e != nil {
		return 0, nil, e
	}
	if strings.TrimSpace(body) == "" {
		return 0, nil, errInvalid("body must not be empty")
	}
	adminID, _, e := p.idParam("admin_id")
	if e != nil {
		return 0, nil, e
	}
	rec, e := st.contact(c.segs[1])
	if e != nil {
		return 0, nil, e
	}
	admin := simAdmin()
	if adminID != "" && adminID != admin.ID {
		return 0, nil, errResourceNotFound
	}

	st.noteSeq++
	n := Note{
		ID:        strconv.FormatUint(st.noteSeq, 10),
		Body:      noteBody(body),
		AuthorID:  admin.ID,
		CreatedAt: s.now().Unix(),
	}
	nc := rec.c.clone()
	nc.Notes = append(nc.Notes, n)
	rec.c = &nc
	return http.StatusOK, noteJSON{
		Type:      "note",
		ID:        n.ID,
		CreatedAt: n.CreatedAt,
		Contact:   refJSON{Type: "contact", ID: nc.ID},
		Author:    admin,
		Body:      n.Body,
	}, nil
}
