package ivclient

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Invoke calls the method named method (as the platform spells it, see
// Methods) with args, its arguments by their STOMP names (ArgInfo.Name),
// matched without regard to case. It runs the typed method (AgentLogin for
// "AgentLogin"), with its checks, its prefixing of bare agent numbers and its
// decoding, and returns what that method returns besides its error: nil for a
// method that returns only an error, else a []string, a string, a
// *AgentInfo, a []AgentLine, ... (MethodInfo.Result). It is meant for
// gateways and tools that take calls by name, such as ivctl; programs should
// call the typed methods.
//
// Values may be strings, numbers (int, float64, json.Number), booleans, and,
// for the lists (AgentLineAdd's lines, AgentQueueAdd's queues), a []any of
// map[string]any as encoding/json decodes them. An empty string is an
// argument not given. An unknown method, an unknown argument, a value of the
// wrong type or a missing mandatory argument fails with an error matching
// ErrInvalidArgument (an *ArgError, but for an unknown method) before
// anything is sent. The observer (WithObserver) sees every call of a method,
// refused ones included; a name that is no method is not observed.
func (c *Client) Invoke(ctx context.Context, method string, args map[string]any) (any, error) {
	m, ok := find(method)
	if !ok {
		return nil, fmt.Errorf("%w: no method %q", ErrInvalidArgument, method)
	}
	var start time.Time
	if c.observe != nil {
		start = time.Now()
	}
	a := reflect.New(m.args)
	if err := setArgs(m.name, "", a.Elem(), args); err != nil {
		if c.observe != nil {
			c.observe(orBackground(ctx), CallInfo{Method: m.name, Duration: time.Since(start), Err: err})
		}
		return nil, err
	}
	return m.invoke(c, ctx, a.Interface())
}

// setArgs sets the fields of the argument struct v from args.
func setArgs(method, prefix string, v reflect.Value, args map[string]any) error {
	fields := fieldsOf(v.Type(), true)
	seen := make(map[int]string, len(args))
	for name, val := range args {
		i := -1
		for j, f := range fields {
			if strings.EqualFold(f.name, name) {
				i = j
				break
			}
		}
		if i < 0 {
			return &ArgError{Method: method, Arg: prefix + name, Reason: "is not an argument of " + method}
		}
		if other, dup := seen[i]; dup {
			return &ArgError{Method: method, Arg: prefix + name, Reason: "is given twice (as " + other + ")"}
		}
		seen[i] = name
		f := fields[i]
		if err := setArg(method, prefix+f.name, v.FieldByIndex(f.index), val); err != nil {
			return err
		}
	}
	return nil
}

// setArg sets one field from a value as Invoke describes.
func setArg(method, name string, v reflect.Value, val any) error {
	bad := func(reason string) error { return &ArgError{Method: method, Arg: name, Reason: reason} }
	if val == nil {
		return nil
	}
	if s, ok := val.(string); ok && strings.TrimSpace(s) == "" && v.Kind() != reflect.String {
		return nil
	}
	if v.Kind() == reflect.Pointer {
		nv := reflect.New(v.Type().Elem())
		if err := setArg(method, name, nv.Elem(), val); err != nil {
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
		var items []any
		switch x := val.(type) {
		case []any:
			items = x
		case map[string]any:
			items = []any{x}
		case []map[string]any:
			for _, m := range x {
				items = append(items, m)
			}
		default:
			return bad(`must be a list of objects, such as [{"name":"7000"}]`)
		}
		out := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				return bad(fmt.Sprintf("item %d is not an object", i))
			}
			if err := setArgs(method, fmt.Sprintf("%s[%d].", name, i), out.Index(i), m); err != nil {
				return err
			}
		}
		v.Set(out)
	default:
		return bad("has a type Invoke cannot set")
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

func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
