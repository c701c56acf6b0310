package ivclient

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/instantvoice/instantvoice-go/internal/wire"
)

// prepare checks the arguments of a call against their iv tags (read by
// wire.Fields, the one reader of the tags) and prefixes the bare agent
// numbers of the fields tagged agent. args is the struct a method built for
// this call, so that prefixing it changes nothing of the caller's.
func (c *Client) prepare(method string, args any) error {
	if args == nil {
		return nil
	}
	v := reflect.ValueOf(args)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return &ArgError{Method: method, Arg: "arguments", Reason: "is nil"}
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	ck := checker{method: method, fields: c.fieldsOf}
	ck.check("", v, true)
	if len(ck.missing) > 0 {
		reason := "is required"
		if len(ck.missing) > 1 {
			reason = "are required"
		}
		return &ArgError{Method: method, Arg: strings.Join(ck.missing, ", "), Reason: reason}
	}
	if ck.err != nil {
		return ck.err
	}
	if c.autoAgent && v.CanSet() {
		prefixAgents(v, c.fieldsOf(v.Type()))
	}
	return nil
}

// fieldsOf returns wire.Fields(t), read once per type and client.
func (c *Client) fieldsOf(t reflect.Type) []wire.Field {
	if fs, ok := c.fields.Load(t); ok {
		return fs.([]wire.Field)
	}
	fs := wire.Fields(t)
	c.fields.Store(t, fs)
	return fs
}

// checker walks an argument struct: every missing required argument, and
// the first other fault.
type checker struct {
	method  string
	fields  func(reflect.Type) []wire.Field
	missing []string
	err     *ArgError
}

func (ck *checker) fail(name, reason string) {
	if ck.err == nil {
		ck.err = &ArgError{Method: ck.method, Arg: name, Reason: reason}
	}
}

// check checks one struct; inside an inline struct tagged iv:"optional"
// (the body of a Modify method) nothing is required.
func (ck *checker) check(prefix string, v reflect.Value, enforce bool) {
	for _, f := range ck.fields(v.Type()) {
		fv := v.Field(f.Index)
		if f.Inline {
			for fv.Kind() == reflect.Pointer && !fv.IsNil() {
				fv = fv.Elem()
			}
			if fv.Kind() == reflect.Struct {
				ck.check(prefix, fv, enforce && !f.Optional)
			}
			continue
		}
		name := prefix + f.Name()
		required := enforce && f.Required
		switch fv.Kind() {
		case reflect.String:
			s := fv.String()
			switch {
			case required && strings.TrimSpace(s) == "":
				ck.missing = append(ck.missing, name)
			case f.Digits && s != "" && !isDigits(s):
				ck.fail(name, "must be a number")
			case strings.Contains(s, "\x00"):
				ck.fail(name, "contains a NUL byte")
			}
		case reflect.Int, reflect.Int64:
			if required && fv.Int() == 0 {
				ck.missing = append(ck.missing, name)
			} else if fv.Int() < 0 {
				ck.fail(name, "must not be negative")
			}
		case reflect.Pointer:
			if required && fv.IsNil() {
				ck.missing = append(ck.missing, name)
			} else if !fv.IsNil() && fv.Elem().Kind() == reflect.Int && fv.Elem().Int() < 0 {
				ck.fail(name, "must not be negative")
			}
		case reflect.Slice:
			if required && fv.Len() == 0 {
				ck.missing = append(ck.missing, name)
			}
			for j := 0; j < fv.Len(); j++ {
				if it := fv.Index(j); it.Kind() == reflect.Struct {
					ck.check(fmt.Sprintf("%s[%d].", name, j), it, enforce)
				}
			}
		}
	}
}

// prefixAgents makes each bare number of a field tagged iv:"agent"
// "<accountcode>_<number>", with the accountcode of the same struct.
func prefixAgents(v reflect.Value, fields []wire.Field) {
	var accountcode string
	for _, f := range fields {
		if strings.EqualFold(f.GoName, "Accountcode") && f.Type.Kind() == reflect.String {
			accountcode = v.Field(f.Index).String()
		}
	}
	if accountcode == "" {
		return
	}
	for _, f := range fields {
		if fv := v.Field(f.Index); f.Agent && fv.Kind() == reflect.String && isDigits(fv.String()) {
			fv.SetString(accountcode + "_" + fv.String())
		}
	}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
