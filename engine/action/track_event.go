package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// TrackEvent is a planned track_event: a data event for a user or a lead.
type TrackEvent struct {
	EventName string
	CreatedAt *int64 // Unix seconds; required
	// The contact, by external_id, email or Intercom id.
	UserID   string
	Email    string
	ID       string
	Metadata intercom.Object
	// Revenue and Currency are folded into Metadata's "price" by Finish.
	Revenue  json.Number
	Currency string
}

var trackEvent = Register(Spec[TrackEvent]{
	Name:    "track_event",
	Title:   "Track Event",
	Trigger: `type == "track"`,
	Doc:     "Submit a data event for a user or a lead.",
	Calls:   "`POST /events` by id or user_id as given; with only an email, the contact is found first (cached id, else search) and the event sent with its id. Intercom keeps one event per contact, name and second (`--spread-same-second-events` moves the others to the next free seconds); a 422 for its cap of 120 active event names is dead-lettered at once",
	Fields: []FieldOf[TrackEvent]{
		StringField("event_name", func(a *TrackEvent) *string { return &a.EventName }).Required().Default("event").
			Doc("`.` and `$` become `-`; Intercom compares names case-insensitively"),
		DatetimeField("created_at", func(a *TrackEvent) **int64 { return &a.CreatedAt }).Required().Default("timestamp"),
		StringField("user_id", func(a *TrackEvent) *string { return &a.UserID }).Lookup().Default("userId").
			Doc("the user's external_id"),
		StringField("email", func(a *TrackEvent) *string { return &a.Email }).Lookup().Default("properties.email").
			Doc("finds the contact (how events reach leads); removed from metadata"),
		StringField("id", func(a *TrackEvent) *string { return &a.ID }).Lookup().Doc("Intercom's contact id"),
		MetadataField("metadata", func(a *TrackEvent) *intercom.Object { return &a.Metadata }).Default("properties").
			Doc("flat object, at most 10 keys; revenue, currency and email are removed"),
		NumberField("revenue", func(a *TrackEvent) *json.Number { return &a.Revenue }).Default("properties.revenue").
			Doc("sent as `metadata.price = {amount, currency}` in minor units; zero or negative (a refund) is left out with a warning: Intercom takes only a positive amount"),
		StringField("currency", func(a *TrackEvent) *string { return &a.Currency }).Default("properties.currency").
			Doc("ISO 4217 code; `USD` when revenue is set without one"),
	},
	Finish:  finishTrackEvent,
	Contact: func(a *TrackEvent) Contact { return Contact{ExternalID: a.UserID, Email: a.Email, ID: a.ID} },
	Run:     runTrackEvent,
})

// MaxMetadata is the most metadata keys Intercom takes on one event: the
// conversion keeps the price made from revenue and the first keys in event
// order, and the engine warns of a metadata mapping that can make more.
const MaxMetadata = 10

// eventName makes an event name Intercom accepts, as Segment does.
var eventName = strings.NewReplacer(".", "-", "$", "-")

// finishTrackEvent does what Segment's destination does to an event: a
// name Intercom accepts, the revenue as metadata.price in minor units, no
// email, revenue or currency keys left in the metadata, and at most 10 keys.
func finishTrackEvent(a *TrackEvent, warn func(string)) error {
	if a.UserID == "" && a.Email == "" && a.ID == "" {
		return errors.New("needs user_id, email or id to find the contact, and all are missing")
	}
	a.EventName = eventName.Replace(a.EventName)

	meta := slices.DeleteFunc(a.Metadata, func(m intercom.Member) bool {
		return m.Key == "revenue" || m.Key == "currency" || m.Key == "email"
	})
	meta = dropBadAmounts(meta, warn) // before the price made from revenue, which is good
	if a.Revenue != "" {
		cur := a.Currency
		if cur == "" {
			cur = "USD"
		}
		if amount, err := minorUnits(a.Revenue, cur); err != nil {
			warn("revenue: left out: " + err.Error())
		} else if amount <= 0 {
			warn(fmt.Sprintf("revenue: left out: %s is not a positive amount, and Intercom takes a price only as a positive whole number of cents (a refund: map the revenue to a metadata key of its own to keep it as a plain number)", a.Revenue))
		} else {
			if _, clash := meta.Get("price"); clash {
				warn(`metadata: "price" replaced by the revenue`)
			}
			meta.Delete("price")
			meta = append(meta, intercom.Member{Key: "price", Raw: `{"amount":` + strconv.FormatInt(amount, 10) + `,"currency":` + strconv.Quote(strings.ToUpper(cur)) + `}`})
		}
	}
	a.Revenue, a.Currency = "", ""
	if len(meta) > MaxMetadata {
		// Keep the first keys in event order, and the price.
		keep := make(intercom.Object, 0, MaxMetadata)
		var dropped []string
		room := MaxMetadata
		if _, ok := meta.Get("price"); ok {
			room--
		}
		for _, m := range meta {
			switch {
			case m.Key == "price":
				keep = append(keep, m)
			case room > 0:
				keep = append(keep, m)
				room--
			default:
				dropped = append(dropped, m.Key)
			}
		}
		meta = keep
		warn(fmt.Sprintf("metadata: dropped %s (Intercom takes at most %d keys; kept the first)", strings.Join(dropped, ", "), MaxMetadata))
	}
	if len(meta) == 0 {
		meta = nil
	}
	a.Metadata = meta
	return nil
}

// currencyDigits lists ISO 4217 currencies whose minor unit is not 1/100.
var currencyDigits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// minorUnits converts an amount to the currency's minor units (cents for
// USD, yen for JPY, fils for KWD), rounding half away from zero.
func minorUnits(amount json.Number, currency string) (int64, error) {
	v, err := strconv.ParseFloat(string(amount), 64)
	if err != nil {
		return 0, err
	}
	digits, ok := currencyDigits[strings.ToUpper(currency)]
	if !ok {
		digits = 2
	}
	if len(currency) != 3 {
		return 0, fmt.Errorf("currency %q is not an ISO 4217 code", currency)
	}
	return int64(math.Round(v * math.Pow10(digits))), nil
}

// runTrackEvent submits a data event: by id or user_id as given (one call),
// or with only an email, by the id of the contact found with it.
func runTrackEvent(ctx context.Context, c *Call, a *TrackEvent) error {
	body := intercom.EventBody{EventName: a.EventName, Metadata: a.Metadata}
	if a.CreatedAt != nil {
		body.CreatedAt = *a.CreatedAt
	}
	id, src := a.ID, fromAction
	switch {
	case id != "":
		body.ID = id
	case a.UserID != "":
		body.UserID = a.UserID
	case a.Email != "":
		var err error
		if id, src, err = c.findContact(ctx, "", "", a.Email); err != nil {
			return err
		}
		body.ID = id
	default:
		return errors.New("needs user_id, email or id to find the contact")
	}
	c.Result.ContactID = id
	err := c.API.SubmitEvent(ctx, body)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("submit event: %w", eventNameCap(err))
	if intercom.StatusOf(err) == intercom.StatusNotFound {
		if src == fromCache {
			return stale(err, src, id)
		}
		return fmt.Errorf("%w: %w", notFound("", "id", id, "user_id", a.UserID, "email", a.Email), err)
	}
	return err
}

// dropBadAmounts leaves out, with a warning, the monetary amounts
// ({amount, currency}) of metadata whose amount is not what Intercom takes:
// a positive whole number of cents.
func dropBadAmounts(meta intercom.Object, warn func(string)) intercom.Object {
	kept := meta[:0]
	for _, m := range meta {
		if amount, bad := badAmount(m.Raw); bad {
			warn(fmt.Sprintf("metadata.%s: left out: a monetary amount must be a positive whole number of cents (was %s)", m.Key, amount))
			continue
		}
		kept = append(kept, m)
	}
	return kept
}

// badAmount says whether raw is a monetary amount (RichObject) whose
// amount is not a positive whole number, and gives the amount.
func badAmount(raw string) (string, bool) {
	if !strings.HasPrefix(raw, "{") || !strings.Contains(raw, `"amount"`) {
		return "", false // cheap: most values are no amount
	}
	v := gjson.Parse(raw)
	amount := v.Get("amount")
	if !amount.Exists() || !RichObject(v) {
		return "", false
	}
	n, err := strconv.ParseInt(amount.Raw, 10, 64)
	return amount.Raw, err != nil || n <= 0
}

// EventSecond returns what Intercom de-duplicates a planned track_event
// by: its contact (the key it is routed by, see Contact.Key), its name and
// its created_at, in Unix seconds. ok is false for another action, or an
// event without a contact or a created_at.
func EventSecond(a Action) (contact, name string, at int64, ok bool) {
	t, isEvent := a.Fields.(*TrackEvent)
	if !isEvent || t.CreatedAt == nil {
		return "", "", 0, false
	}
	contact = a.Contact().Key()
	return contact, t.EventName, *t.CreatedAt, contact != ""
}

// MoveEvent sets a planned track_event's created_at to at (Unix seconds):
// a free second for an event that shares one with another of its name
// and contact (see EventSecond).
func MoveEvent(a Action, at int64) {
	if t, ok := a.Fields.(*TrackEvent); ok {
		t.CreatedAt = &at
	}
}
