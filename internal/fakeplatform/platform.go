package fakeplatform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/catalog"
	"github.com/instantvoice/instantvoice-go/internal/errs"
	"github.com/instantvoice/instantvoice-go/internal/fakebroker"
	"github.com/instantvoice/instantvoice-go/internal/fakeivws"
	"github.com/instantvoice/instantvoice-go/internal/fakeplatform/processor"
	"github.com/instantvoice/instantvoice-go/internal/wire"
)

// Platform is a running fake InstantVoice platform. Its methods are safe
// for concurrent use.
type Platform struct {
	log       *slog.Logger
	now       func() time.Time
	key       string
	keys      map[string]map[string]bool // nil: every method
	wildcards []string
	pyLists   bool

	broker    *fakebroker.Broker // nil with an external broker
	proc      *processor.Processor
	stompAddr string
	soap      *fakeivws.Server
	soapURL   string
	soapAddr  string // where the IVWS endpoint listens

	mu   sync.Mutex // guards st
	st   *state
	conf *config // what Start was given, for Reset

	hookMu      sync.Mutex
	dropN       int
	dropMethods map[string]bool
	replyFunc   ReplyFunc
	reqLog      []Request
	reqNext     int
	reqFull     bool
	delayN      int
	delay       time.Duration
	delayMeth   map[string]bool

	watchMu  sync.RWMutex // guards watchers; held while they are called
	watchers []*watcher

	stats struct {
		requests, replies, dropped, malformed, events atomic.Int64
		soapRequests, lenient                         atomic.Int64
	}

	refArgs   map[string][]catalog.ArgInfo // each method's arguments, as the reference names them
	lenientMu sync.Mutex
	lenientN  map[string]int64 // lenient acceptances by kind

	closeOnce sync.Once
	closed    atomic.Bool
}

// maxRecorded bounds the request log Requests returns.
const maxRecorded = 10000

// errClosed is what publishing and the call flows return once the
// platform has closed.
var errClosed = processor.ErrClosed

// replyPrefix is the prefix of the reply topic, /topic/<key>.
const replyPrefix = "/topic/"

// Start runs a fake InstantVoice platform on loopback: a STOMP broker with
// the platform's request processor on it (or the processor alone, attached
// to WithExternalBroker), and an IVWS SOAP endpoint serving its WSDL. It
// returns when the processor's subscription is in place, so the first
// request sent after it returns is served. Close stops it. A nil option
// is an error matching ivclient.ErrInvalidArgument.
func Start(opts ...Option) (*Platform, error) {
	cfg := defaultConfig()
	for i, o := range opts {
		if o == nil {
			return nil, errs.Wrap("ivtest: Start", errs.ErrInvalidArgument, fmt.Sprintf("option %d is nil", i+1), nil)
		}
		if err := o(cfg); err != nil {
			return nil, errs.Wrap("ivtest: Start", errs.ErrInvalidArgument, err.Error(), nil)
		}
	}
	p := &Platform{
		log:      cfg.log,
		soapAddr: cfg.soapAddr,
		now:      cfg.now,
		key:      randomKey(),
		keys:     make(map[string]map[string]bool),
		st:       newState(cfg),
		conf:     cfg,
		refArgs:  referenceArgs(),
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.keys[p.key] = nil
	for k, methods := range cfg.keys {
		if len(methods) == 0 {
			p.keys[k] = nil
			continue
		}
		set := make(map[string]bool, len(methods))
		for _, m := range methods {
			set[m] = true
		}
		p.keys[k] = set
	}
	if !cfg.external {
		p.wildcards = cfg.wildcards
	}
	p.pyLists = cfg.pythonLists
	p.proc = processor.New(p.log, cfg.login, cfg.passcode, cfg.requestQueue, p.serveSTOMP)
	for _, s := range cfg.seeds {
		if _, err := p.Do(s.method, s.args); err != nil {
			return nil, fmt.Errorf("ivtest: seed: %w", err)
		}
	}
	p.stompAddr = cfg.stompAddr
	if !cfg.external {
		p.broker = fakebroker.New(p.log, cfg.login, cfg.passcode)
		if err := p.broker.Listen(cfg.stompAddr); err != nil {
			return nil, fmt.Errorf("ivtest: starting the broker: %w", err)
		}
		p.stompAddr = p.broker.Addr()
	}
	if err := p.proc.Start(p.stompAddr); err != nil {
		if p.broker != nil {
			p.broker.Close()
		}
		return nil, err
	}
	soap, err := fakeivws.Start(p.soapAddr, ivwsSide{p})
	if err != nil {
		p.proc.Close()
		if p.broker != nil {
			p.broker.Close()
		}
		return nil, fmt.Errorf("ivtest: starting the SOAP endpoint: %w", err)
	}
	p.soap, p.soapURL = soap, soap.URL()
	return p, nil
}

// STOMPAddr returns the broker's address, "127.0.0.1:port".
func (p *Platform) STOMPAddr() string { return p.stompAddr }

// SOAPURL returns the IVWS endpoint, "http://127.0.0.1:port/"; the WSDL is
// at SOAPURL()+"?wsdl".
func (p *Platform) SOAPURL() string { return p.soapURL }

// Key returns an access key allowed to call every method.
func (p *Platform) Key() string { return p.key }

// Close stops the SOAP endpoint, the processor (after publishing the
// replies to the requests it has read) and the embedded broker, and waits
// for every goroutine of the platform to return. Connections of clients
// still attached to the embedded broker are closed. Close is idempotent.
func (p *Platform) Close() error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		if p.soap != nil {
			p.soap.Close()
		}
		p.proc.Close()
		if p.broker != nil {
			p.broker.Close()
		}
	})
	return nil
}

// Stats counts what the platform's STOMP side has done.
type Stats struct {
	Requests       int64 // messages read from the request queue
	SOAPRequests   int64 // operations POSTed to the IVWS endpoint
	Replies        int64 // replies published (each body a ReplyFunc returns counts)
	DroppedReplies int64 // replies withheld by DropReplies or a ReplyFunc
	Malformed      int64 // requests dropped unanswered: they named no key to reply to
	Events         int64 // events published, each counted once however many topics carry it
	PublishErrors  int64 // messages the broker refused or lost
	Reconnects     int64 // times the processor replaced a lost broker connection
	// Lenient counts what the platform accepted that its reference does
	// not describe, each kind once per request (Platform.Lenient has them
	// by kind).
	Lenient int64
	// BrokerOverflows counts the messages the embedded broker dropped,
	// oldest first, from queues holding fakebroker.MaxQueueBacklog
	// messages or MaxQueueBacklogBytes (a durable subscription nobody
	// consumes, say).
	BrokerOverflows int64
}

// Stats returns the platform's counters.
func (p *Platform) Stats() Stats {
	st := Stats{
		Requests:       p.stats.requests.Load(),
		SOAPRequests:   p.stats.soapRequests.Load(),
		Replies:        p.stats.replies.Load(),
		DroppedReplies: p.stats.dropped.Load(),
		Malformed:      p.stats.malformed.Load(),
		Events:         p.stats.events.Load(),
		PublishErrors:  p.proc.PublishErrors(),
		Reconnects:     p.proc.Reconnects(),
		Lenient:        p.stats.lenient.Load(),
	}
	if p.broker != nil {
		st.BrokerOverflows = p.broker.Overflows()
	}
	return st
}

// Request is one request the platform received on its request queue.
type Request struct {
	Method string         // as sent; empty when the request was too broken to say
	Key    string         // the access key
	Args   map[string]any // as decoded: strings, json.Number, []any, map[string]any
	ID     string         // the identifier, when HasID
	HasID  bool           // whether the request carried an identifier
	Body   []byte         // the message body as received
	Code   codes.Code     // the return code the platform answered with
	// Description is the platform's description of a non-zero Code, as
	// its reply carries it ("Agent default_1001 is not logged in").
	Description string
	Transport   string    // "stomp" or "soap"
	Time        time.Time // when the platform answered (its clock, WithClock)
	// Lenient lists what the platform accepted in this request that its
	// reference does not describe (see Platform.Lenient), such as
	// "NewCall over STOMP: user for Agent"; nil for most requests.
	Lenient []string
}

// The transports a Request arrives on.
const (
	transportSTOMP = "stomp"
	transportSOAP  = "soap"
)

// Requests returns the requests received so far, oldest first (at most the
// last 10,000).
func (p *Platform) Requests() []Request {
	p.hookMu.Lock()
	defer p.hookMu.Unlock()
	if !p.reqFull {
		return append([]Request(nil), p.reqLog...)
	}
	out := make([]Request, 0, len(p.reqLog))
	out = append(out, p.reqLog[p.reqNext:]...)
	return append(out, p.reqLog[:p.reqNext]...)
}

func (p *Platform) record(r Request) {
	r.Time = p.now()
	p.hookMu.Lock()
	if len(p.reqLog) < maxRecorded {
		p.reqLog = append(p.reqLog, r)
	} else {
		p.reqFull = true
		p.reqLog[p.reqNext] = r
		p.reqNext = (p.reqNext + 1) % maxRecorded
	}
	p.hookMu.Unlock()
	p.notify(Notice{Time: r.Time, Request: &r})
}

// DropReplies makes the platform act on the next n requests but withhold
// their replies, so that a test can prove that a reply that never comes
// ends in the caller's deadline. With methods, only replies to those
// methods are withheld (and counted). DropReplies(0) cancels.
func (p *Platform) DropReplies(n int, methods ...string) {
	p.hookMu.Lock()
	defer p.hookMu.Unlock()
	p.dropN = n
	p.dropMethods = nil
	if len(methods) > 0 {
		p.dropMethods = make(map[string]bool, len(methods))
		for _, m := range methods {
			p.dropMethods[m] = true
		}
	}
}

// takeDrop reports whether the reply to a request for method is to be
// withheld, and counts it.
func (p *Platform) takeDrop(method string) bool {
	p.hookMu.Lock()
	defer p.hookMu.Unlock()
	if p.dropN <= 0 || (p.dropMethods != nil && !p.dropMethods[method]) {
		return false
	}
	p.dropN--
	return true
}

// A ReplyFunc rewrites the platform's reply to one request. reply is the
// encoded reply, [code, payload, "identifier"]; the function returns the
// bodies to publish on the request's reply topic, in order. Returning none
// withholds the reply; returning other bodies (malformed JSON, another
// request's identifier, the same reply twice, a huge body) feeds a client
// hostile replies. It runs on the processor's goroutine: it must not block.
type ReplyFunc func(req Request, reply []byte) [][]byte

// SetReplyFunc installs f for every following request; nil restores plain
// replies. DropReplies is applied first.
func (p *Platform) SetReplyFunc(f ReplyFunc) {
	p.hookMu.Lock()
	p.replyFunc = f
	p.hookMu.Unlock()
}

func (p *Platform) getReplyFunc() ReplyFunc {
	p.hookMu.Lock()
	defer p.hookMu.Unlock()
	return p.replyFunc
}

// Do runs one platform method directly, without a transport, with the key
// of Key. It returns the reply payload (a description string, a list or a
// map with the reference's JSON field names) or, for a non-zero return code,
// a *codes.Error. Events the method causes are published as usual.
func (p *Platform) Do(method string, args map[string]any) (any, error) {
	code, payload, _ := p.handle(method, p.key, "", args)
	if code != codes.OK {
		desc, _ := payload.(string)
		return nil, &codes.Error{Code: code, Method: method, Description: desc}
	}
	return payload, nil
}

// Sync waits until every reply and event the platform has produced so far
// has been accepted by the broker: a subscriber to their topics gets them
// before anything published after Sync returns.
func (p *Platform) Sync(ctx context.Context) error {
	if ctx == nil {
		return errs.Wrap("ivtest: Sync", errs.ErrInvalidArgument, "nil context", nil) // ivclient.ErrInvalidArgument
	}
	return p.proc.Sync(ctx)
}

// PublishRaw publishes body, as it is, on topic (a destination such as
// "/topic/iv.agents.default_1001", or "/topic/<key>" to inject a reply). It
// returns once the message is queued behind everything published before.
// Nothing checks the body: it is the way to feed a client malformed events
// and replies.
func (p *Platform) PublishRaw(topic string, body []byte) error {
	if !strings.HasPrefix(topic, "/") {
		return fmt.Errorf("ivtest: PublishRaw: %q is not a STOMP destination", topic)
	}
	b := append([]byte(nil), body...)
	if !p.proc.Enqueue(processor.Item{Dest: topic, Body: b}) {
		return errClosed
	}
	p.notify(Notice{Time: p.now(), Topic: topic, Body: b, Raw: true})
	return nil
}

// PublishEvent publishes e as the platform would, on the topic of e.Agent
// (and on the all-agents topics of the embedded broker). The body has the
// fields direction, callerid, type, uniqueid and agent, "reason" when e has
// one, and e.Extra's fields; e.Raw, e.Topic and e.Received are ignored. It
// returns once the event is queued, as PublishRaw does.
func (p *Platform) PublishEvent(e events.Event) error {
	if e.Agent == "" {
		return errors.New("ivtest: PublishEvent: the event names no agent")
	}
	body, err := encodeEvent(wireEvent{Direction: e.Direction, CallerID: e.CallerID, Type: string(e.Type),
		UniqueID: e.UniqueID, Agent: e.Agent, Reason: e.Reason}, e.Extra)
	if err != nil {
		return fmt.Errorf("ivtest: PublishEvent: %w", err)
	}
	if !p.publishEvent(e.Agent, body) {
		return errClosed
	}
	return nil
}

// wireEvent is an event as the platform sends it, in the reference's order.
type wireEvent struct {
	Direction string `json:"direction"`
	CallerID  string `json:"callerid"`
	Type      string `json:"type"`
	UniqueID  string `json:"uniqueid"`
	Agent     string `json:"agent"`
	Reason    string `json:"reason,omitempty"`
}

func encodeEvent(ev wireEvent, extra map[string]json.RawMessage) ([]byte, error) {
	body, err := json.Marshal(ev)
	if err != nil || len(extra) == 0 {
		return body, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	for k, v := range extra {
		if !json.Valid(v) {
			return nil, fmt.Errorf("extra field %q is not JSON", k)
		}
		m[k] = v
	}
	return json.Marshal(m)
}

// publishEvent queues an event body for an agent ("default_1001").
func (p *Platform) publishEvent(agent string, body []byte) bool {
	items := make([]processor.Item, 0, 1+len(p.wildcards))
	items = append(items, processor.Item{Dest: events.TopicPrefix + agent, Body: body})
	for _, w := range p.wildcards {
		items = append(items, processor.Item{Dest: events.AllAgentsTopic(w), Body: body})
	}
	if !p.proc.Enqueue(items...) {
		return false
	}
	p.stats.events.Add(1)
	p.notify(Notice{Time: p.now(), Topic: items[0].Dest, Body: body})
	return true
}

// serveSTOMP answers one message of the request queue.
func (p *Platform) serveSTOMP(body []byte) {
	p.stats.requests.Add(1)
	in, err := wire.ParseRequest(body)
	if err != nil {
		req, ok := salvage(body)
		if !ok || !replyableKey(req.Key) {
			p.stats.malformed.Add(1)
			p.log.Debug("ivtest: dropped a request with no key to reply to", "err", err)
			return
		}
		req.Code, req.Description, req.Transport = codes.Invalid, "Malformed request", transportSTOMP
		p.record(req)
		p.reply(req, codes.Invalid, "Malformed request")
		return
	}
	req := Request{Method: in.Method, Key: in.Key, Args: in.Args, ID: in.ID, HasID: in.HasID, Body: body, Transport: transportSTOMP}
	if !replyableKey(in.Key) {
		p.stats.malformed.Add(1)
		p.log.Debug("ivtest: dropped a request with no key to reply to", "method", in.Method)
		return
	}
	code, payload, lenient := p.handle(in.Method, in.Key, transportSTOMP, in.Args)
	req.Lenient = lenient
	p.reply(p.recordServed(req, code, payload), code, payload)
}

// replyableKey reports whether /topic/<key> is a destination worth
// replying to.
func replyableKey(key string) bool {
	if key == "" || len(key) > 256 {
		return false
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x21 || c == 0x7f || c == '/' {
			return false
		}
	}
	return true
}

// reply publishes the reply to req on /topic/<key>, subject to DropReplies
// and the ReplyFunc.
func (p *Platform) reply(req Request, code codes.Code, payload any) {
	var b []byte
	var err error
	if list, ok := payload.([]any); ok && p.pyLists && code == codes.OK && (req.Method == "QueueList" || req.Method == "SipUserList") {
		b = appendPythonReply(list, req.ID)
	} else {
		b, err = wire.AppendReply(nil, int(code), payload, req.ID)
	}
	if err != nil {
		p.log.Error("ivtest: encoding a reply", "method", req.Method, "err", err)
		b, _ = wire.AppendReply(nil, int(codes.InternalError), "Internal error", req.ID)
	}
	if req.HasID && req.ID == "" {
		b = append(b[:len(b)-1], `,""]`...)
	}
	if p.takeDrop(req.Method) {
		p.stats.dropped.Add(1)
		return
	}
	delay := p.takeDelay(req.Method)
	bodies := [][]byte{b}
	if f := p.getReplyFunc(); f != nil {
		bodies = f(req, b)
		if len(bodies) == 0 {
			p.stats.dropped.Add(1)
			return
		}
	}
	dest := replyPrefix + req.Key
	items := make([]processor.Item, len(bodies))
	for i, body := range bodies {
		items[i] = processor.Item{Dest: dest, Body: body}
	}
	if delay > 0 {
		time.AfterFunc(delay, func() {
			if p.proc.Enqueue(items...) {
				p.stats.replies.Add(int64(len(items)))
			}
		})
		return
	}
	if p.proc.Enqueue(items...) {
		p.stats.replies.Add(int64(len(items)))
	}
}

// appendPythonReply prints [0, ['a', 'b'], "id"] as the platform's Python
// side does for lists of strings.
func appendPythonReply(list []any, id string) []byte {
	b := []byte("[0, [")
	for i, v := range list {
		if i > 0 {
			b = append(b, ", "...)
		}
		s, _ := v.(string)
		b = append(b, '\'')
		for _, r := range s {
			switch r {
			case '\'', '\\':
				b = append(b, '\\', byte(r))
			default:
				b = append(b, string(r)...)
			}
		}
		b = append(b, '\'')
	}
	b = append(b, "]"...)
	if id != "" {
		b = append(b, ", "...)
		q, _ := json.Marshal(id)
		b = append(b, q...)
	}
	return append(b, ']')
}

func randomKey() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "iv" + hex.EncodeToString(b[:])
}

// validKey reports whether key is an access key as the reference defines
// one: 1 to 20 ASCII letters and digits.
func validKey(key string) bool {
	if len(key) == 0 || len(key) > 20 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
