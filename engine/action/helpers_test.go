package action

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

const testToken = "tok"

// newSim starts a simulator that wants testToken.
func newSim(t *testing.T, opts simulator.Options) *simulator.Server {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	s := simulator.NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

// newClient returns a REST client of s with fast backoff; mods adjust the
// config.
func newClient(t *testing.T, s *simulator.Server, mods ...func(*rest.Config)) *rest.Client {
	t.Helper()
	cfg := rest.Config{
		BaseURL:     s.URL(),
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: testToken}),
		MinBackoff:  time.Millisecond,
		MaxBackoff:  5 * time.Millisecond,
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := rest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// contactID and companyID are the simulator's n-th ids.
func contactID(n int) string { return fmt.Sprintf("65c%021x", n) }
func companyID(n int) string { return fmt.Sprintf("65d%021x", n) }

// wantTranscript checks the requests since the last reset, then resets them.
func wantTranscript(t *testing.T, s *simulator.Server, want ...string) {
	t.Helper()
	if err := s.ExpectTranscript(want...); err != nil {
		t.Error(err)
	}
}

// execute runs a's call sequence against api.
func execute(api intercom.API, a Action) (Result, error) {
	return Executor{API: api}.Execute(context.Background(), a)
}

// exec runs a and fails the test on an error.
func exec(t *testing.T, api intercom.API, a Action) Result {
	t.Helper()
	res, err := execute(api, a)
	if err != nil {
		t.Fatalf("%s: %v", a.Kind, err)
	}
	return res
}

func ptr[T any](v T) *T { return &v }

func identifyUser(ext, email string) Action {
	return Action{Rule: "Identify", Kind: identifyContact, Fields: &IdentifyContact{
		Role: "user", ExternalID: ext, Email: email, Name: "Ann", LastSeenAt: ptr(int64(1700000000)),
	}}
}

func identifyLead(email string) Action {
	return Action{Rule: "Lead", Kind: identifyContact, Fields: &IdentifyContact{Role: "lead", Email: email, Name: "Lee"}}
}

// group identifies company companyKey and attaches the contact who names.
func group(companyKey string, who Contact) Action {
	return Action{Rule: "Group", Kind: identifyCompany, Fields: &IdentifyCompany{
		CompanyID: companyKey, Name: "Acme", Plan: "pro", Size: ptr(int64(12)), MonthlySpend: "99",
		CustomAttributes: intercom.Object{{Key: "tier", Raw: `"gold"`}},
		ContactID:        who.ID, ExternalID: who.ExternalID, Email: who.Email,
	}}
}

// track sends an event for the contact who names (ExternalID is user_id).
func track(who Contact) Action {
	return Action{Rule: "Track", Kind: trackEvent, Fields: &TrackEvent{
		EventName: "order-completed", CreatedAt: ptr(int64(1700000100)),
		Metadata: intercom.Object{{Key: "price", Raw: `{"amount":1999,"currency":"USD"}`}, {Key: "sku", Raw: `"A1"`}},
		UserID:   who.ExternalID, Email: who.Email, ID: who.ID,
	}}
}

func convert(ext, leadEmail, email string) Action {
	return Action{Rule: "Convert", Kind: convertLead, Fields: &ConvertLead{ExternalID: ext, LeadEmail: leadEmail, Email: email}}
}

var errConnReset = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}

// lossyTransport passes requests to the server but loses the answer of the
// first request lose selects, as when a connection drops after the server
// handled the request.
type lossyTransport struct {
	base http.RoundTripper
	lose func(*http.Request) bool
	lost bool
}

func (l *lossyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(req)
	if err == nil && !l.lost && l.lose(req) {
		l.lost = true
		resp.Body.Close()
		return nil, fmt.Errorf("read: %w", errConnReset)
	}
	return resp, err
}
