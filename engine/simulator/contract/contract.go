// Package contract checks a simulator's exchanges against Intercom's own
// OpenAPI description of API 2.16: every request sent to a simulator and
// every answer it gives. It is for the tests of code that embeds the
// simulator: a test binary turns it on for every simulator it starts with
// Main in its TestMain. The description is this module's
// testdata/intercom-openapi, found above the working directory, with
// Intercom's Fern overrides applied and the waivers of its waivers.yaml.
//
// The rules, beyond what the description itself says:
//   - A request's Intercom-Version, when it sends one, is 2.16, the
//     description's version.
//   - A request the simulator refused as malformed (400 or 422) or for its
//     method (405) may break the description: tests send those on purpose.
//     Any other request must keep to it, answered or not.
//   - An answer's status is one the description lists for the operation,
//     or an error status (4xx, 5xx) whose body is Intercom's error.list.
//   - A dropped connection has no answer to check.
package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// apiVersion is the API version of the vendored description.
const apiVersion = "2.16"

// descDir is the folder of the vendored description, from the module root.
const descDir = "testdata/intercom-openapi"

// Files of descDir.
const (
	descriptionFile = "api.intercom.io.2.16.yaml"
	overridesFile   = "fern-openapi-overrides.yml"
	waiversFile     = "waivers.yaml"
)

// server is the host requests are matched under (the description's first
// server).
const server = "https://api.intercom.io"

// violation is one way an exchange breaks the description.
type violation struct {
	// Exchange names the exchange by its operation when the description
	// has it: "POST /contacts/{contact_id}/companies → 200"; by its path
	// otherwise.
	Exchange string
	// Operation is the description's operation: "POST /contacts/{contact_id}";
	// "" when the path is not in the description.
	Operation string
	// Side is "request" or "response".
	Side string
	// Message says what breaks, e.g. `body /owner_id: value must be a string`.
	Message string
}

func (v violation) String() string {
	return fmt.Sprintf("%s: %s %s", v.Exchange, v.Side, v.Message)
}

// checker checks exchanges against the description. It is safe for
// concurrent use.
type checker struct {
	doc     *openapi3.T
	router  routers.Router
	errors  *openapi3.Schema // components.schemas.error
	waivers []waiver
}

var (
	loadOnce sync.Once
	loaded   *checker
	loadErr  error
)

// loadVendored returns the checker of the vendored description, read once per
// process from descDir under the module root found above the working
// directory.
func loadVendored() (*checker, error) {
	loadOnce.Do(func() {
		var root string
		if root, loadErr = moduleRoot(); loadErr == nil {
			loaded, loadErr = loadDir(filepath.Join(root, descDir))
		}
	})
	return loaded, loadErr
}

// loadDir reads the description, the overrides and the waivers from dir
// and compiles them.
func loadDir(dir string) (*checker, error) {
	var desc, over any
	var waivers []waiver
	for _, f := range []struct {
		name  string
		parse func([]byte) error
	}{
		{descriptionFile, func(b []byte) (err error) { desc, err = decodeYAML(b); return err }},
		{overridesFile, func(b []byte) (err error) { over, err = decodeYAML(b); return err }},
		{waiversFile, func(b []byte) (err error) { waivers, err = parseWaivers(b); return err }},
	} {
		path := filepath.Join(dir, f.name)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := f.parse(b); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return compile(desc, over, waivers)
}

func compile(desc, over any, waivers []waiver) (*checker, error) {
	desc = applyOverrides(desc, over)
	for _, w := range waivers {
		if w.Patch == nil {
			continue
		}
		if err := patchesExisting(desc, w.Patch, ""); err != nil {
			return nil, fmt.Errorf("waiver %q: %w", w.Name, err)
		}
		desc = applyOverrides(desc, w.Patch)
	}
	raw, err := json.Marshal(desc)
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("loading the description: %w", err)
	}
	doc.Servers = openapi3.Servers{{URL: server}}
	// The description's examples are documentation, and some of them do not
	// match their own schemas (activity_log's "false" for a string): they
	// are not what the contract is about.
	router, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation())
	if err != nil {
		return nil, fmt.Errorf("routing the description: %w", err)
	}
	ref := doc.Components.Schemas["error"]
	if ref == nil || ref.Value == nil {
		return nil, errors.New("the description has no components.schemas.error")
	}
	return &checker{doc: doc, router: router, errors: ref.Value, waivers: waivers}, nil
}

// patchesExisting refuses a waiver's patch that would add a path or a
// schema instead of changing one the description has: a typo in a patch
// must not pass silently.
func patchesExisting(desc, patch any, at string) error {
	p, ok := patch.(map[string]any)
	if !ok {
		return nil
	}
	d, ok := desc.(map[string]any)
	if !ok {
		return fmt.Errorf("%s is not an object in the description", at)
	}
	for k, v := range p {
		sub, has := d[k]
		if !has {
			// New keys are fine inside a schema (properties, required ...),
			// not at the levels that name paths, operations and schemas.
			if strings.Count(at, "/") < 3 || at == "/components/schemas" {
				return fmt.Errorf("%s/%s is not in the description", at, k)
			}
			continue
		}
		if err := patchesExisting(sub, v, at+"/"+k); err != nil {
			return err
		}
	}
	return nil
}

// check returns the description's operation ex is an exchange of ("POST
// /contacts/{contact_id}/tags", "" when the description has none), the
// ways ex breaks the description that no waiver covers, and the names of
// the waivers that covered others.
func (c *checker) check(ex simulator.Exchange) (op string, violations []violation, waived []string) {
	tags := ex.Request.Header.Values(WaiverHeader)
	version := ex.Request.Header.Get("Intercom-Version")
	for _, tag := range tags {
		if !slices.ContainsFunc(c.waivers, func(w waiver) bool { return w.Name == tag && w.Match != nil && w.Match.Tagged }) {
			violations = append(violations, violation{Exchange: ex.Request.Method + " " + ex.Request.Path, Side: "request",
				Message: fmt.Sprintf("%s names %q, which is not a tagged waiver of %s", WaiverHeader, tag, waiversFile)})
		}
	}
	op, broken := c.breaks(ex)
	for _, v := range broken {
		if w := c.waiverFor(v, version, tags); w != "" {
			waived = append(waived, w)
			continue
		}
		violations = append(violations, v)
	}
	return op, violations, waived
}

// waiverFor names the waiver that covers v, "" when none does; a tagged
// waiver the request names comes before the others.
func (c *checker) waiverFor(v violation, version string, tags []string) string {
	for _, tagged := range []bool{true, false} {
		for _, w := range c.waivers {
			if (w.Match != nil && w.Match.Tagged) == tagged && w.covers(v, version, tags) {
				return w.Name
			}
		}
	}
	return ""
}

// breaks returns the operation ex is an exchange of ("" when the
// description has none), and the ways ex breaks the description.
func (c *checker) breaks(ex simulator.Exchange) (op string, out []violation) {
	r := ex.Request
	answer := " → (dropped)"
	if ex.Status != 0 {
		answer = " → " + strconv.Itoa(ex.Status)
	}
	add := func(op, side, msg string) {
		name := op
		if name == "" {
			name = r.Method + " " + r.Path
		}
		out = append(out, violation{Exchange: name + answer, Operation: op, Side: side, Message: msg})
	}

	u := server + r.Path
	if r.Query != "" {
		u += "?" + r.Query
	}
	req, err := http.NewRequest(r.Method, u, bytes.NewReader(r.Body))
	if err != nil {
		add("", "request", err.Error())
		return op, out
	}
	req.Header = r.Header.Clone()
	if len(r.Body) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	route, params, err := c.router.FindRoute(req)
	if err == nil && slices.Contains(strings.Split(r.Path, "/")[1:], "") {
		err = errors.New("empty path segment") // the router would ignore it
	}
	if err != nil {
		if ex.Status != http.StatusNotFound && ex.Status != http.StatusMethodNotAllowed {
			add("", "request", "path and method are not in the description")
		}
		return op, out
	}
	op = r.Method + " " + route.Path

	refused := ex.Status == http.StatusBadRequest || ex.Status == http.StatusMethodNotAllowed ||
		ex.Status == http.StatusUnprocessableEntity
	if v := r.Header.Get("Intercom-Version"); v != "" && v != apiVersion && !refused {
		add(op, "request", fmt.Sprintf("Intercom-Version %s: the description is of %s", v, apiVersion))
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc:                openapi3filter.NoopAuthenticationFunc,
			MultiError:                        true,
			SkipSettingDefaults:               true,
			RejectWhenRequestBodyNotSpecified: true,
		},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && !refused {
		for _, m := range describe(err) {
			add(op, "request", m)
		}
	}
	if ex.Status == 0 || ex.Damaged {
		return op, out // no answer, or one a test damaged on purpose
	}

	resp := route.Operation.Responses.Status(ex.Status)
	if resp == nil && ex.Status < 400 {
		add(op, "response", fmt.Sprintf("status %d is not one the description lists (%s)", ex.Status, listed(route.Operation)))
		return op, out
	}
	if resp == nil {
		for _, msg := range c.checkError(ex) {
			add(op, "response", msg)
		}
		return op, out
	}
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 ex.Status,
		Header:                 ex.Header,
		Options: &openapi3filter.Options{
			MultiError:          true,
			SkipSettingDefaults: true,
		},
	}
	rin.SetBodyBytes(ex.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), rin); err != nil {
		for _, m := range describe(err) {
			add(op, "response", m)
		}
	}
	return op, out
}

// checkError checks an error answer the operation does not list against
// Intercom's error.list.
func (c *checker) checkError(ex simulator.Exchange) []string {
	var v any
	if err := json.Unmarshal(ex.Body, &v); err != nil {
		return []string{"body of an error answer is not JSON: " + err.Error()}
	}
	if err := c.errors.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		return prefix("body", describe(err))
	}
	return nil
}

// listed names the statuses an operation documents.
func listed(op *openapi3.Operation) string {
	var codes []string
	for code := range op.Responses.Map() {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	return strings.Join(codes, ", ")
}

// describe renders a validation error as short messages, one per fault:
// "body /owner_id: value must be a string".
func describe(err error) []string {
	if err == nil {
		return nil
	}
	switch e := err.(type) {
	case openapi3.MultiError:
		var out []string
		for _, sub := range e {
			out = append(out, describe(sub)...)
		}
		return out
	case *openapi3filter.RequestError:
		where := "body"
		if p := e.Parameter; p != nil {
			where = p.In + " parameter " + p.Name
		}
		if e.Err == nil {
			return []string{where + ": " + e.Reason}
		}
		return prefix(where, describe(e.Err))
	case *openapi3filter.ResponseError:
		if e.Err == nil {
			return []string{e.Reason}
		}
		return prefix("body", describe(e.Err))
	case *openapi3.SchemaError:
		return []string{schemaMessage(e)}
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		return []string{schemaMessage(se)}
	}
	return []string{err.Error()}
}

func prefix(p string, msgs []string) []string {
	for i, m := range msgs {
		if strings.HasPrefix(m, "/") {
			msgs[i] = p + " " + m
		} else {
			msgs[i] = p + ": " + m
		}
	}
	return msgs
}

// schemaMessage is "/a/b: reason", with the reasons of the alternatives of
// a oneOf or anyOf that matched none.
func schemaMessage(se *openapi3.SchemaError) string {
	at := "/" + strings.Join(se.JSONPointer(), "/")
	msg := at + ": " + se.Reason
	if se.SchemaField == "anyOf" && se.Schema != nil {
		// kin-openapi keeps no cause for anyOf: ask each alternative.
		var subs []string
		for _, alt := range se.Schema.AnyOf {
			if alt.Value == nil {
				continue
			}
			for _, m := range describe(alt.Value.VisitJSON(se.Value, openapi3.MultiErrors())) {
				if !slices.Contains(subs, m) {
					subs = append(subs, m)
				}
			}
		}
		if len(subs) > 0 {
			msg += " (" + strings.Join(subs, "; ") + ")"
		}
		return msg
	}
	var me openapi3.MultiError
	if se.Origin != nil && errors.As(se.Origin, &me) {
		var subs []string
		for _, e := range me {
			var sub *openapi3.SchemaError
			if errors.As(e, &sub) {
				s := schemaMessage(sub)
				if len(sub.JSONPointer()) == 0 {
					s = strings.TrimPrefix(s, "/: ")
				}
				if !slices.Contains(subs, s) {
					subs = append(subs, s)
				}
			}
		}
		if len(subs) > 0 {
			msg += " (" + strings.Join(subs, "; ") + ")"
		}
	}
	return msg
}

// moduleRoot finds the module root, the first directory above the working
// directory that holds descDir.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, descDir, descriptionFile)); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("contract: no " + descDir + " above the working directory")
		}
		dir = parent
	}
}
