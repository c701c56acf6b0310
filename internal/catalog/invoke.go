package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/instantvoice/instantvoice-go/internal/wire"
	"github.com/instantvoice/instantvoice-go/ivclient"
)

// Invoke calls the method named name (as the platform spells it) on c with
// args, its arguments by their STOMP names (ArgInfo.Name) matched without
// regard to case. It runs the typed method (c.AgentLogin for "AgentLogin"),
// with its checks, its prefixing of bare agent numbers and its decoding,
// and returns what that method returns besides its error: nil for a method
// that returns only an error, else a []string, a string, a
// *ivclient.AgentInfo, ... (MethodInfo.Result).
//
// Values may be strings, numbers (int, int64, float64, json.Number),
// booleans, and, for a list, a []any of map[string]any as encoding/json
// decodes them (a single object is not a list). An empty string is an
// argument not given. An unknown method or argument, an argument given
// twice or a value of the wrong type fails with an error matching
// ivclient.ErrInvalidArgument before the method is called; the method's own
// checks (missing arguments, digits) then apply as they do to a typed call.
func Invoke(ctx context.Context, c *ivclient.Client, name string, args map[string]any) (any, error) {
	m, ok := find(name)
	if !ok {
		return nil, fmt.Errorf("%w: no method %q", ivclient.ErrInvalidArgument, name)
	}
	vals, err := byIndex(m.info, "", args)
	if err != nil {
		return nil, err
	}
	fn := reflect.ValueOf(c).MethodByName(m.info.Name)
	ft := fn.Type()
	in := []reflect.Value{reflect.Zero(ft.In(0))} // a nil ctx: the typed method refuses it
	if ctx != nil {
		in[0] = reflect.ValueOf(ctx)
	}
	for i, idx := range m.params {
		pt := ft.In(i + 1)
		v := reflect.New(pt).Elem()
		if err := setParam(m.info, v, idx, vals); err != nil {
			return nil, err
		}
		in = append(in, v)
	}
	var out []reflect.Value
	if ft.IsVariadic() {
		out = fn.CallSlice(in)
	} else {
		out = fn.Call(in)
	}
	if err, _ := out[len(out)-1].Interface().(error); err != nil {
		return nil, err
	}
	if len(out) == 1 {
		return nil, nil
	}
	return out[0].Interface(), nil
}

// byIndex matches the names of args to the arguments of m: the value of
// each argument given, by its index in m.Args.
func byIndex(m MethodInfo, prefix string, args map[string]any) (map[int]any, error) {
	vals := make(map[int]any, len(args))
	given := make(map[int]string, len(args))
	for k, v := range args {
		i := m.argIndex(k)
		if i < 0 {
			return nil, &ivclient.ArgError{Method: m.Name, Arg: prefix + k, Reason: "is not an argument of " + m.Name}
		}
		if other, dup := given[i]; dup {
			return nil, &ivclient.ArgError{Method: m.Name, Arg: prefix + k, Reason: "is given twice (as " + other + ")"}
		}
		given[i] = k
		vals[i] = v
	}
	return vals, nil
}

// setParam sets the parameter v from the arguments idx make it of: one
// argument, or the fields of a body struct.
func setParam(m MethodInfo, v reflect.Value, idx []int, vals map[int]any) error {
	if v.Kind() != reflect.Struct {
		a := m.Args[idx[0]]
		return setValue(m, a, a.Name, v, vals[idx[0]])
	}
	fields := wire.Fields(v.Type())
	for _, i := range idx {
		a := m.Args[i]
		val, ok := vals[i]
		if !ok {
			continue
		}
		for _, f := range fields {
			if f.JSON == a.Name {
				if err := setValue(m, a, a.Name, v.Field(f.Index), val); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// setValue sets v, the value of argument a (named name in errors), from
// val as Invoke describes.
func setValue(m MethodInfo, a ArgInfo, name string, v reflect.Value, val any) error {
	bad := func(reason string) error { return &ivclient.ArgError{Method: m.Name, Arg: name, Reason: reason} }
	if val == nil {
		return nil
	}
	if s, ok := val.(string); ok && strings.TrimSpace(s) == "" && v.Kind() != reflect.String {
		return nil
	}
	if v.Kind() == reflect.Pointer {
		nv := reflect.New(v.Type().Elem())
		if err := setValue(m, a, name, nv.Elem(), val); err != nil {
			return err
		}
		v.Set(nv)
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		s, ok := scalarText(val)
		if !ok {
			return bad("must be a single value")
		}
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		n, ok := scalarInt(val)
		if !ok {
			return bad("must be an integer")
		}
		v.SetInt(n)
	case reflect.Bool:
		b, ok := scalarFlag(val)
		if !ok {
			return bad("must be 1 or 0")
		}
		v.SetBool(b)
	case reflect.Slice:
		return setList(m, a, name, v, val)
	default:
		return bad("has a type Invoke cannot set")
	}
	return nil
}

// setList sets the list v from a []any of objects.
func setList(m MethodInfo, a ArgInfo, name string, v reflect.Value, val any) error {
	items, ok := val.([]any)
	if !ok {
		return &ivclient.ArgError{Method: m.Name, Arg: name, Reason: `must be a list of objects, such as [{"name":"7000"}]`}
	}
	sub := MethodInfo{Name: m.Name, Args: a.Items}
	all := make([]int, len(a.Items))
	for i := range all {
		all[i] = i
	}
	out := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, it := range items {
		obj, ok := it.(map[string]any)
		if !ok {
			return &ivclient.ArgError{Method: m.Name, Arg: name, Reason: fmt.Sprintf("item %d is not an object", i)}
		}
		prefix := fmt.Sprintf("%s[%d].", name, i)
		vals, err := byIndex(sub, prefix, obj)
		if err != nil {
			return err
		}
		if err := setItem(sub, prefix, out.Index(i), vals); err != nil {
			return err
		}
	}
	v.Set(out)
	return nil
}

// setItem sets the fields of one list item.
func setItem(sub MethodInfo, prefix string, v reflect.Value, vals map[int]any) error {
	for _, f := range wire.Fields(v.Type()) {
		for i, a := range sub.Args {
			if f.JSON == a.Name {
				if err := setValue(sub, a, prefix+a.Name, v.Field(f.Index), vals[i]); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func scalarText(val any) (string, bool) {
	switch x := val.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

func scalarInt(val any) (int64, bool) {
	switch x := val.(type) {
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, false
		}
		return int64(x), true
	case int:
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

func scalarFlag(val any) (bool, bool) {
	if b, ok := val.(bool); ok {
		return b, true
	}
	s, ok := scalarText(val)
	if !ok {
		return false, false
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true":
		return true, true
	case "0", "false":
		return false, true
	}
	return false, false
}
