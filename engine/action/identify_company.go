package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// IdentifyCompany is a planned identify_company: create or update a company
// and attach the contact to it.
type IdentifyCompany struct {
	CompanyID        string
	Name             string
	RemoteCreatedAt  *int64 // Unix seconds
	MonthlySpend     json.Number
	Plan             string
	Size             *int64
	Website          string
	Industry         string
	CustomAttributes intercom.Object

	// The contact to attach, by Intercom id, external_id or email.
	ContactID  string
	ExternalID string
	Email      string
}

var identifyCompany = Register(Spec[IdentifyCompany]{
	Name:    "identify_company",
	Title:   "Identify Company",
	Trigger: `type == "group"`,
	Doc:     "Create or update a company and attach the contact (user or lead) to it.",
	Calls:   "`POST /companies` (create-or-update by company_id; one for the group calls of a company still queued when the first of them is sent, their traits merged in input order; not sent when identical to the last one sent, see `--skip-unchanged`) → find the contact (contact_id, cached id, else search) → `POST /contacts/{id}/companies`",
	Fields: []FieldOf[IdentifyCompany]{
		StringField("company_id", func(a *IdentifyCompany) *string { return &a.CompanyID }).Required().Default("groupId").Doc("your company id"),
		StringField("name", func(a *IdentifyCompany) *string { return &a.Name }).Default("traits.name"),
		DatetimeField("remote_created_at", func(a *IdentifyCompany) **int64 { return &a.RemoteCreatedAt }).Default("traits.createdAt").
			Doc("when the company was created in your system"),
		NumberField("monthly_spend", func(a *IdentifyCompany) *json.Number { return &a.MonthlySpend }).Default("traits.monthly_spend").
			Doc("a whole number: a fraction is rounded (Intercom would truncate it) and a value past ±2147483647 bounded, each with a warning"),
		StringField("plan", func(a *IdentifyCompany) *string { return &a.Plan }).Default("traits.plan"),
		IntegerField("size", func(a *IdentifyCompany) **int64 { return &a.Size }).Default("traits.employees").Doc("number of employees"),
		StringField("website", func(a *IdentifyCompany) *string { return &a.Website }).Default("traits.website"),
		StringField("industry", func(a *IdentifyCompany) *string { return &a.Industry }).Default("traits.industry"),
		AttributesField("custom_attributes", func(a *IdentifyCompany) *intercom.Object { return &a.CustomAttributes }).
			Doc("flat object; Intercom refuses the whole call for one the workspace lacks, unless `send --custom-attributes create` (or `existing`)"),
		StringField("contact_id", func(a *IdentifyCompany) *string { return &a.ContactID }).Lookup().
			Doc("Intercom's id of the contact to attach; skips the search"),
		StringField("external_id", func(a *IdentifyCompany) *string { return &a.ExternalID }).Lookup().Default("userId").
			Doc("finds the user to attach"),
		StringField("email", func(a *IdentifyCompany) *string { return &a.Email }).Lookup().Default("traits.email").
			Doc("finds the contact to attach (how leads are attached)"),
	},
	Finish: func(a *IdentifyCompany, warn func(string)) error {
		a.MonthlySpend = wholeSpend(a.MonthlySpend, warn)
		if a.ContactID == "" && a.ExternalID == "" && a.Email == "" {
			warn("no contact_id, external_id or email: the company is saved with nobody attached (Intercom hides it until someone is)")
		}
		return nil
	},
	Contact: func(a *IdentifyCompany) Contact {
		return Contact{ExternalID: a.ExternalID, Email: a.Email, ID: a.ContactID}
	},
	Run: runIdentifyCompany,
	// A backfill's group calls of one company's members become one upsert
	// (see Merges); each member's contact is still attached by its own.
	MergeKey: func(a *IdentifyCompany) string { return a.CompanyID },
})

// body is the company's request body.
func (a *IdentifyCompany) body() intercom.CompanyBody {
	return intercom.CompanyBody{
		CompanyID: a.CompanyID, Name: a.Name, RemoteCreatedAt: a.RemoteCreatedAt, MonthlySpend: a.MonthlySpend,
		Plan: a.Plan, Size: a.Size, Website: a.Website, Industry: a.Industry, CustomAttributes: a.CustomAttributes,
	}
}

// runIdentifyCompany upserts the company, then attaches the contact, if
// any is named. Running it again is harmless: POST /companies upserts and
// attaching twice changes nothing.
func runIdentifyCompany(ctx context.Context, c *Call, a *IdentifyCompany) error {
	companyID, err := c.upsertCompany(ctx, a)
	if err != nil {
		return err
	}
	c.Result.CompanyID = companyID
	if a.ContactID == "" && a.ExternalID == "" && a.Email == "" {
		return nil // the company alone
	}
	id, src, err := c.findContact(ctx, a.ContactID, a.ExternalID, a.Email)
	if err != nil {
		return err
	}
	c.Result.ContactID = id
	err = c.API.AttachCompany(ctx, id, companyID)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("attach company to contact %s: %w", id, err)
	var ae *intercom.APIError
	if errors.As(err, &ae) && ae.Status == intercom.StatusNotFound && strings.Contains(ae.Message, "Company") {
		return staleCompany(err, fromCache, companyID) // the company is gone: upsert it again (see upsertBody)
	}
	if errors.As(err, &ae) && ae.Status == intercom.StatusNotFound {
		if src == fromCache {
			return stale(err, src, id)
		}
		return fmt.Errorf("%w: %w", notFound("", "contact_id", a.ContactID, "external_id", a.ExternalID, "email", a.Email), err)
	}
	return err
}

// upsertCompany saves a's company: through the Executor's Merges, in one
// upsert with the parts of the company announced with it (see
// upsertParts), else on its own. It returns the company's Intercom id.
func (c *Call) upsertCompany(ctx context.Context, a *IdentifyCompany) (string, error) {
	out, merged, err := c.Merged(ctx, a, func(parts []any) []MergeOutcome { return c.upsertParts(ctx, parts) })
	switch {
	case err != nil:
		return "", err // ctx ended while it waited for the upsert in flight
	case !merged:
		return c.upsertBody(ctx, a.body())
	case out.Err != nil:
		return "", out.Err
	}
	return out.Answer.(string), nil
}

// upsertParts sends the company parts of identify_company actions (their
// *IdentifyCompany) as one upsert: their bodies merged in the order given,
// later values winning. Should Intercom refuse the merged body (a bad
// value in one part), each part is sent again alone, in order, so that
// only the one it refuses fails; any other failure leaves the parts to
// send their own when their actions run (MergeOutcome.Unsent).
func (c *Call) upsertParts(ctx context.Context, parts []any) []MergeOutcome {
	bodies := make([]intercom.CompanyBody, len(parts))
	for i, p := range parts {
		bodies[i] = p.(*IdentifyCompany).body()
	}
	merged := bodies[0]
	for _, b := range bodies[1:] {
		merged.Merge(b)
	}
	outs := make([]MergeOutcome, len(parts))
	answer, err := c.upsertBody(ctx, merged)
	if len(parts) > 1 && refused(err) {
		for i, b := range bodies {
			outs[i] = upsertOutcome(c.upsertBody(ctx, b))
		}
		return outs
	}
	for i := range outs {
		outs[i] = upsertOutcome(answer, err)
	}
	return outs
}

// upsertOutcome is a part's outcome of an upsert that answered the
// company's Intercom id or err: a refusal is the part's own; another error
// leaves it unsent.
func upsertOutcome(id string, err error) MergeOutcome {
	return MergeOutcome{Answer: id, Err: err, Unsent: err != nil && !refused(err)}
}

// upsertBody sends body (its custom attributes as the Executor's
// Attributes make them). The API may answer an upsert identical to the
// last one it sent from memory (engine/internal/suppress): group calls
// repeat the same traits often (analytics.js sends one per page load).
// The id is then as old as that memory, so it counts as cached: a 404
// for the company later upserts it again. It returns the company's
// Intercom id.
func (c *Call) upsertBody(ctx context.Context, body intercom.CompanyBody) (string, error) {
	var err error
	if body.CustomAttributes, err = c.customAttributes(ctx, "company", body.CustomAttributes); err != nil {
		return "", err
	}
	co, err := c.API.UpsertCompany(ctx, body)
	if err != nil {
		return "", fmt.Errorf("upsert company: %w", err)
	}
	return co.ID, nil
}

// refused says whether Intercom refused a request's body itself (400,
// 422): another body may pass.
func refused(err error) bool {
	s := intercom.StatusOf(err)
	return s == intercom.StatusBadRequest || s == intercom.StatusUnprocessableEntity
}

// Intercom's bounds of monthly_spend: a 32-bit integer.
const (
	maxSpend = math.MaxInt32
	minSpend = math.MinInt32
)

// wholeSpend makes monthly_spend what Intercom takes: a whole number (it
// truncates a fraction, so 1200.9 would become 1200: it is rounded here,
// to 1201, with a warning) within a 32-bit integer (bounded, with a
// warning). A value that is not a number is left to the field's checks.
// The last value changed is remembered with its warning, so that a value
// every group call repeats costs no allocation.
func wholeSpend(n json.Number, warn func(string)) json.Number {
	if n == "" {
		return n
	}
	if m := lastSpend.Load(); m != nil && m.in == n {
		warn(m.warning)
		return m.out
	}
	v, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return n
	}
	r := math.Round(v)
	var warning string
	switch {
	case r > maxSpend:
		r = maxSpend
		warning = fmt.Sprintf("monthly_spend: %s bounded to %d, Intercom's largest", n, maxSpend)
	case r < minSpend:
		r = minSpend
		warning = fmt.Sprintf("monthly_spend: %s bounded to %d, Intercom's smallest", n, minSpend)
	case r != v:
		warning = fmt.Sprintf("monthly_spend: %s rounded to %d: Intercom takes whole numbers (and would truncate it)", n, int64(r))
	default:
		return n // whole already
	}
	m := &spendMemo{in: json.Number(strings.Clone(string(n))), out: json.Number(strconv.FormatInt(int64(r), 10)), warning: warning}
	lastSpend.Store(m)
	warn(warning)
	return m.out
}

// spendMemo is a monthly_spend wholeSpend changed: its value, the whole
// number sent and the warning.
type spendMemo struct {
	in, out json.Number
	warning string
}

var lastSpend atomic.Pointer[spendMemo]
