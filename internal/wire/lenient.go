package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// DecodeLenient decodes the JSON object data into the struct that dst points
// to, as leniently as the platform needs:
//
//   - a field is matched by its json tag name, by any name in its `alias`
//     tag (comma separated), or case-insensitively by either;
//   - strings accept numbers and booleans (as their text) and Python one-tuple
//     text ("('0001',)" becomes "0001"); null leaves the zero value;
//   - integers accept numbers, numeric strings, "" and null (zero); floats
//     with no fraction are accepted;
//   - pointer fields are set only when the value is not null;
//   - bools accept true/false, 1/0, "yes"/"no", "true"/"false", "1"/"0";
//   - []string accepts a list of strings or numbers;
//   - every member no field names is kept in the field named Extra, a
//     map[string]any, with its decoded JSON value.
//
// It fails on a value that cannot stand for its field's type (an object for
// an int, "abc" for an int), naming the field.
func DecodeLenient(data []byte, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return errors.New("wire: DecodeLenient needs a pointer to a struct")
	}
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("wire: expected an object: %w", err)
	}
	sv := rv.Elem()
	st := sv.Type()
	type target struct {
		idx  int
		name string
	}
	exact := make(map[string]target, st.NumField()*2)
	folded := make(map[string]target, st.NumField()*2)
	extra := -1
	for _, f := range Fields(st) {
		if f.Extra {
			extra = f.Index
			continue
		}
		if f.Inline || f.JSON == "" {
			continue
		}
		for _, n := range append([]string{f.JSON}, f.Aliases...) {
			exact[n] = target{f.Index, f.JSON}
			folded[strings.ToLower(n)] = target{f.Index, f.JSON}
		}
	}
	var extras map[string]any
	var fieldErrs []error
	for k, raw := range m {
		t, ok := exact[k]
		if !ok {
			t, ok = folded[strings.ToLower(k)]
		}
		if !ok {
			if extra >= 0 {
				var v any
				if json.Unmarshal(raw, &v) == nil {
					if extras == nil {
						extras = make(map[string]any)
					}
					extras[k] = v
				}
			}
			continue
		}
		if err := setLenient(sv.Field(t.idx), raw); err != nil {
			fieldErrs = append(fieldErrs, fmt.Errorf("field %q: %w", k, err))
		}
	}
	if extra >= 0 && extras != nil {
		ev := sv.Field(extra)
		if ev.Type() == reflect.TypeOf(map[string]any(nil)) {
			ev.Set(reflect.ValueOf(extras))
		}
	}
	return errors.Join(fieldErrs...)
}

// setLenient sets v from the JSON value raw as DecodeLenient describes.
func setLenient(v reflect.Value, raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		v.Set(reflect.Zero(v.Type()))
		return nil
	}
	if v.Kind() == reflect.Pointer {
		nv := reflect.New(v.Type().Elem())
		if err := setLenient(nv.Elem(), raw); err != nil {
			return err
		}
		v.Set(nv)
		return nil
	}
	if u, ok := v.Addr().Interface().(json.Unmarshaler); ok {
		return u.UnmarshalJSON(raw)
	}
	switch v.Kind() {
	case reflect.String:
		s, err := LenientString(raw)
		if err != nil {
			return err
		}
		v.SetString(s)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := LenientInt(raw)
		if err != nil {
			return err
		}
		if v.OverflowInt(n) {
			return errors.New("integer out of range")
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := LenientInt(raw)
		if err != nil {
			return err
		}
		if n < 0 || v.OverflowUint(uint64(n)) {
			return errors.New("integer out of range")
		}
		v.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		return setFloat(v, raw)
	case reflect.Bool:
		b, err := LenientBool(raw)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Slice:
		return setSlice(v, raw)
	case reflect.Struct:
		return DecodeLenient(raw, v.Addr().Interface())
	case reflect.Interface:
		var x any
		if err := json.Unmarshal(raw, &x); err != nil {
			return err
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.Map:
		return json.Unmarshal(raw, v.Addr().Interface())
	default:
		return fmt.Errorf("unsupported field type %s", v.Type())
	}
	return nil
}

// setFloat sets the float v from a number, or a string holding one ("" is
// 0).
func setFloat(v reflect.Value, raw json.RawMessage) error {
	s, err := LenientString(raw)
	if err != nil {
		return err
	}
	if strings.TrimSpace(s) == "" {
		v.SetFloat(0)
		return nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return errors.New("not a number")
	}
	v.SetFloat(f)
	return nil
}

// setSlice sets the slice v from a list, or from a single value as a list
// of one.
func setSlice(v reflect.Value, raw json.RawMessage) error {
	if raw[0] != '[' {
		raw = append(append([]byte{'['}, raw...), ']')
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return err
	}
	out := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, it := range items {
		if err := setLenient(out.Index(i), it); err != nil {
			return fmt.Errorf("item %d: %w", i, err)
		}
	}
	v.Set(out)
	return nil
}

// LenientString returns the text of a JSON string, number or bool; a string
// holding a Python one-tuple is unwrapped; null is "". Lists and objects are
// an error.
func LenientString(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return UnwrapTuple(s), nil
	case 'n':
		return "", nil
	case 't', 'f':
		return string(raw), nil
	case '[', '{':
		return "", errors.New("expected a scalar, got a list or object")
	default:
		return string(raw), nil
	}
}

// LenientInt returns the integer of a JSON number or numeric string; "" and
// null are 0. A float with no fraction is accepted.
func LenientInt(raw json.RawMessage) (int64, error) {
	s, err := LenientString(raw)
	if err != nil {
		return 0, err
	}
	s = strings.TrimSpace(s)
	switch s {
	case "", "None":
		return 0, nil
	case "true":
		return 1, nil
	case "false":
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
		return 0, fmt.Errorf("%q is not an integer", truncate(s, 32))
	}
	return int64(f), nil
}

// LenientBool reads true/false, 1/0, yes/no (and their string forms).
func LenientBool(raw json.RawMessage) (bool, error) {
	s, err := LenientString(raw)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "y", "on":
		return true, nil
	case "false", "0", "no", "n", "off", "":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a flag", truncate(s, 32))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// EncodeWithExtra encodes the struct v as one JSON object: its fields in
// declaration order under their json tag names (fields tagged "-" left out,
// and those tagged omitempty when zero), then the members of its Extra map
// (a map[string]any) in name order, those that a field already names left
// out. It is the inverse of DecodeLenient, for result types that keep
// unknown members.
func EncodeWithExtra(v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Struct {
		return nil, errors.New("wire: EncodeWithExtra needs a struct")
	}
	rt := rv.Type()
	b := append(make([]byte, 0, 256), '{')
	named := make(map[string]bool, rt.NumField())
	var extra map[string]any
	first := true
	member := func(name string, value any) error {
		vb, err := json.Marshal(value)
		if err != nil {
			return fmt.Errorf("wire: field %q: %w", name, err)
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		kb, _ := json.Marshal(name)
		b = append(append(append(b, kb...), ':'), vb...)
		return nil
	}
	for _, f := range Fields(rt) {
		if f.Extra {
			extra, _ = rv.Field(f.Index).Interface().(map[string]any)
			continue
		}
		if f.Inline || f.JSON == "" {
			continue
		}
		named[strings.ToLower(f.JSON)] = true
		if f.JSONOmitEmpty && rv.Field(f.Index).IsZero() {
			continue
		}
		if err := member(f.JSON, rv.Field(f.Index).Interface()); err != nil {
			return nil, err
		}
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		if !named[strings.ToLower(k)] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := member(k, extra[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}
