package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Transcript lists the requests received, in order, one line each:
// "METHOD /path body [status]", the body re-encoded with sorted keys (see
// CanonicalJSON) and left out when empty.
func (s *Server) Transcript() []string {
	var out []string
	for _, r := range s.Requests() {
		line := r.Method + " " + r.Path
		if r.Query != "" {
			line += "?" + r.Query
		}
		if b, err := CanonicalJSON(r.Body); err != nil || b != "" {
			if err != nil {
				b = string(r.Body)
			}
			line += " " + b
		}
		out = append(out, fmt.Sprintf("%s [%d]", line, r.Status))
	}
	return out
}

// ExpectTranscript compares the requests received since the last reset
// with want, then forgets them. Each want line is "METHOD /path [body]
// [status]" as Transcript writes it, but its body may be any JSON text: it
// is compared by value. The error shows both transcripts.
func (s *Server) ExpectTranscript(want ...string) error {
	canon := make([]string, len(want))
	for i, w := range want {
		method, rest, _ := strings.Cut(w, " ")
		path, rest, _ := strings.Cut(rest, " ")
		status := rest[strings.LastIndex(rest, " ")+1:]
		line := method + " " + path
		if body := strings.TrimSpace(strings.TrimSuffix(rest, status)); body != "" {
			b, err := CanonicalJSON([]byte(body))
			if err != nil {
				return fmt.Errorf("want line %d: %v", i+1, err)
			}
			line += " " + b
		}
		canon[i] = line + " " + status
	}
	got := s.Transcript()
	s.ResetRequests()
	if strings.Join(got, "\n") != strings.Join(canon, "\n") {
		return fmt.Errorf("requests:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(canon, "\n      "))
	}
	return nil
}

// CanonicalJSON re-encodes a JSON text with object keys sorted and numbers
// as written; "" for an empty text.
func CanonicalJSON(raw []byte) (string, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return "", nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return "", fmt.Errorf("bad JSON %s: %w", raw, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
