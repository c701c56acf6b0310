package events

import (
	"encoding/json"
	"errors"
	"time"
)

// Event is one call event, decoded.
type Event struct {
	Type      Type
	Direction string // INBOUND / OUTBOUND on NEWCALL; the pause description on PAUSE; empty on HANGUP
	CallerID  string
	UniqueID  string
	Agent     string // "<accountcode>_<number>", e.g. "default_1001"
	Reason    string // the hangup reason (BYCALLER, NOANSWER, ...) where the platform sends one
	Raw       []byte // the message body exactly as received

	// Topic is the destination the event arrived on, when a subscription
	// delivered it.
	Topic string
	// Received is when the subscription received the event (zero from Decode).
	Received time.Time
	// Redelivered is set when a durable subscription delivered this event
	// before, to a consumer that did not acknowledge it. Tracker, Board and
	// Poller take a redelivered event they have already seen only once.
	Redelivered bool
	// Extra holds the fields the platform sent that Event does not name,
	// with their JSON values exactly as sent. The values share memory with
	// Raw (they are read-only views of it).
	Extra map[string]json.RawMessage

	// delivery settles the event with the broker (Subscription.Ack); nil
	// for events of subscriptions that need no acknowledgement. Copies of
	// the event share it, so acking any copy acks the event.
	delivery *delivery
}

// ErrMalformed is returned by Decode for a body that is not a JSON object.
// The error Decode returns wraps it (errors.Is(err, ErrMalformed)) and says
// where the body went wrong.
var ErrMalformed = errors.New("events: malformed event")

// Decode decodes one event body.
//
// The body must be one valid JSON object (surrounding white space allowed);
// anything else is an error wrapping ErrMalformed, never a panic. Unknown
// types and unknown fields are kept: Type holds the type as sent (upper-cased),
// and the fields Event does not name go to Extra with their raw JSON values.
// Field names are matched case-insensitively (as encoding/json matches struct
// fields), and the aliases "caller_id", "unique_id", and for the hangup
// reason "hangupreason", "hangup_reason" and "cause" are accepted. When a
// name appears twice, the last one wins.
//
// Strings are unquoted as encoding/json unquotes them (escapes resolved,
// invalid UTF-8 replaced by U+FFFD). A number or a boolean where a string is
// expected (a numeric callerid, say) gives its JSON text; null gives "". An
// object or an array under a known name goes to Extra under that name,
// leaving the field empty. Raw is a copy of body.
//
// Decode allocates little: a copy of body, one string for all the text
// fields, and the Extra map when there are unknown fields.
func Decode(body []byte) (Event, error) {
	return decode(body)
}
