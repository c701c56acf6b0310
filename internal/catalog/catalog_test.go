package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	. "github.com/instantvoice/instantvoice-go/internal/catalog"
	"github.com/instantvoice/instantvoice-go/ivclient"
)

// recorder is a Transport that answers every call with success and keeps
// the requests, encoded as the STOMP transport would encode their arguments.
type recorder struct{ reqs []map[string]any }

func (r *recorder) Call(_ context.Context, req *ivclient.Request, _ any) error {
	b, err := json.Marshal(req.Args)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	r.reqs = append(r.reqs, m)
	return nil
}

func (r *recorder) Close() error { return nil }

// sample returns a valid value for an argument.
func sample(a ArgInfo) any {
	switch a.Kind {
	case ArgInteger, ArgFlag:
		return "1"
	case ArgList:
		return []any{samples(a.Items)}
	}
	if a.Digits || a.Agent {
		return "1001"
	}
	return "x"
}

// samples returns a valid value for each argument, by name.
func samples(args []ArgInfo) map[string]any {
	m := make(map[string]any, len(args))
	for _, a := range args {
		m[a.Name] = sample(a)
	}
	return m
}

func TestMethodTable(t *testing.T) {
	methods := Methods()
	if len(methods) != 41 {
		t.Fatalf("%d methods, want 41", len(methods))
	}
	client := reflect.TypeOf(&ivclient.Client{})
	seen := map[string]bool{}
	for _, m := range methods {
		if seen[m.Name] {
			t.Errorf("%s listed twice", m.Name)
		}
		seen[m.Name] = true
		if _, ok := client.MethodByName(m.Name); !ok {
			t.Errorf("%s is not a method of *Client", m.Name)
		}
		if got, ok := Lookup(m.Name); !ok || !reflect.DeepEqual(got, m) {
			t.Errorf("Lookup(%q) = %+v, %v", m.Name, got, ok)
		}
		if m.Doc == "" || len(m.Args) == 0 {
			t.Errorf("%s: no doc or no arguments", m.Name)
		}
		for _, a := range m.Args {
			for _, a := range append([]ArgInfo{a}, a.Items...) {
				if a.Name == "" || a.Doc == "" {
					t.Errorf("%s: argument %+v has no name or no doc", m.Name, a)
				}
			}
			if (a.Kind == ArgList) != (len(a.Items) > 0) {
				t.Errorf("%s.%s: kind %s with %d items", m.Name, a.Name, a.Kind, len(a.Items))
			}
		}
	}
	if _, ok := Lookup("PollEvents"); ok {
		t.Error("Lookup found PollEvents, a COM method")
	}
	// The table is the caller's: changing it changes nothing for the next caller.
	methods[0].Args[0].Name = "changed"
	if Methods()[0].Args[0].Name == "changed" {
		t.Error("Methods shares its slices between calls")
	}
}

func TestMethodTableWireNames(t *testing.T) {
	want := map[string][2]string{ // method.arg: STOMP name, XML name
		"NewCall.Agent":               {"Agent", "User"},
		"AgentAdd.pass":               {"pass", "passwd"},
		"SipUserAdd.call-limit":       {"call-limit", "call_limit"},
		"NewCallBack.Ruleid":          {"Ruleid", ""},
		"AgentLogin.Interface":        {"Interface", "Interface"},
		"SipUserModify.original_name": {"original_name", "original_name"},
	}
	for k, names := range want {
		method, arg, _ := strings.Cut(k, ".")
		m, _ := Lookup(method)
		a, ok := m.Arg(strings.ToUpper(arg))
		if !ok || a.Name != names[0] || a.XMLName != names[1] {
			t.Errorf("%s: %+v, %v; want %q / %q", k, a, ok, names[0], names[1])
		}
	}
	m, _ := Lookup("AgentLineAdd")
	lines, _ := m.Arg("lines")
	if lines.Kind != ArgList || !lines.Required || len(lines.Items) != 3 || lines.Items[0].Name != "linenumber" || !lines.Items[0].Required {
		t.Errorf("AgentLineAdd lines: %+v", lines)
	}
	m, _ = Lookup("AgentModify")
	if a, _ := m.Arg("user"); a.Required || !a.Digits {
		t.Errorf("AgentModify user: %+v, want optional digits", a)
	}
	if a, _ := m.Arg("original_user"); !a.Required {
		t.Errorf("AgentModify original_user: %+v, want required", a)
	}
}

// TestInvokeEveryMethod calls every method by name with sample values of
// all its arguments, then without each mandatory one: the table's
// Required must be exactly what the client's checks refuse.
func TestInvokeEveryMethod(t *testing.T) {
	ctx := context.Background()
	for _, m := range Methods() {
		rec := &recorder{}
		c, err := ivclient.New(rec, "k1")
		if err != nil {
			t.Fatal(err)
		}
		full := samples(m.Args)
		res, err := Invoke(ctx, c, m.Name, full)
		if err != nil {
			t.Errorf("%s: %v", m.Name, err)
			continue
		}
		if (res == nil) != (m.Result == "") || (res != nil && reflect.TypeOf(res).String() != m.Result) {
			t.Errorf("%s: result %T, want %q", m.Name, res, m.Result)
		}
		sent := rec.reqs[0]
		for _, a := range m.Args {
			v, ok := sent[a.Name]
			if !ok {
				t.Errorf("%s: %s not sent: %v", m.Name, a.Name, sent)
			}
			if a.Agent && v != "x_1001" {
				t.Errorf("%s: agent %s sent as %v, want the prefixed x_1001", m.Name, a.Name, v)
			}
			if !a.Agent && v == "x_1001" {
				t.Errorf("%s: %s prefixed", m.Name, a.Name)
			}
		}
		for _, a := range m.Args {
			partial := map[string]any{}
			for k, v := range full {
				if k != a.Name {
					partial[k] = v
				}
			}
			_, err := Invoke(ctx, c, m.Name, partial)
			var ae *ivclient.ArgError
			switch {
			case a.Required && (!errors.As(err, &ae) || ae.Arg != a.Name || !errors.Is(err, ivclient.ErrInvalidArgument)):
				t.Errorf("%s without %s: %v, want an ArgError for it", m.Name, a.Name, err)
			case !a.Required && err != nil:
				t.Errorf("%s without optional %s: %v", m.Name, a.Name, err)
			}
		}
		if want := 1 + countOptional(m); len(rec.reqs) != want {
			t.Errorf("%s: %d requests sent, want %d (refused calls must send nothing)", m.Name, len(rec.reqs), want)
		}
	}
}

func countOptional(m MethodInfo) int {
	n := 0
	for _, a := range m.Args {
		if !a.Required {
			n++
		}
	}
	return n
}

func TestInvokeValues(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	c, _ := ivclient.New(rec, "k1")
	_, err := Invoke(ctx, c, "AgentLineAdd", map[string]any{
		"ACCOUNTCODE": "default", "User": json.Number("1001"),
		"lines": []any{map[string]any{"LineNumber": json.Number("2"), "inbound": "0", "outbound": true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rec.reqs[0])
	if got := string(b); got != `{"accountcode":"default","lines":[{"inbound":"0","linenumber":"2","outbound":"1"}],"user":"1001"}` {
		t.Errorf("sent %s", got)
	}
	if _, err := Invoke(ctx, c, "QueueAdd", map[string]any{"accountcode": "default", "name": "7000", "timeout": 30.0, "maxlen": ""}); err != nil {
		t.Errorf("QueueAdd: %v", err)
	}
	if got := rec.reqs[1]; got["timeout"] != "30" && got["timeout"] != 30.0 || got["maxlen"] != nil {
		t.Errorf("QueueAdd sent %v", got)
	}
	for _, tc := range []struct {
		method string
		args   map[string]any
		arg    string
	}{
		{"AgentInfo", map[string]any{"accountcode": "default", "user": "1001", "nosuch": "1"}, "nosuch"},
		{"AgentInfo", map[string]any{"accountcode": "default", "user": "1001", "USER": "1002"}, "user"},
		{"AgentLineDelete", map[string]any{"accountcode": "default", "user": "1001", "linenumber": "one"}, "linenumber"},
		{"AgentLineAdd", map[string]any{"accountcode": "default", "user": "1001", "lines": "1"}, "lines"},
		{"AgentLineAdd", map[string]any{"accountcode": "default", "user": "1001", "lines": []any{map[string]any{"inbound": "2"}}}, "lines[0].inbound"},
		{"AgentAdd", map[string]any{"accountcode": "default", "user": "abc"}, "user"},
		{"AgentInfo", map[string]any{"accountcode": []any{"a"}, "user": "1001"}, "accountcode"},
	} {
		_, err := Invoke(ctx, c, tc.method, tc.args)
		var ae *ivclient.ArgError
		if !errors.As(err, &ae) || !strings.EqualFold(ae.Arg, tc.arg) {
			t.Errorf("%s %v: %v, want an ArgError for %s", tc.method, tc.args, err, tc.arg)
		}
	}
	if _, err := Invoke(ctx, c, "NoSuchMethod", nil); !errors.Is(err, ivclient.ErrInvalidArgument) {
		t.Errorf("unknown method: %v", err)
	}
	if len(rec.reqs) != 2 {
		t.Errorf("%d requests sent, want 2", len(rec.reqs))
	}
}

// An ArgKind reads as its name in JSON, both ways; an unknown one is an
// error, not a number.
func TestArgKindText(t *testing.T) {
	b, err := json.Marshal(MethodInfo{Args: []ArgInfo{{Name: "queues", Kind: ArgList}}})
	if err != nil || !strings.Contains(string(b), `"Kind":"list"`) {
		t.Fatalf("MethodInfo as JSON: %s %v", b, err)
	}
	for _, k := range []ArgKind{ArgString, ArgInteger, ArgFlag, ArgList} {
		text, err := k.MarshalText()
		var back ArgKind
		if err != nil || back.UnmarshalText(text) != nil || back != k {
			t.Errorf("%v: %q %v, read back as %v", k, text, err, back)
		}
	}
	if _, err := ArgKind(9).MarshalText(); err == nil {
		t.Error("ArgKind(9) marshalled")
	}
	var k ArgKind
	if err := k.UnmarshalText([]byte("float")); err == nil {
		t.Error(`"float" read as a kind`)
	}
}

// TestEveryNumberChecked: every argument the catalog marks Digits (from
// the iv:"digits" tag, the one declaration) is refused before anything is
// sent when it is not a number, and the arguments the reference specifies
// as numbers are among them.
func TestEveryNumberChecked(t *testing.T) {
	for _, k := range []string{
		"AgentQueueAdd.queues.name", "AgentPause.Reason", "AgentInfo.user", "AgentAdd.user", "AgentAdd.pass",
		"QueueAdd.name", "QueueInfo.name", "SipUserAdd.name", "SipUserAdd.username", "SipUserInfo.name",
		"AgentQueueDelete.name", "NewCallBack.Mcdu", "AgentLineList.user", "QueueModify.original_name",
	} {
		parts := strings.Split(k, ".")
		m, _ := Lookup(parts[0])
		a, ok := m.Arg(parts[1])
		if len(parts) == 3 {
			a, ok = MethodInfo{Args: a.Items}.Arg(parts[2])
		}
		if !ok || !a.Digits {
			t.Errorf("%s: %+v, %v; want a digits argument", k, a, ok)
		}
	}
	ctx := context.Background()
	for _, m := range Methods() {
		for _, a := range m.Args {
			rec := &recorder{}
			c, err := ivclient.New(rec, "k1")
			if err != nil {
				t.Fatal(err)
			}
			args := samples(m.Args)
			var want string
			switch {
			case a.Digits:
				args[a.Name], want = "12a", a.Name
			case a.Kind == ArgList:
				for _, it := range a.Items {
					if it.Digits {
						item := samples(a.Items)
						item[it.Name] = "12a"
						args[a.Name], want = []any{item}, a.Name+"[0]."+it.Name
					}
				}
			}
			if want == "" {
				continue
			}
			_, err = Invoke(ctx, c, m.Name, args)
			var ae *ivclient.ArgError
			if !errors.As(err, &ae) || ae.Arg != want || ae.Reason != "must be a number" {
				t.Errorf("%s with %s=12a: %v, want an ArgError for %s", m.Name, want, err, want)
			}
			if len(rec.reqs) != 0 {
				t.Errorf("%s with %s=12a: sent", m.Name, want)
			}
		}
	}
}
