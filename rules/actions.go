package rules

// Type says what a field holds and how the engine converts a mapped value
// into what Intercom accepts.
type Type string

// The field types. Each names one conversion, applied by the engine.
const (
	// String: strings as they are; numbers and booleans as their JSON text.
	String Type = "string"
	// Enum: a string that must be one of the field's Enum values.
	Enum Type = "enum"
	// Number: a JSON number, or a string holding one.
	Number Type = "number"
	// Integer: a whole JSON number, or a string holding one.
	Integer Type = "integer"
	// Boolean: true/false, or the strings "true"/"false".
	Boolean Type = "boolean"
	// Datetime: ISO-8601/RFC 3339 text, Unix seconds or Unix milliseconds,
	// sent as Unix seconds.
	Datetime Type = "datetime"
	// Attributes: a flat object; nested objects and arrays are dropped with
	// a warning (Intercom custom attributes take only flat values).
	Attributes Type = "attributes"
	// Metadata: like Attributes, but also keeps Intercom's rich-link
	// {url, value} and monetary {amount, currency} objects, at most 10 keys.
	Metadata Type = "metadata"
)

// Field describes one field of an action: the single source of truth for
// validation, Segment's default mapping, conversion and the README reference.
type Field struct {
	Name     string
	Type     Type
	Required bool     // the mapped value must be present, or the action fails
	Default  string   // Segment's default gjson path; "" for none
	Enum     []string // allowed values, for Type Enum
	Lookup   bool     // used to find the contact, not sent as an attribute
	Doc      string   // one line for the reference
}

// ActionSpec describes one Intercom action a rule can name.
type ActionSpec struct {
	Name    string // as written in rule files, e.g. "identify_contact"
	Title   string // Segment's name for it, e.g. "Identify Contact"
	Trigger string // Segment's preset trigger
	Doc     string // what it does, for the reference
	Calls   string // the Intercom call sequence, for the reference
	Fields  []Field
}

// Field returns the action's field called name.
func (a *ActionSpec) Field(name string) (*Field, bool) {
	for i := range a.Fields {
		if a.Fields[i].Name == name {
			return &a.Fields[i], true
		}
	}
	return nil, false
}

// FieldNames lists the action's field names in table order.
func (a *ActionSpec) FieldNames() []string {
	names := make([]string, len(a.Fields))
	for i, f := range a.Fields {
		names[i] = f.Name
	}
	return names
}

// Action names, as written in rule files.
const (
	IdentifyContact = "identify_contact"
	IdentifyCompany = "identify_company"
	TrackEvent      = "track_event"
	ConvertLead     = "convert_lead"
)

// Actions is the table of every action and its fields. Defaults follow
// Segment's Intercom Cloud Mode (Actions) presets.
var Actions = []ActionSpec{
	{
		Name:    IdentifyContact,
		Title:   "Identify Contact",
		Trigger: `type == "identify"`,
		Doc:     "Create or update a contact: a user, or a lead (a visitor who gave an email).",
		Calls:   "find the contact (cached id, else one search: external_id, or email among users; leads: email among leads) → `PUT /contacts/{id}`, or `POST /contacts` (a 409 names the existing contact, which is then updated)",
		Fields: []Field{
			{Name: "role", Type: Enum, Required: true, Enum: []string{"user", "lead"}, Doc: "`user`, or `lead` for contacts who are not signed up; set it with `{value: user}`"},
			{Name: "external_id", Type: String, Default: "userId", Doc: "your user id; users only (dropped with a warning for leads)"},
			{Name: "email", Type: String, Default: "traits.email", Doc: "a user needs an email or an external_id"},
			{Name: "phone", Type: String, Default: "traits.phone"},
			{Name: "name", Type: String, Default: "traits.name"},
			{Name: "avatar", Type: String, Default: "traits.avatar", Doc: "image URL"},
			{Name: "signed_up_at", Type: Datetime, Doc: "when the user signed up"},
			{Name: "last_seen_at", Type: Datetime, Default: "timestamp"},
			{Name: "owner_id", Type: Integer, Doc: "id of the admin who owns the contact"},
			{Name: "unsubscribed_from_emails", Type: Boolean},
			{Name: "custom_attributes", Type: Attributes, Doc: "flat object; attributes must already exist in the workspace"},
		},
	},
	{
		Name:    IdentifyCompany,
		Title:   "Identify Company",
		Trigger: `type == "group"`,
		Doc:     "Create or update a company and attach the contact (user or lead) to it.",
		Calls:   "`POST /companies` (create-or-update by company_id; skipped when identical to the last one sent) → find the contact (contact_id, cached id, else search) → `POST /contacts/{id}/companies`",
		Fields: []Field{
			{Name: "company_id", Type: String, Required: true, Default: "groupId", Doc: "your company id"},
			{Name: "name", Type: String, Default: "traits.name"},
			{Name: "remote_created_at", Type: Datetime, Default: "traits.createdAt", Doc: "when the company was created in your system"},
			{Name: "monthly_spend", Type: Number, Default: "traits.monthly_spend"},
			{Name: "plan", Type: String, Default: "traits.plan"},
			{Name: "size", Type: Integer, Default: "traits.employees", Doc: "number of employees"},
			{Name: "website", Type: String, Default: "traits.website"},
			{Name: "industry", Type: String, Default: "traits.industry"},
			{Name: "custom_attributes", Type: Attributes, Doc: "flat object; attributes must already exist in the workspace"},
			{Name: "contact_id", Type: String, Lookup: true, Doc: "Intercom's id of the contact to attach; skips the search"},
			{Name: "external_id", Type: String, Lookup: true, Default: "userId", Doc: "finds the user to attach"},
			{Name: "email", Type: String, Lookup: true, Default: "traits.email", Doc: "finds the contact to attach (how leads are attached)"},
		},
	},
	{
		Name:    TrackEvent,
		Title:   "Track Event",
		Trigger: `type == "track"`,
		Doc:     "Submit a data event for a user or a lead.",
		Calls:   "`POST /events` by id or user_id as given; with only an email, the contact is found first (cached id, else search) and the event sent with its id",
		Fields: []Field{
			{Name: "event_name", Type: String, Required: true, Default: "event", Doc: "`.` and `$` become `-`; Intercom compares names case-insensitively"},
			{Name: "created_at", Type: Datetime, Required: true, Default: "timestamp"},
			{Name: "user_id", Type: String, Lookup: true, Default: "userId", Doc: "the user's external_id"},
			{Name: "email", Type: String, Lookup: true, Default: "properties.email", Doc: "finds the contact (how events reach leads); removed from metadata"},
			{Name: "id", Type: String, Lookup: true, Doc: "Intercom's contact id"},
			{Name: "metadata", Type: Metadata, Default: "properties", Doc: "flat object, at most 10 keys; revenue, currency and email are removed"},
			{Name: "revenue", Type: Number, Default: "properties.revenue", Doc: "sent as `metadata.price = {amount, currency}` in minor units"},
			{Name: "currency", Type: String, Default: "properties.currency", Doc: "ISO 4217 code; `USD` when revenue is set without one"},
		},
	},
	{
		Name:  ConvertLead,
		Title: "Convert Lead",
		Doc:   "Turn a lead into a user: merge it into the user with this external_id if one exists, else make the lead that user.",
		Calls: "find the lead (lead_id, else search role=lead by email) → find the user by external_id → `POST /contacts/merge`, or `PUT /contacts/{lead}` with role user",
		Fields: []Field{
			{Name: "external_id", Type: String, Required: true, Default: "userId", Doc: "the user the lead becomes"},
			{Name: "lead_email", Type: String, Lookup: true, Default: "traits.email", Doc: "finds the lead"},
			{Name: "lead_id", Type: String, Lookup: true, Doc: "Intercom's id of the lead; skips the search"},
			{Name: "email", Type: String, Default: "traits.email", Doc: "the user's email, set when the lead becomes the user"},
		},
	},
}

// LookupAction returns the spec of the action called name.
func LookupAction(name string) (*ActionSpec, bool) {
	for i := range Actions {
		if Actions[i].Name == name {
			return &Actions[i], true
		}
	}
	return nil, false
}

// ActionNames lists the actions in table order.
func ActionNames() []string {
	names := make([]string, len(Actions))
	for i, a := range Actions {
		names[i] = a.Name
	}
	return names
}
