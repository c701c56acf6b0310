// Package soapx is the SOAP transport of the InstantVoice SDK: it carries
// the platform's integration methods to IVWS, the platform's SOAP web
// service (by default on port 7789 of the active ACD), and implements
// ivclient.Transport, so that a partner can swap stompx.Dial for soapx.New
// and change nothing else:
//
//	t, err := soapx.New("http://acd:7789/", soapx.WithBasicAuth("user", "pass"))
//	if err != nil { ... }
//	c, err := ivclient.New(t, key)
//	if err != nil { ... }
//	defer c.Close()
//	queues, err := c.QueueList(ctx, "default")
//
// SOAP carries no events: subscribe with stompx.Transport.Subscribe.
//
// # Guarantees
//
//   - Concurrency: a Transport is safe for use by many goroutines; each call
//     borrows a gosoap client of its own.
//   - Context: every call, and the WSDL fetch it may make, honours its
//     context; when the context ends first the error wraps ctx.Err() and the
//     HTTP request is abandoned at once. The call runs on the caller's
//     goroutine and leaves none behind.
//   - Reconnection: there is no session to restore. Every call is one HTTP
//     request over the HTTP client's connection pool, so a platform restart
//     costs only the calls in flight.
//   - No retries: a call is sent once. A connection that drops after the
//     request was written fails the call with ivclient.ErrConnectionLost (the
//     platform may have acted). Only the WSDL fetch is tried again, by the
//     next call, after a failure.
//   - Errors: the same *codes.Error as over STOMP for the platform's return
//     codes (see Errors below); the access key never appears in an error text
//     or a log line.
//
// # The WSDL
//
// The WSDL is read from endpoint + "?wsdl" by the first call, with that
// call's context, and kept. A failed fetch is not remembered: the next call
// tries again. Calls that arrive while a fetch is in flight wait for it.
// From the WSDL the transport takes the request namespace (the schema's
// targetNamespace, "Ivws.Ivws" on IVWS; see WithNamespace), the operations
// and their SOAPAction values. Requests always go to the configured
// endpoint, whatever host the WSDL's soap:address names.
//
// # Requests
//
// The request element is the method in the WSDL's namespace
// (document/literal style). Its first child is <key>, the access key; then
// come the fields of Request.Args in declaration order, named by their xml
// tags (json tags are the STOMP names and are not used here):
//
//   - a field tagged xml:"-" is not sent (NewCallBack's Ruleid is STOMP only);
//   - with omitempty, an empty value is not sent; a nil pointer never is;
//   - strings are sent as they are, integers in decimal, booleans as 1 or 0,
//     encoding.TextMarshaler values as their text;
//   - a struct or map becomes an element with children (maps in key order);
//   - embedded structs without an xml name are sent in their place;
//   - a slice becomes an element whose items are numbered elements, as the
//     reference sends agent lines and queues:
//     <lines><line1>...</line1><line2>...</line2></lines>. The item prefix
//     is the iv tag's item= option (iv:"required,item=line"), else the
//     field's name without its final "s".
//
// # Results
//
// The result element (<MethodResponse><MethodResult>) is turned into JSON
// and decoded into the out argument of Call with encoding/json, so the same
// result types serve STOMP and SOAP:
//
//   - an element with text becomes a JSON string: trimmed, and Python tuple
//     text such as ('0001',) unwrapped to "0001". Numbers stay strings
//     ("0001" keeps its zeros); the ivclient result types read numbers from
//     strings;
//   - an element marked nil (xs:nil="1", xsi:nil="true") becomes null;
//   - an element whose children are list items becomes an array: when its
//     type attribute ends in "Array" (type="tns:integerArray"), when its
//     children share one name and are more than one, when they are named
//     like <integer>, or when out is a slice;
//   - any other element with children becomes an object keyed by the
//     children's names as sent (XML-only names such as passwd, agents_id,
//     requisendinfo, call_limit and ignoreexpire are kept: the result types
//     accept them as aliases); a name sent more than once gives an array.
//
// AgentInfoPermission and SipUserInfoPermission answer {code, location} over
// SOAP, which becomes {"code":"0","location":"123"}; the client's result
// type accepts it as well as STOMP's "123".
//
// # Errors
//
// Return codes: a result whose <code> child is not 0, or a bare integer
// result that is not 0 where out expects no scalar (a void method, or an
// Info or List method that failed), is returned as a *codes.Error, exactly
// as STOMP returns it.
//
// A SOAP fault, sent with HTTP 200 or 500, is returned as a *Fault. When it
// names one of the platform's codes exactly, in its faultcode
// ("Client.RESPONSE_NOT_FOUND", "Client.3"), its faultstring
// ("RESPONSE_NOT_FOUND: ...", "9999: ...") or a <code> element of its
// detail, it unwraps to that *codes.Error, so errors.Is(err,
// codes.ErrNotFound) holds over both transports; a number that merely
// starts the text ("3 agents busy") names no code. An IVWS may answer a
// failure either way, and the SDK does not care which: the fake platform
// of package ivtest returns the codes of action methods in their results,
// as the reference shows, and faults for Info and List methods.
//
// Other failures: an HTTP error that is not a fault is an *HTTPError; an
// unreadable reply wraps ivclient.ErrMalformedReply; a connection that
// drops after the request was written wraps ivclient.ErrConnectionLost (the
// platform may have acted: the request is not re-sent); a WSDL that cannot
// be had wraps ErrWSDL; a closed transport wraps ivclient.ErrClosed. When the
// caller's context ends first, the error wraps ctx.Err() and the HTTP
// request and its connection are abandoned at once. The access key never
// appears in an error text or a log line.
//
// # gosoap
//
// The SOAP envelope and the HTTP exchange go through
// github.com/tiaguinho/gosoap v1.4.4, wrapped so that none of its traps
// reaches the caller:
//
//   - gosoap fetches its WSDL lazily, with no context, remembers a failed
//     fetch for good, panics on a WSDL that lacks types, a binding or a
//     service (gosoap#25, #36), and posts only to the WSDL's soap:address
//     (gosoap#75). The transport fetches the WSDL itself and hands gosoap a
//     small generated WSDL, served from memory, with exactly the parts
//     gosoap reads and the configured endpoint as the address.
//   - gosoap has no context. Each call borrows a gosoap client from a pool;
//     the client's round tripper gives the HTTP request the call's context,
//     so cancellation aborts the request and its connection at once, and no
//     two calls share gosoap's unsynchronised per-client state.
//   - gosoap writes ints, bools and structs as empty elements and Params
//     maps in random order (gosoap#53). Requests are ordered ArrayParams
//     whose values are only strings.
//   - gosoap drops the body of an HTTP 5xx reply unread, so a SOAP fault
//     sent with HTTP 500 is lost (gosoap#86). The round tripper reads every
//     reply body itself and keeps it; gosoap is handed an empty envelope to
//     decode, and the transport decodes the real reply once.
//   - SetCustomEnvelope is package-level state: it is never called. gosoap's
//     Dump is off, its refresh goroutine is never started, and its errors,
//     whose ErrorWithPayload carries the request (and so the key), are
//     reduced to their message.
//
// A residual risk outside the transport's reach: another package of the same
// program that calls gosoap.SetCustomEnvelope changes the envelope of every
// gosoap client in the process, this one's included.
package soapx
