package processor

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/bounded"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
	"github.com/intercom-actions/intercom-actions/rules"
)

// Kind is the type of an Option's value.
type Kind int

// The kinds of Option.
const (
	String   Kind = iota // text
	Enum                 // one of Option.Values
	Int                  // a whole number
	Duration             // such as 30s, 5m or 1h
	Bool                 // true or false
	List                 // several texts: the flag repeats, the Benthos field is a list
)

// Option is one setting of the delivery core, declared once: the flags of
// `send`, `serve` and `consume` (--Name), the Benthos processor's fields
// (Name with "_" for "-") and a Config field (Config.Set by Name) are all
// made from this table, so every face has every option under one name,
// default and help.
type Option struct {
	Name    string   // e.g. "contact-wait"
	Kind    Kind     // the type of its value
	Default string   // the value when unset, as text; "" for none
	Values  []string // Enum: the values it takes
	Help    string   // one line
	set     func(*Config, string) error
}

// Options lists the options of the delivery core, in the order of --help.
func Options() []Option { return slices.Clone(options) }

// Set sets o in c from its text, as a flag or a Benthos field gives it; a
// List option adds one value. A number, duration or boolean that does not
// parse is an error; the other values are checked by Config.Validate.
func (o Option) Set(c *Config, value string) error { return o.set(c, value) }

// Set sets the option called name (see Option.Set).
func (c *Config) Set(name, value string) error {
	for _, o := range options {
		if o.Name == name {
			if err := o.set(c, value); err != nil {
				return &OptionError{Option: name, Detail: fmt.Sprintf(" %q: %v", value, err)}
			}
			return nil
		}
	}
	return fmt.Errorf("no option %q%s", name, rules.Suggest(name, optionNames()))
}

func optionNames() []string {
	names := make([]string, len(options))
	for i, o := range options {
		names[i] = o.Name
	}
	return names
}

// OptionError is a bad option value, such as
// `api-base "ftp://x": want an https:// URL with a host`. A face names the
// option its own way (--api-base, api_base) before Detail.
type OptionError struct {
	Option string // its name, e.g. "api-base"
	Detail string // the value and what is wrong with it, from its first separator
}

func (e *OptionError) Error() string { return e.Option + e.Detail }

var options = []Option{
	{Name: "rules", Kind: List, Help: "rule file or folder (repeatable; default: the embedded defaults)",
		set: func(c *Config, v string) error { c.Rules.Files = append(c.Rules.Files, v); return nil }},
	{Name: "with-defaults", Kind: Bool, Default: "false",
		Help: "layer the rules files on the embedded defaults: a rule named like a default rule replaces it, others are added",
		set:  func(c *Config, v string) error { return parseBool(v, &c.Rules.WithDefaults) }},
	{Name: "preset", Kind: List, Help: "add an embedded rule preset to the rules (repeatable): " + strings.Join(rules.PresetNames(), ", "),
		set: func(c *Config, v string) error { c.Rules.Presets = append(c.Rules.Presets, v); return nil }},
	{Name: "region", Kind: Enum, Default: "us", Values: []string{"us", "eu", "au"}, Help: "Intercom region: us, eu or au",
		set: func(c *Config, v string) error { c.Region = v; return nil }},
	{Name: "api-base", Kind: String, Help: "API base URL, e.g. a simulator's http://127.0.0.1:8089 (overrides region)",
		set: func(c *Config, v string) error { c.APIBase = v; return nil }},
	{Name: "token-file", Kind: String,
		Help: "file holding the Intercom token (as 'intercom-actions auth login' writes it); default: INTERCOM_ACCESS_TOKEN, else the login's",
		set:  func(c *Config, v string) error { c.TokenFile = v; return nil }},
	{Name: "intercom-version", Kind: String, Default: rest.DefaultVersion,
		Help: "Intercom-Version header: the API version, " + string(intercom.FirstVersion) + " to " + string(intercom.LastVersion) + " (request bodies are written for the version sent)",
		set:  func(c *Config, v string) error { c.IntercomVersion = v; return nil }},
	{Name: "concurrency", Kind: Int, Default: "8", Help: "actions in flight at once in the process, across its runs and partitions (contacts sent in parallel)",
		set: func(c *Config, v string) error { return parseInt(v, 1, &c.Concurrency) }},
	{Name: "contact-wait", Kind: Duration, Default: "30s", Help: "how long a group or track waits for its contact's identify",
		set: func(c *Config, v string) error { return parseDuration(v, &c.ContactWait) }},
	{Name: "search-wait", Kind: Duration, Default: DefaultSearchWait.String(),
		Help: "how long an action whose contact search did not find (a lead, a contact by email) waits, also at the end of the input: Intercom's search lags new contacts by up to a few minutes (0: contact-wait only; at most 30m)",
		set:  setSearchWait},
	{Name: "archived-contacts", Kind: Enum, Default: UnarchiveArchived, Values: []string{UnarchiveArchived, DeadLetterArchived},
		Help: "an identify that matches a contact archived in Intercom: unarchive (unarchive it, then update it, as Intercom does when one comes back through the Messenger) or dead-letter (leave it archived)",
		set:  func(c *Config, v string) error { c.ArchivedContacts = v; return nil }},
	{Name: "spread-same-second-events", Kind: Bool, Default: "false",
		Help: "keep track events of one name for one contact in one second, which Intercom stores as one: send each after the first at the next free second (the same second again on a retry); they are counted and reported either way",
		set:  func(c *Config, v string) error { return parseBool(v, &c.SpreadSameSecondEvents) }},
	{Name: "waiting-max", Kind: String, Default: "64MiB",
		Help: "memory the groups and tracks waiting for their contact's identify may hold (their events' bytes); past it, the one that waited longest gets its last try early (serve answers 503 meanwhile)",
		set: func(c *Config, v string) error {
			n, err := bounded.Size(v)
			if err == nil {
				c.WaitingMax = n
			}
			return err
		}},
	{Name: "custom-attributes", Kind: Enum, Default: "send", Values: []string{"send", "create", "existing"},
		Help: "custom attributes the workspace does not have: send (as mapped: Intercom refuses the whole update), " +
			"create (create them, typed from the value, up to Intercom's 250; drop what cannot be, with a warning) or existing (drop them with a warning)",
		set: func(c *Config, v string) error { c.CustomAttributes = v; return nil }},
	{Name: "token-recheck", Kind: Duration, Default: "1m",
		Help: "while Intercom refuses the token, delivery waits (nothing is dead-lettered for it) and the token is read again and checked this often (serve and consume: also on SIGHUP; send stops instead)",
		set:  func(c *Config, v string) error { return parseDuration(v, &c.TokenRecheck) }},
	{Name: "skip-unchanged", Kind: Bool, Default: "true",
		Help: "send no update whose body Intercom already holds (last sent within --skip-unchanged-ttl) and no repeat attach; --no-skip-unchanged sends every call",
		set:  func(c *Config, v string) error { return parseBool(v, &c.SendUnchanged, true) }},
	{Name: "last-seen-resolution", Kind: Duration, Default: "1h",
		Help: "with skip-unchanged: a move of last_seen_at up to this much is no change (0: every move is sent)",
		set:  func(c *Config, v string) error { return parseZeroDuration(v, &c.LastSeenResolution) }},
	{Name: "skip-unchanged-ttl", Kind: Duration, Default: "24h",
		Help: "with skip-unchanged: after this, an unchanged update or an attach is sent again (a change made in Intercom's UI is overwritten at most this often; 0: never)",
		set:  func(c *Config, v string) error { return parseZeroDuration(v, &c.SkipUnchangedTTL) }},
	{Name: "skip-unchanged-size", Kind: Int, Default: "1000000",
		Help: "with skip-unchanged: most entries remembered (about 2 per contact, 2 per company, 1 per attachment; about 160 bytes each), least recently used forgotten first",
		set:  func(c *Config, v string) error { return parseInt(v, 1, &c.SkipUnchangedSize) }},
}

// parseBool sets *p to v's truth, or its negation when negate is set (a
// Config field whose zero value is the option's default true).
func parseBool(v string, p *bool, negate ...bool) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("want true or false")
	}
	*p = b != (len(negate) > 0 && negate[0])
	return nil
}

func parseInt(v string, min int, p *int) error {
	n, err := bounded.Int(v, min)
	if err == nil {
		*p = n
	}
	return err
}

func parseDuration(v string, p *time.Duration) error {
	d, err := bounded.Duration(v, 0)
	if err == nil {
		*p = d
	}
	return err
}

// parseZeroDuration is parseDuration for a Config field whose zero value
// is the option's default: the option's 0 is stored as a negative duration.
func parseZeroDuration(v string, p *time.Duration) error {
	err := parseDuration(v, p)
	if err == nil && *p == 0 {
		*p = -1
	}
	return err
}
