package soapx

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/instantvoice/instantvoice-go/internal/wire"
	"github.com/tiaguinho/gosoap"
)

// The request is handed to gosoap as ordered gosoap.ArrayParams whose values
// are only strings and nested ArrayParams: gosoap v1.4.4 writes an int, a
// bool or a struct as an empty element, and a Params map in random order.

// maxArgDepth bounds the nesting of an argument struct (and breaks pointer
// cycles).
const maxArgDepth = 16

// encoder turns arguments into request elements. It keeps what it learns of
// each argument type; a Transport has one.
type encoder struct {
	fields sync.Map // reflect.Type -> []field
}

// request returns the request elements: the key first, then the fields of
// args in declaration order.
func (e *encoder) request(key string, args any) (gosoap.ArrayParams, error) {
	ps := make(gosoap.ArrayParams, 1, 8)
	ps[0] = [2]interface{}{"key", key}
	if args == nil {
		return ps, nil
	}
	v := reflect.ValueOf(args)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return ps, nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		return e.appendStruct(ps, v, 0)
	case reflect.Map:
		return e.appendMap(ps, v, 0)
	}
	return nil, fmt.Errorf("arguments must be a struct or a map, not %s", v.Type())
}

// field is how one struct field is sent.
type field struct {
	index     int
	name      string // the element name
	omitEmpty bool
	item      string // the element prefix of list items: "line" gives <line1>, <line2>
	inline    bool   // an embedded struct without a name: its fields are sent in its place
}

// fieldsOf returns the sent fields of a struct type, as wire.Fields reads
// their tags: the xml name ("-" to skip, omitempty) and iv:"item=<prefix>".
// A field without an xml tag is sent under its Go name, as encoding/xml does.
func (e *encoder) fieldsOf(t reflect.Type) []field {
	if fs, ok := e.fields.Load(t); ok {
		return fs.([]field)
	}
	var fs []field
	for _, f := range wire.Fields(t) {
		switch {
		case f.Inline:
			fs = append(fs, field{index: f.Index, inline: true})
		case f.XML != "" && !f.Extra:
			fs = append(fs, field{index: f.Index, name: f.XML, omitEmpty: f.XMLOmitEmpty, item: f.Item})
		}
	}
	e.fields.Store(t, fs)
	return fs
}

func (e *encoder) appendStruct(ps gosoap.ArrayParams, v reflect.Value, depth int) (gosoap.ArrayParams, error) {
	if depth > maxArgDepth {
		return nil, fmt.Errorf("arguments nested deeper than %d levels", maxArgDepth)
	}
	for _, f := range e.fieldsOf(v.Type()) {
		fv := v.Field(f.index)
		if f.inline {
			for fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					break
				}
				fv = fv.Elem()
			}
			if fv.Kind() != reflect.Struct {
				continue
			}
			var err error
			if ps, err = e.appendStruct(ps, fv, depth+1); err != nil {
				return nil, err
			}
			continue
		}
		var err error
		if ps, err = e.appendValue(ps, f.name, f.item, f.omitEmpty, fv, depth+1); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

// appendMap sends a map's entries sorted by key, so that the request is the
// same every time.
func (e *encoder) appendMap(ps gosoap.ArrayParams, v reflect.Value, depth int) (gosoap.ArrayParams, error) {
	if depth > maxArgDepth {
		return nil, fmt.Errorf("arguments nested deeper than %d levels", maxArgDepth)
	}
	if v.Type().Key().Kind() != reflect.String {
		return nil, fmt.Errorf("map arguments need string keys, not %s", v.Type().Key())
	}
	keys := v.MapKeys()
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, k := range keys {
		name := k.String()
		if !isXMLName(name) {
			return nil, fmt.Errorf("map key %q is not an XML element name", name)
		}
		var err error
		if ps, err = e.appendValue(ps, name, "", false, v.MapIndex(k), depth+1); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

var textMarshalerType = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()

// appendValue appends the element name with v's value: text for scalars,
// nested elements for structs and maps, numbered items for slices. A nil
// pointer or interface is left out; so is an empty value with omitEmpty.
func (e *encoder) appendValue(ps gosoap.ArrayParams, name, item string, omitEmpty bool, v reflect.Value, depth int) (gosoap.ArrayParams, error) {
	if depth > maxArgDepth {
		return nil, fmt.Errorf("argument %s nested deeper than %d levels", name, maxArgDepth)
	}
	// omitempty looks at the field itself, as encoding/xml does: a non-nil
	// pointer to 0 is sent (Timeout: ivclient.Ptr(0) means "0").
	if !v.IsValid() || omitEmpty && isEmpty(v) {
		return ps, nil
	}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return ps, nil
		}
		if v.Type().Implements(textMarshalerType) && v.CanInterface() {
			break
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		return ps, nil
	}
	if v.Type().Implements(textMarshalerType) && v.CanInterface() {
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return nil, fmt.Errorf("argument %s: %v", name, err)
		}
		return append(ps, [2]interface{}{name, string(b)}), nil
	}
	if v.Type() == reflect.TypeOf(json.Number("")) {
		return append(ps, [2]interface{}{name, v.String()}), nil
	}
	switch v.Kind() {
	case reflect.String:
		return append(ps, [2]interface{}{name, v.String()}), nil
	case reflect.Bool:
		// "1"/"0" is both an xs:boolean and what the platform's flags take.
		s := "0"
		if v.Bool() {
			s = "1"
		}
		return append(ps, [2]interface{}{name, s}), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return append(ps, [2]interface{}{name, strconv.FormatInt(v.Int(), 10)}), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return append(ps, [2]interface{}{name, strconv.FormatUint(v.Uint(), 10)}), nil
	case reflect.Float32, reflect.Float64:
		return append(ps, [2]interface{}{name, strconv.FormatFloat(v.Float(), 'f', -1, v.Type().Bits())}), nil
	case reflect.Struct:
		kids, err := e.appendStruct(gosoap.ArrayParams{}, v, depth)
		if err != nil {
			return nil, err
		}
		return append(ps, [2]interface{}{name, kids}), nil
	case reflect.Map:
		kids, err := e.appendMap(gosoap.ArrayParams{}, v, depth)
		if err != nil {
			return nil, err
		}
		return append(ps, [2]interface{}{name, kids}), nil
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if v.Kind() == reflect.Slice {
				return append(ps, [2]interface{}{name, string(v.Bytes())}), nil
			}
			b := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(b), v)
			return append(ps, [2]interface{}{name, string(b)}), nil
		}
		prefix := itemPrefix(name, item)
		kids := make(gosoap.ArrayParams, 0, v.Len())
		for i := 0; i < v.Len(); i++ {
			var err error
			if kids, err = e.appendValue(kids, prefix+strconv.Itoa(i+1), "", false, v.Index(i), depth+1); err != nil {
				return nil, err
			}
		}
		return append(ps, [2]interface{}{name, kids}), nil
	}
	return nil, fmt.Errorf("argument %s: cannot send a %s", name, v.Type())
}

// isEmpty is encoding/xml's notion of an empty value for omitempty.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

// itemPrefix is the element prefix of a list's items: the iv tag's item=
// when given, else the list's name without its plural "s" ("lines" gives
// line1, line2, as the reference shows).
func itemPrefix(name, item string) string {
	if item != "" {
		return item
	}
	if p := strings.TrimSuffix(name, "s"); p != "" && p != name {
		return p
	}
	return name + "_item"
}

// isXMLName reports whether s can be an element name (a conservative subset
// of the XML Name production, without colons).
func isXMLName(s string) bool {
	if s == "" || strings.HasPrefix(strings.ToLower(s), "xml") {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 0x7f:
		case i > 0 && (r == '-' || r == '.' || r >= '0' && r <= '9'):
		default:
			return false
		}
	}
	return true
}

// paramsSize is the size in bytes of the names and values of the request
// elements: a lower bound of the envelope's, enough to refuse a request
// whose reply would be over the transport's limit.
func paramsSize(ps gosoap.ArrayParams) int64 {
	var n int64
	for _, p := range ps {
		for _, x := range p {
			switch v := x.(type) {
			case string:
				n += int64(len(v))
			case gosoap.ArrayParams:
				n += paramsSize(v)
			}
		}
	}
	return n
}
