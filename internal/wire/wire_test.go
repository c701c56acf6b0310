package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalize(t *testing.T) {
	cases := map[string]string{
		`[0, ['1002', '1004', '0015', '7021'] ]`: `[0,["1002","1004","0015","7021"]]`,
		`[0, ['instantvoice', '0001', '0002']]`:  `[0,["instantvoice","0001","0002"]]`,
		`('0001',)`:                              `["0001"]`,
		`[0, None, True, False]`:                 `[0,null,true,false]`,
		`[0, {'a': 'it\'s', "b": 1,}, ]`:         `[0,{"a":"it's","b":1}]`,
		`{"useclientcode"": "yes"}`:              ``, // the reference's own typo: still an error
		`['say "hi"']`:                           `["say \"hi\""]`,
		`[12L, +5, .5]`:                          `[12,5,0.5]`,
		`{1: 'x'}`:                               `{"1":"x"}`,
		`['\x41\u00e9']`:                         `["\u0041\u00e9"]`,
		"['caf\xc3\xa9']":                        `["café"]`,
	}
	for in, want := range cases {
		got, err := Normalize([]byte(in))
		if want == "" {
			require.Error(t, err, in)
			require.True(t, errors.Is(err, ErrSyntax), in)
			continue
		}
		require.NoError(t, err, in)
		assert.JSONEq(t, want, string(got), in)
	}
	valid := []byte(`[0, "Successful QueueAdd", "key1234"]`)
	got, err := Normalize(valid)
	require.NoError(t, err)
	assert.Equal(t, &valid[0], &got[0], "valid JSON is returned without a copy")

	for _, bad := range []string{``, `[`, `['a`, `[0,,1]`, `[nope]`, `{'a' 1}`, `'\q'`, strings.Repeat("[", MaxDepth+2)} {
		_, err := Normalize([]byte(bad))
		require.Error(t, err, bad)
	}
}

func TestUnwrapTuple(t *testing.T) {
	assert.Equal(t, "0001", UnwrapTuple("('0001',)"))
	assert.Equal(t, "instantvoice", UnwrapTuple(`("instantvoice",)`))
	assert.Equal(t, "1001", UnwrapTuple("(1001,)"))
	for _, same := range []string{"0001", "(a, b)", "()", "('x')", ""} {
		assert.Equal(t, same, UnwrapTuple(same))
	}
}

func TestParseReply(t *testing.T) {
	r, err := ParseReply([]byte(`[0, "Successful QueueAdd", "key1234"]`))
	require.NoError(t, err)
	assert.Equal(t, 0, r.Code)
	assert.Equal(t, "key1234", r.ID)
	assert.True(t, r.HasID)
	s, ok := r.PayloadString()
	assert.True(t, ok)
	assert.Equal(t, "Successful QueueAdd", s)

	r, err = ParseReply([]byte(`[0,[1234,5678,6666,1111,7777]]`))
	require.NoError(t, err)
	assert.False(t, r.HasID)
	assert.JSONEq(t, `[1234,5678,6666,1111,7777]`, string(r.Payload))

	r, err = ParseReply([]byte(`["3", 'not found', 42]`))
	require.NoError(t, err)
	assert.Equal(t, 3, r.Code)
	assert.Equal(t, "42", r.ID)

	r, err = ParseReply([]byte(`[-2.0]`))
	require.NoError(t, err)
	assert.Equal(t, -2, r.Code)
	assert.Nil(t, r.Payload)

	for _, bad := range []string{`{}`, `[]`, `"x"`, `[1.5, "x"]`, `["zero", 1]`, `[{}, 1]`, `nope`} {
		_, err := ParseReply([]byte(bad))
		require.Error(t, err, bad)
	}
}

func TestRequestRoundTrip(t *testing.T) {
	b, err := AppendRequest(nil, "AgentLogin", "f054bbd2f5ebab9", map[string]string{"User": "default_1001"}, "id-1")
	require.NoError(t, err)
	assert.JSONEq(t, `["AgentLogin","f054bbd2f5ebab9",{"User":"default_1001"},"id-1"]`, string(b))
	r, err := ParseRequest(b)
	require.NoError(t, err)
	assert.Equal(t, IncomingRequest{Method: "AgentLogin", Key: "f054bbd2f5ebab9", Args: map[string]any{"User": "default_1001"}, ID: "id-1", HasID: true}, r)

	b, err = AppendRequest(nil, "QueueList", "k", nil, "")
	require.NoError(t, err)
	assert.Equal(t, `["QueueList","k",{}]`, string(b))

	r, err = ParseRequest([]byte(`['QueueAdd', 'k', {'name': 7015}]`))
	require.NoError(t, err)
	assert.Equal(t, json.Number("7015"), r.Args["name"])

	for _, bad := range []string{`[]`, `["M"]`, `[1, "k"]`, `["M", 1]`, `["M", "k", [1]]`, `x`} {
		_, err := ParseRequest([]byte(bad))
		require.Error(t, err, bad)
	}

	b, err = AppendReply(nil, 4, "Duplicate", "id-2")
	require.NoError(t, err)
	assert.Equal(t, `[4,"Duplicate","id-2"]`, string(b))
}

func TestDecodeLenient(t *testing.T) {
	type target struct {
		ID    int     `json:"id" alias:"agents_id"`
		Name  string  `json:"name"`
		Flag  bool    `json:"flag"`
		Opt   *int    `json:"opt"`
		F     float64 `json:"f"`
		List  []string
		Extra map[string]any
	}
	var v target
	require.NoError(t, DecodeLenient([]byte(`{"agents_id":"22","NAME":1234,"flag":"yes","opt":null,"f":"1.5","list":[1,"('2',)"],"other":[1]}`), &v))
	assert.Equal(t, target{ID: 22, Name: "1234", Flag: true, F: 1.5, List: []string{"1", "2"}, Extra: map[string]any{"other": []any{1.0}}}, v)

	v = target{}
	require.NoError(t, DecodeLenient([]byte(`{"opt":"7","id":3.0,"flag":0}`), &v))
	require.NotNil(t, v.Opt)
	assert.Equal(t, 7, *v.Opt)
	assert.Equal(t, 3, v.ID)

	require.NoError(t, DecodeLenient([]byte(`null`), &v))
	for _, bad := range []string{`{"id":"abc"}`, `{"id":{}}`, `{"flag":"maybe"}`, `{"id":1.5}`, `[1]`, `{"name":[1]}`} {
		require.Error(t, DecodeLenient([]byte(bad), &target{}), bad)
	}
	require.Error(t, DecodeLenient([]byte(`{}`), v), "not a pointer")
}

// FuzzParseReply: no input panics, and whatever parses re-encodes to an
// envelope that parses to the same code and identifier.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		`[0, "Successful QueueAdd", "key1234"]`, `[0,[1234,5678]]`, `[0, ['1002', '1004'] ]`,
		`[3, "x", 7]`, `["0", {"a": None}]`, `[0, ('0001',)]`, `[`, `{}`, `[0, "\ud800"]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseReply(body)
		if err != nil {
			return
		}
		var payload any
		if r.Payload != nil {
			// UseNumber: a payload may hold numbers no float64 holds (1E700).
			dec := json.NewDecoder(bytes.NewReader(r.Payload))
			dec.UseNumber()
			if err := dec.Decode(&payload); err != nil {
				t.Fatalf("payload %q is not JSON: %v", r.Payload, err)
			}
		}
		b, err := AppendReply(nil, r.Code, payload, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := ParseReply(b)
		if err != nil {
			t.Fatalf("re-encoded %q: %v", b, err)
		}
		if r2.Code != r.Code || (r.ID != "" && r2.ID != r.ID) {
			t.Fatalf("%q -> %+v, re-encoded %q -> %+v", body, r, b, r2)
		}
	})
}
