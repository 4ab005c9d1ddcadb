// Package playground serves a web page for trying rules: a rule editor whose
// errors and warnings are marked at their line and column as you type, an
// event editor
// with sample events, the planned actions, a run against a fresh Intercom
// simulator (the exact HTTP transcript and the simulator's state), and the
// golden case to save. The page is embedded and loads nothing from the
// internet. It does I/O: it is an HTTP handler, and a run starts a
// simulator on loopback.
package playground

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/tools/txtar"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/internal/planner"
	"github.com/intercom-actions/intercom-actions/engine/internal/ruletest"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
	"github.com/intercom-actions/intercom-actions/rules"
)

//go:embed page.html
var page []byte

// RulesFile is the name the edited rules have in errors and golden cases.
const RulesFile = "rules.yaml"

// maxRequest bounds a request body: rules and events to try, not a backfill.
const maxRequest = 1 << 20

// Handler serves the page at / and its API under /api/.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
		w.Write(page)
	})
	mux.HandleFunc("GET /api/defaults", serveDefaults)
	mux.HandleFunc("POST /api/plan", servePlan)
	mux.HandleFunc("POST /api/run", serveRun)
	mux.HandleFunc("POST /api/golden", serveGolden)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusForbidden, apiError{"a cross-origin request: the playground takes requests from its own page only"})
	}))
	return sameHost(cop.Handler(mux))
}

// sameHost refuses a request whose Host is not the address it came to
// (127.0.0.1:8090, or localhost:8090 on loopback): a page of another
// site whose name was made to point at 127.0.0.1 (DNS rebinding) would
// otherwise be same-origin with the playground, and could drive it.
func sameHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if local != nil && !hostIs(r.Host, local) {
			writeJSON(w, http.StatusForbidden, apiError{fmt.Sprintf("Host %q is not this playground's address: open http://%s/", r.Host, local)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostIs says whether host (a Host header) names the address local.
func hostIs(host string, local net.Addr) bool {
	if host == local.String() {
		return true
	}
	tcp, ok := local.(*net.TCPAddr)
	if !ok {
		return false
	}
	h, port, err := net.SplitHostPort(host)
	if err != nil || port != strconv.Itoa(tcp.Port) {
		return false
	}
	if ip := net.ParseIP(h); ip != nil {
		return ip.Equal(tcp.IP)
	}
	return strings.EqualFold(h, "localhost") && tcp.IP.IsLoopback()
}

// Input is what the page sends: the rules being edited and the events.
type Input struct {
	Rules  string `json:"rules"`
	Events string `json:"events"`
	Name   string `json:"name,omitempty"` // golden: what the case shows (its comment)
}

// Problem is one rule error or warning, where it is and what it says.
type Problem struct {
	Line    int    `json:"line"`   // 1-based; 0 when unknown
	Column  int    `json:"column"` // 1-based; 0 when unknown
	Rule    string `json:"rule,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Text    string `json:"text"` // the whole error or warning, as `check` prints it
}

// Step is one line's outcome in a plan: its actions (as `plan` prints
// them), an error, or no rule matched.
type Step struct {
	Line    int               `json:"line"`
	Actions []json.RawMessage `json:"actions,omitempty"`
	Errors  []string          `json:"errors,omitempty"`
	Skipped bool              `json:"skipped,omitempty"`
}

// PlanAnswer is the answer of POST /api/plan. Problems (errors) stop the
// plan; Warnings (engine.Engine.Warnings, e.g. a metadata mapping that can
// give Intercom more than its 10 keys) do not: the steps come with them.
type PlanAnswer struct {
	Problems []Problem `json:"problems"`
	Warnings []Problem `json:"warnings"`
	Steps    []Step    `json:"steps"`
	Summary  string    `json:"summary,omitempty"`
}

// RunAnswer is the answer of POST /api/run; Problems and Warnings are as
// in PlanAnswer.
type RunAnswer struct {
	Problems   []Problem           `json:"problems"`
	Warnings   []Problem           `json:"warnings"`
	Transcript string              `json:"transcript,omitempty"` // the want-http form
	Requests   []simulator.Request `json:"requests,omitempty"`
	State      *simulator.State    `json:"state,omitempty"`
}

// apiError is the JSON body of a refused request.
type apiError struct {
	Error string `json:"error"`
}

func serveDefaults(w http.ResponseWriter, _ *http.Request) {
	var src []byte
	for _, s := range rules.Defaults() {
		if s.Name == "segment.yaml" {
			src = s.Data
		}
	}
	if src == nil {
		writeJSON(w, http.StatusInternalServerError, apiError{"no embedded segment.yaml"})
		return
	}
	w.Header().Set("Content-Type", "text/yaml; charset=utf-8")
	w.Write(src)
}

func servePlan(w http.ResponseWriter, r *http.Request) {
	in, ok := readInput(w, r)
	if !ok {
		return
	}
	eng, loaded, err := compile(in.Rules)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
		return
	}
	ans := PlanAnswer{Problems: loaded.problems, Warnings: loaded.warnings, Steps: []Step{}}
	if eng != nil {
		sum, err := planner.Run(eng, strings.NewReader(in.Events), func(res *planner.Result) error {
			st := Step{Line: res.Line, Errors: res.Messages(), Skipped: res.Skipped()}
			for _, line := range bytes.Split(bytes.TrimSuffix(planner.AppendJSON(nil, res), []byte("\n")), []byte("\n")) {
				if len(line) > 0 {
					st.Actions = append(st.Actions, json.RawMessage(line))
				}
			}
			ans.Steps = append(ans.Steps, st)
			return nil
		})
		if err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{"events: " + err.Error()})
			return
		}
		ans.Summary = sum.String()
	}
	writeJSON(w, http.StatusOK, ans)
}

func serveRun(w http.ResponseWriter, r *http.Request) {
	in, ok := readInput(w, r)
	if !ok {
		return
	}
	_, loaded, err := compile(in.Rules)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
		return
	}
	ans := RunAnswer{Problems: loaded.problems, Warnings: loaded.warnings}
	if len(loaded.problems) == 0 {
		sent, err := ruletest.Runner{}.Send(archive(in))
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
			return
		}
		ans.Transcript, ans.Requests, ans.State = string(sent.Transcript), sent.Requests, &sent.State
	}
	writeJSON(w, http.StatusOK, ans)
}

func serveGolden(w http.ResponseWriter, r *http.Request) {
	in, ok := readInput(w, r)
	if !ok {
		return
	}
	ar := archive(in)
	if err := (ruletest.Runner{}).Complete(ar, true); err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="case.txtar"`)
	w.Write(txtar.Format(ar))
}

// archive is the golden case of the input: its comment, rules and events.
func archive(in Input) *txtar.Archive {
	comment := strings.TrimSpace(in.Name)
	if comment == "" {
		comment = "A case saved from the playground."
	}
	return &txtar.Archive{
		Comment: []byte(comment + "\n"),
		Files: []txtar.File{
			{Name: RulesFile, Data: withNewline(in.Rules)},
			{Name: ruletest.EventsFile, Data: withNewline(in.Events)},
		},
	}
}

func withNewline(s string) []byte {
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return []byte(s)
}

// loadReport is what loading the rules said: their errors (no engine then)
// and the engine's warnings.
type loadReport struct {
	problems, warnings []Problem
}

// compile reads and compiles the rules; their errors and warnings come
// back as Problems, and err only for something else.
func compile(src string) (*engine.Engine, loadReport, error) {
	set, err := rules.Parse(RulesFile, []byte(src))
	var eng *engine.Engine
	if set != nil {
		eng, err = engine.Compile(set)
	}
	var list rules.ErrorList
	switch {
	case errors.As(err, &list):
		return nil, loadReport{problemsOf(list), []Problem{}}, nil
	case err != nil:
		return nil, loadReport{}, err
	}
	return eng, loadReport{[]Problem{}, problemsOf(eng.Warnings())}, nil
}

// problemsOf is list as Problems (never nil, so the JSON holds a list).
func problemsOf(list rules.ErrorList) []Problem {
	out := make([]Problem, len(list))
	for i, e := range list {
		out[i] = Problem{Line: e.Pos.Line, Column: e.Pos.Column, Rule: e.Rule, Field: e.Field, Message: e.Msg, Text: e.Error()}
	}
	return out
}

// readInput decodes the request's Input, or answers 400 / 413.
func readInput(w http.ResponseWriter, r *http.Request) (Input, bool) {
	var in Input
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequest))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeJSON(w, http.StatusRequestEntityTooLarge, apiError{fmt.Sprintf("request larger than %d bytes", maxRequest)})
		return in, false
	case err != nil:
		writeJSON(w, http.StatusBadRequest, apiError{"reading the request: " + err.Error()})
		return in, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{`expected {"rules": "...", "events": "..."}: ` + err.Error()})
		return in, false
	}
	return in, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
