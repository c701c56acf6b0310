package wire

import (
	"reflect"
	"strings"
)

// Field is one field of an argument or result struct as the SDK's tags
// declare it. It is the one reading of those tags: the client's checks, the
// JSON and SOAP encoders, the lenient decoder and the method catalog all
// take their field names and rules from it.
//
//   - json:"name,omitempty,string": the STOMP (JSON) name; "-" means the
//     field is not sent over STOMP (JSON is then "").
//   - xml:"name,omitempty": the IVWS (SOAP) name; "-" means the field is not
//     sent over SOAP (XML is then ""). "namespace local" gives local.
//   - alias:"a,b": other names the decoder accepts for the field.
//   - iv:"required,digits,agent,optional,item=line": the client's rules (see
//     the fields below).
//
// A field without a json (or xml) tag goes by its Go name in that encoding.
type Field struct {
	Index  int          // reflect.Value.Field
	GoName string       // the Go name
	Type   reflect.Type // nil when parsed from source (ParseTag)

	JSON          string // the STOMP name; "" when not sent over STOMP
	JSONOmitEmpty bool
	XML           string // the IVWS name; "" when not sent over SOAP
	XMLOmitEmpty  bool
	Aliases       []string

	// Inline: an embedded struct with no name of its own, whose fields
	// stand in its place (the body of a Modify method).
	Inline bool
	// Optional: on an inline struct, none of its fields is required.
	Optional bool
	// Required: the client refuses the call when the value is empty.
	Required bool
	// Digits: the value must be ASCII digits when given.
	Digits bool
	// Agent: the value is "<accountcode>_<number>"; the client prefixes a
	// bare number with the call's accountcode.
	Agent bool
	// Item names the SOAP elements of a list's items ("line" gives <line1>).
	Item string
	// Extra: the map[string]any that keeps the members no field names.
	Extra bool
}

// Name returns the field's STOMP name, else its IVWS name.
func (f Field) Name() string {
	if f.JSON != "" {
		return f.JSON
	}
	return f.XML
}

// Fields returns the fields of the struct type t that the tags give a
// meaning to, in declaration order: exported fields, and embedded structs
// (Inline). Unexported fields and a field named XMLName are left out.
func Fields(t reflect.Type) []Field {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	out := make([]Field, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		ft := sf.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		embedded := sf.Anonymous && ft.Kind() == reflect.Struct
		if (!sf.IsExported() && !embedded) || sf.Name == "XMLName" {
			continue
		}
		f := ParseTag(sf.Name, sf.Tag, embedded)
		f.Index, f.Type = i, sf.Type
		f.Extra = sf.Name == "Extra" && sf.Type.Kind() == reflect.Map
		out = append(out, f)
	}
	return out
}

// ParseTag reads the tags of the field goName; embedded says whether the
// field is an embedded struct. The generator of the method catalog uses it
// on source, Fields on types.
func ParseTag(goName string, tag reflect.StructTag, embedded bool) Field {
	f := Field{GoName: goName}
	jsonTag, xmlTag := tag.Get("json"), tag.Get("xml")
	var jsonOpts, xmlOpts string
	f.JSON, jsonOpts, _ = strings.Cut(jsonTag, ",")
	f.XML, xmlOpts, _ = strings.Cut(xmlTag, ",")
	if j := strings.LastIndexByte(f.XML, ' '); j >= 0 {
		f.XML = f.XML[j+1:]
	}
	f.JSONOmitEmpty = hasOpt(jsonOpts, "omitempty")
	f.XMLOmitEmpty = hasOpt(xmlOpts, "omitempty")
	if embedded && f.JSON == "" && f.XML == "" {
		f.Inline = true
	}
	switch {
	case f.JSON == "-":
		f.JSON = ""
	case f.JSON == "" && !f.Inline:
		f.JSON = goName
	}
	switch {
	case f.XML == "-":
		f.XML = ""
	case f.XML == "" && !f.Inline:
		f.XML = goName
	}
	if a := tag.Get("alias"); a != "" {
		f.Aliases = strings.Split(a, ",")
	}
	iv := tag.Get("iv")
	f.Optional = hasOpt(iv, "optional")
	f.Required = hasOpt(iv, "required")
	f.Digits = hasOpt(iv, "digits")
	f.Agent = hasOpt(iv, "agent")
	for o := range strings.SplitSeq(iv, ",") {
		if v, ok := strings.CutPrefix(o, "item="); ok {
			f.Item = v
		}
	}
	return f
}

// hasOpt reports whether the comma-separated list opts holds opt.
func hasOpt(opts, opt string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}
