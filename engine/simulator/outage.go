package simulator

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Outage is a time window in which every API request gets the same
// failing answer, whatever it asks, and changes nothing: Intercom refusing
// the token (Status 401), a storm of 5xx, or Intercom down altogether
// (Drop: the connection closes without an answer). It lasts until Until
// passes, or until it is replaced (SetOutage(Outage{}) ends it).
type Outage struct {
	// Status is the answer's status, e.g. 401, 500, 502, 503.
	Status int `json:"status,omitempty"`
	// Drop closes the connection without any answer instead.
	Drop bool `json:"drop,omitempty"`
	// Until ends the outage; zero: until it is replaced.
	Until time.Time `json:"until,omitzero"`
}

func (o Outage) on(now time.Time) bool {
	return (o.Status != 0 || o.Drop) && (o.Until.IsZero() || now.Before(o.Until))
}

// SetOutage starts an outage (see Outage); the zero Outage ends one.
func (s *Server) SetOutage(o Outage) {
	s.ctl.Lock()
	s.outage = o
	s.ctl.Unlock()
}

// SetToken makes the simulator accept token from now on (as Options.Token
// does; "" accepts any): the token a test's client had is then refused,
// as Intercom refuses a revoked one.
func (s *Server) SetToken(token string) {
	s.ctl.Lock()
	s.tokenNow = token
	s.ctl.Unlock()
}

func (s *Server) token() string {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	return s.tokenNow
}

// outageAnswer answers a request during an outage, and says whether it did.
func (s *Server) outageAnswer(w http.ResponseWriter, reqID string) bool {
	s.ctl.Lock()
	o := s.outage
	s.ctl.Unlock()
	if !o.on(time.Now()) {
		return false
	}
	if o.Drop {
		dropConnection(w)
		return true
	}
	if o.Status == http.StatusUnauthorized {
		writeError(w, reqID, errUnauthorized)
		return true
	}
	code := map[int]string{http.StatusServiceUnavailable: "service_unavailable",
		http.StatusBadGateway: "bad_gateway", http.StatusGatewayTimeout: "gateway_timeout"}[o.Status]
	if code == "" {
		code = "server_error"
	}
	writeError(w, reqID, &apiError{o.Status, code, http.StatusText(o.Status)})
	return true
}

// serveOutage serves /_sim/outage: PUT {"status":502,"seconds":2} (or
// {"drop":true}; no seconds: until DELETE) starts an outage, DELETE ends
// it. It says whether the method was one of those.
func (s *Server) serveOutage(w http.ResponseWriter, r *http.Request, reqID string, body []byte) bool {
	switch r.Method {
	case http.MethodDelete:
		s.SetOutage(Outage{})
		w.WriteHeader(http.StatusNoContent)
		return true
	case http.MethodPut:
		var in struct {
			Status  int     `json:"status"`
			Drop    bool    `json:"drop"`
			Seconds float64 `json:"seconds"`
		}
		if err := json.Unmarshal(body, &in); err != nil || (in.Status == 0 && !in.Drop) || in.Status != 0 && (in.Status < 400 || in.Status > 599) || in.Seconds < 0 {
			writeError(w, reqID, errBadRequest(`want {"status": 400 to 599, "seconds": N} or {"drop": true, "seconds": N}; no seconds: until DELETE`))
			return true
		}
		o := Outage{Status: in.Status, Drop: in.Drop}
		if in.Seconds > 0 {
			o.Until = time.Now().Add(time.Duration(in.Seconds * float64(time.Second)))
		}
		s.SetOutage(o)
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

// Mangle damages the answers to requests of Method (any, if "") to Path,
// after the simulated API handled them (what they changed stays changed):
// the next Truncate answers are cut off mid-body (the connection closes
// before the Content-Length promised is sent), and the next NotJSON are a
// 200 HTML page, as a captive proxy would answer.
type Mangle struct {
	Method   string
	Path     string
	Truncate int
	NotJSON  int
}

// SetMangle replaces the damage done to the next answers (see Mangle).
func (s *Server) SetMangle(m Mangle) {
	s.ctl.Lock()
	s.mangle = m
	s.ctl.Unlock()
}

// mangled writes a damaged answer instead of status and out, if Mangle
// says so for r, and says whether it did.
func (s *Server) mangled(w http.ResponseWriter, r *http.Request, status int, out any) bool {
	s.ctl.Lock()
	m := &s.mangle
	cut, page := false, false
	if r.URL.Path == m.Path && (m.Method == "" || m.Method == r.Method) {
		switch {
		case m.Truncate > 0:
			m.Truncate--
			cut = true
		case m.NotJSON > 0:
			m.NotJSON--
			page = true
		}
	}
	s.ctl.Unlock()
	if sw, ok := w.(*statusWriter); ok && (cut || page) {
		sw.damaged = true
	}
	switch {
	case page:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "<html><body>Sign in to continue</body></html>\n")
		return true
	case cut:
		b := []byte("{}")
		if out != nil {
			b, _ = json.Marshal(out)
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)+64))
		w.WriteHeader(status)
		_, _ = w.Write(b[:len(b)/2])
		flushed := w
		if sw, ok := w.(*statusWriter); ok {
			flushed = sw.ResponseWriter
		}
		if f, ok := flushed.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler) // the connection closes short of Content-Length
	}
	return false
}
