package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// Reply is a decoded STOMP reply: [code, payload, "identifier"].
type Reply struct {
	Code    int             // the platform's return code
	Payload json.RawMessage // strict JSON; nil when the reply carried none
	ID      string          // the identifier echoed back, "" when absent
	HasID   bool            // whether a third element was present
}

// PayloadString returns the payload as text when it is a JSON string.
func (r Reply) PayloadString() (string, bool) {
	if len(r.Payload) == 0 || r.Payload[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(r.Payload, &s) != nil {
		return "", false
	}
	return s, true
}

// ErrNotEnvelope is returned for a message that is not a reply array.
var ErrNotEnvelope = errors.New("wire: reply is not an array of [code, payload, identifier]")

// ParseReply decodes a reply body. It accepts strict JSON and the platform's
// Python literal form, a code sent as a number or a numeric string, and
// replies with or without a payload or an identifier.
func ParseReply(body []byte) (Reply, error) {
	var r Reply
	js, err := Normalize(bytes.TrimSpace(body))
	if err != nil {
		return r, err
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(js, &parts); err != nil || len(parts) == 0 {
		return r, ErrNotEnvelope
	}
	code, ok := lenientInt(parts[0])
	if !ok {
		return r, ErrNotEnvelope
	}
	r.Code = code
	if len(parts) > 1 {
		r.Payload = parts[1]
	}
	if len(parts) > 2 {
		last := parts[len(parts)-1]
		var id string
		if err := json.Unmarshal(last, &id); err == nil {
			r.ID, r.HasID = id, true
		} else if n, ok := lenientInt(last); ok {
			r.ID, r.HasID = strconv.Itoa(n), true
		}
	}
	return r, nil
}

func lenientInt(raw json.RawMessage) (int, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		raw = []byte(s)
	}
	n, err := strconv.Atoi(string(raw))
	if err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != float64(int(f)) {
		return 0, false
	}
	return int(f), true
}

// AppendRequest appends the request ["Method", "KEY", {args}, "id"] to dst.
// args is encoded with encoding/json; a nil args is sent as {}. An empty id
// is left out.
func AppendRequest(dst []byte, method, key string, args any, id string) ([]byte, error) {
	dst = append(dst, '[')
	dst = AppendString(dst, method)
	dst = append(dst, ',')
	dst = AppendString(dst, key)
	dst = append(dst, ',')
	if args == nil {
		dst = append(dst, '{', '}')
	} else {
		b, err := json.Marshal(args)
		if err != nil {
			return nil, err
		}
		dst = append(dst, b...)
	}
	if id != "" {
		dst = append(dst, ',')
		dst = AppendString(dst, id)
	}
	return append(dst, ']'), nil
}

// AppendReply appends the reply [code, payload, "id"] to dst; payload is
// encoded with encoding/json and id is left out when empty.
func AppendReply(dst []byte, code int, payload any, id string) ([]byte, error) {
	dst = append(dst, '[')
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ',')
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	dst = append(dst, b...)
	if id != "" {
		dst = append(dst, ',')
		dst = AppendString(dst, id)
	}
	return append(dst, ']'), nil
}

// IncomingRequest is a request as the platform receives it.
type IncomingRequest struct {
	Method string
	Key    string
	Args   map[string]any // numbers as json.Number
	ID     string
	HasID  bool
}

// ParseRequest decodes ["Method", "KEY", {args}, "id"], leniently as
// ParseReply does. It fails when the method or key is not a string or the
// arguments are not an object (null is taken as no arguments).
func ParseRequest(body []byte) (IncomingRequest, error) {
	var r IncomingRequest
	js, err := Normalize(bytes.TrimSpace(body))
	if err != nil {
		return r, err
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(js, &parts); err != nil || len(parts) < 2 {
		return r, errors.New("wire: request is not an array of [method, key, args, identifier]")
	}
	if json.Unmarshal(parts[0], &r.Method) != nil || r.Method == "" {
		return r, errors.New("wire: request method is not a string")
	}
	if json.Unmarshal(parts[1], &r.Key) != nil {
		return r, errors.New("wire: request key is not a string")
	}
	if len(parts) > 2 {
		dec := json.NewDecoder(bytes.NewReader(parts[2]))
		dec.UseNumber()
		if err := dec.Decode(&r.Args); err != nil {
			return r, errors.New("wire: request arguments are not an object")
		}
	}
	if len(parts) > 3 {
		if json.Unmarshal(parts[3], &r.ID) == nil {
			r.HasID = true
		} else if n, ok := lenientInt(parts[3]); ok {
			r.ID, r.HasID = strconv.Itoa(n), true
		}
	}
	return r, nil
}
