package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/intercom-actions/intercom-actions/rules"
)

// finishers apply what Intercom (and Segment's destination) require of an
// action beyond converting each field on its own.
var finishers = map[string]func(*Action) error{
	rules.IdentifyContact: finishContact,
	rules.IdentifyCompany: finishCompany,
	rules.TrackEvent:      finishEvent,
	rules.ConvertLead:     finishConvert,
}

func finishContact(a *Action) error {
	f := a.Fields
	if f["role"] == "lead" {
		if id, ok := f["external_id"]; ok {
			delete(f, "external_id")
			a.Warnings = append(a.Warnings, fmt.Sprintf("external_id: left out: leads cannot have one (was %q)", id))
		}
		return nil
	}
	if f["external_id"] == nil && f["email"] == nil {
		return errors.New("a user needs an external_id or an email, and both are missing")
	}
	return nil
}

func finishCompany(a *Action) error {
	f := a.Fields
	if f["contact_id"] == nil && f["external_id"] == nil && f["email"] == nil {
		a.Warnings = append(a.Warnings, "no contact_id, external_id or email: the company is saved with nobody attached (Intercom hides it until someone is)")
	}
	return nil
}

// maxMetadata is the most metadata keys Intercom takes on one event.
const maxMetadata = 10

// eventName makes an event name Intercom accepts, as Segment does.
var eventName = strings.NewReplacer(".", "-", "$", "-")

func finishEvent(a *Action) error {
	f := a.Fields
	if f["user_id"] == nil && f["email"] == nil && f["id"] == nil {
		return errors.New("needs user_id, email or id to find the contact, and all are missing")
	}
	f["event_name"] = eventName.Replace(f["event_name"].(string))

	meta, _ := f["metadata"].(rules.Object)
	for _, k := range []string{"revenue", "currency", "email"} {
		meta.Delete(k)
	}
	if rev, ok := f["revenue"].(json.Number); ok {
		cur, _ := f["currency"].(string)
		if cur == "" {
			cur = "USD"
		}
		if amount, err := minorUnits(rev, cur); err != nil {
			a.Warnings = append(a.Warnings, "revenue: left out: "+err.Error())
		} else {
			if _, clash := meta.Get("price"); clash {
				a.Warnings = append(a.Warnings, `metadata: "price" replaced by the revenue`)
			}
			meta.Delete("price")
			meta = append(meta, rules.Member{Key: "price", Raw: `{"amount":` + strconv.FormatInt(amount, 10) + `,"currency":` + strconv.Quote(strings.ToUpper(cur)) + `}`})
		}
	}
	delete(f, "revenue")
	delete(f, "currency")
	if len(meta) > maxMetadata {
		// Keep the first keys in event order, and the price.
		keep := make(rules.Object, 0, maxMetadata)
		var dropped []string
		room := maxMetadata
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
		a.Warnings = append(a.Warnings, fmt.Sprintf("metadata: dropped %s (Intercom takes at most %d keys; kept the first)", strings.Join(dropped, ", "), maxMetadata))
	}
	if len(meta) == 0 {
		delete(f, "metadata")
	} else {
		f["metadata"] = meta
	}
	return nil
}

func finishConvert(a *Action) error {
	if a.Fields["lead_id"] == nil && a.Fields["lead_email"] == nil {
		return errors.New("needs lead_id or lead_email to find the lead, and both are missing")
	}
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
