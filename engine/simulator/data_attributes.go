package simulator

import (
	"net/http"
	"slices"
	"strings"
	"unicode"
)

// maxCustomAttributes is the most custom data attributes a workspace holds
// (Intercom's limit, across people and company data).
const maxCustomAttributes = 250

// dataTypes are the data types POST /data_attributes accepts.
var dataTypes = []string{"string", "integer", "float", "boolean", "date", "datetime"}

// dataAttributeJSON is a data attribute as the API renders it. Standard
// attributes have no id, admin_id or timestamps.
type dataAttributeJSON struct {
	ID                int64  `json:"id,omitempty"`
	Type              string `json:"type"`
	Name              string `json:"name"`
	FullName          string `json:"full_name"`
	Label             string `json:"label"`
	Description       string `json:"description,omitempty"`
	DataType          string `json:"data_type"`
	APIWritable       bool   `json:"api_writable"`
	UIWritable        bool   `json:"ui_writable"`
	MessengerWritable bool   `json:"messenger_writable"`
	Custom            bool   `json:"custom"`
	Archived          bool   `json:"archived"`
	AdminID           string `json:"admin_id,omitempty"`
	CreatedAt         int64  `json:"created_at,omitempty"`
	UpdatedAt         int64  `json:"updated_at,omitempty"`
	Model             string `json:"model"`
}

// standardAttribute is one of the built-in attributes GET /data_attributes
// lists (a selection of Intercom's).
type standardAttribute struct {
	name, fullName, label, description, dataType string
	apiWritable                                  bool
}

var standardAttributes = map[string][]standardAttribute{
	"contact": {
		{"external_id", "external_id", "External ID", "Your own identifier for the contact", "string", true},
		{"email", "email", "Email", "The contact's email address", "string", true},
		{"phone", "phone", "Phone", "The contact's phone number", "string", true},
		{"name", "name", "Name", "The contact's name", "string", true},
		{"owner_id", "owner_id", "Owner", "The admin who owns the contact", "integer", true},
		{"signed_up_at", "signed_up_at", "Signed up", "When the contact signed up", "date", true},
		{"last_seen_at", "last_seen_at", "Last seen", "When the contact was last seen", "date", true},
		{"unsubscribed_from_emails", "unsubscribed_from_emails", "Unsubscribed from emails", "Whether the contact has unsubscribed from emails", "boolean", true},
	},
	"company": {
		{"company_id", "company_id", "Company ID", "Your own identifier for the company", "string", false},
		{"name", "name", "Company name", "The company's name", "string", true},
		{"name", "plan.name", "Plan", "The plan the company is on", "string", false},
		{"size", "size", "Company size", "The number of people the company employs", "integer", true},
		{"website", "website", "Company website", "The company's website", "string", true},
		{"industry", "industry", "Company industry", "The company's industry", "string", true},
		{"monthly_spend", "monthly_spend", "Monthly Spend", "The monthly revenue from the company", "float", true},
		{"remote_created_at", "remote_created_at", "Company created at", "When the company was created in your system", "date", true},
		{"user_count", "user_count", "People", "The number of contacts in the company", "integer", false},
	},
}

// modelWords names a model's data in Intercom's messages.
var modelWords = map[string]string{"contact": "people", "company": "company"}

// customAttribute finds an attribute created for model with that name.
func (st *store) customAttribute(model, name string) *DataAttribute {
	for i := range st.attrs {
		if a := &st.attrs[i]; a.Model == model && a.Name == name {
			return a
		}
	}
	return nil
}

// hasCustomAttribute reports whether model has a custom attribute name,
// created or from Options.DataAttributes. The caller holds s.mu.
func (s *Server) hasCustomAttribute(model, name string) bool {
	return slices.Contains(s.predefined, name) || s.st.customAttribute(model, name) != nil
}

// validAttributeName accepts letters, digits, spaces, hyphens, underscores
// and currency symbols. Intercom's message names only letters, digits,
// currency symbols and hyphens, but its own examples have spaces and
// underscores.
func validAttributeName(name string) bool {
	if strings.TrimSpace(name) == "" {
		return false
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Sc, r) && !strings.ContainsRune(" -_", r) {
			return false
		}
	}
	return true
}

func renderStandardAttribute(model string, a standardAttribute) dataAttributeJSON {
	return dataAttributeJSON{
		Type:              "data_attribute",
		Name:              a.name,
		FullName:          a.fullName,
		Label:             a.label,
		Description:       a.description,
		DataType:          a.dataType,
		APIWritable:       a.apiWritable,
		MessengerWritable: true,
		Model:             model,
	}
}

// renderPredefined renders a name of Options.DataAttributes: a custom
// string attribute with no known creator or creation time. Its id is its
// position, contact ones first.
func (s *Server) renderPredefined(model, name string) dataAttributeJSON {
	id := int64(slices.Index(s.predefined, name)) + 1
	if model == "company" {
		id += int64(len(s.predefined))
	}
	return dataAttributeJSON{
		ID:          id,
		Type:        "data_attribute",
		Name:        name,
		FullName:    "custom_attributes." + name,
		Label:       name,
		DataType:    "string",
		APIWritable: true,
		Custom:      true,
		Model:       model,
	}
}

func renderCustomAttribute(a DataAttribute) dataAttributeJSON {
	return dataAttributeJSON{
		ID:                a.ID,
		Type:              "data_attribute",
		Name:              a.Name,
		FullName:          "custom_attributes." + a.Name,
		Label:             a.Name,
		Description:       a.Description,
		DataType:          a.DataType,
		APIWritable:       true,
		MessengerWritable: a.MessengerWritable,
		Custom:            true,
		AdminID:           simAdmin().ID,
		CreatedAt:         a.CreatedAt,
		UpdatedAt:         a.CreatedAt,
		Model:             a.Model,
	}
}

// listDataAttributes serves GET /data_attributes?model=contact|company: the
// model's standard attributes, then the names of Options.DataAttributes,
// then the attributes created with POST /data_attributes. Without model it
// lists the contact attributes, then the company ones. include_archived is
// ignored: nothing is archived.
func listDataAttributes(s *Server, c *call) (int, any, *apiError) {
	models := []string{"contact", "company"}
	if q := c.r.URL.Query(); q.Has("model") {
		m := q.Get("model")
		if m != "contact" && m != "company" {
			return 0, nil, errInvalid("model must be one of: contact, company")
		}
		models = []string{m}
	}
	data := []dataAttributeJSON{}
	for _, m := range models {
		for _, a := range standardAttributes[m] {
			data = append(data, renderStandardAttribute(m, a))
		}
		for _, name := range s.predefined {
			data = append(data, s.renderPredefined(m, name))
		}
		for _, a := range s.st.attrs {
			if a.Model == m {
				data = append(data, renderCustomAttribute(a))
			}
		}
	}
	return http.StatusOK, struct {
		Type string              `json:"type"`
		Data []dataAttributeJSON `json:"data"`
	}{"list", data}, nil
}

// createDataAttribute serves POST /data_attributes {"name", "model",
// "data_type", "description", "messenger_writable"}: it creates a custom
// attribute and answers it. As in Intercom's spec, a name may be used once
// across people and company data. Past maxCustomAttributes (counting the
// names of Options.DataAttributes once each) the answer is 400
// parameter_invalid: Intercom documents the limit but not its error, so the
// status, code and message are the simulator's.
func createDataAttribute(s *Server, c *call) (int, any, *apiError) {
	st := &s.st
	p, e := parseParams(c.body)
	if e != nil {
		return 0, nil, e
	}
	if _, ok := p["options"]; ok {
		return 0, nil, errInvalid("options is not supported by the simulator: it does not model list attributes")
	}
	if e := p.only("name", "model", "data_type", "description", "messenger_writable"); e != nil {
		return 0, nil, e
	}
	var name, model, dataType, description string
	for _, f := range []struct {
		key string
		dst *string
	}{{"name", &name}, {"model", &model}, {"data_type", &dataType}, {"description", &description}} {
		if *f.dst, _, e = p.str(f.key); e != nil {
			return 0, nil, e
		}
	}
	messenger, _, e := p.boolean("messenger_writable")
	if e != nil {
		return 0, nil, e
	}
	switch {
	case name == "":
		return 0, nil, errMissing("name not specified")
	case model == "":
		return 0, nil, errMissing("model not specified")
	case dataType == "":
		return 0, nil, errMissing("data_type not specified")
	case model != "contact" && model != "company":
		return 0, nil, errInvalid("The Data Attribute model field must be either contact or company")
	case !slices.Contains(dataTypes, dataType):
		return 0, nil, errInvalid("Data Type isn't an option")
	case !validAttributeName(name):
		return 0, nil, errInvalid("Your name for this attribute must only contain alphanumeric characters, currency symbols, and hyphens")
	}
	other := "company"
	if model == "company" {
		other = "contact"
	}
	for _, m := range []string{model, other} {
		if s.hasCustomAttribute(m, name) {
			return 0, nil, errInvalid("You already have '%s' in your %s data. To save this as new %s data, use a different name.",
				name, modelWords[m], modelWords[model])
		}
	}
	if len(s.predefined)+len(st.attrs) >= maxCustomAttributes {
		return 0, nil, errInvalid("You have reached the limit of %d custom data attributes: archive unused ones to create more", maxCustomAttributes)
	}

	st.attrSeq++
	a := DataAttribute{
		ID:                int64(2*len(s.predefined)) + int64(st.attrSeq),
		Model:             model,
		Name:              name,
		DataType:          dataType,
		Description:       description,
		MessengerWritable: messenger,
		CreatedAt:         s.now().Unix(),
	}
	st.attrs = append(st.attrs, a)
	return http.StatusOK, renderCustomAttribute(a), nil
}
