// Package processor is the fake platform's side of the STOMP interface:
// a client of the broker (the embedded one or an external one) that reads
// requests from the request queue and publishes replies and events, in
// the order they were produced, reconnecting when the broker drops it.
package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-stomp/stomp/v3"
)

// A Processor holds two connections. The consumer connection only subscribes to the
// request queue; its reader goroutine parses and answers each request and
// appends the reply (and any events) to an unbounded outbound queue, so it
// never blocks and never sends on the connection it reads (go-stomp's client
// deadlocks when the goroutine that reads a subscription sends on the same
// connection under load). The publisher goroutine drains the outbound queue
// on the second connection, in order, so that replies and events leave in
// the order they were produced. When either connection fails (an external
// broker restarting), both are replaced, with backoff, until Close.
type Processor struct {
	serve    func(body []byte)
	addr     string
	login    string
	passcode string
	queue    string
	log      *slog.Logger

	reconnects, publishErrors atomic.Int64

	mu      sync.Mutex
	out     []Item
	notify  chan struct{}
	stopped bool

	stop chan struct{} // closed by close
	done chan struct{} // closed when the supervisor has returned

	connMu sync.Mutex
	live   map[net.Conn]struct{} // sockets of the processor's connections
}

// Item is one message to publish: Body on the destination Dest.
type Item struct {
	Dest string
	Body []byte
	// barrier, when set, makes the item a barrier that is released once
	// everything before it has reached the broker (Sync).
	barrier chan error
}

type session struct {
	cons, pub     *stomp.Conn
	consNC, pubNC net.Conn
	sub           *stomp.Subscription
	readerDone    chan struct{}
	failed        chan struct{}
	failOnce      sync.Once
}

func (s *session) fail() { s.failOnce.Do(func() { close(s.failed) }) }

// probeTopic receives the SENDs whose receipts prove that the broker has
// acted on a connection's earlier frames; nobody subscribes to it.
const probeTopic = "/topic/ivtest.probe"

// New returns a processor that will read requests from the destination
// queue ("/queue/config"), logging in with login and passcode, and give
// each message's body to serve, on the goroutine that reads them: serve
// must not block, and publishes through Enqueue. Nothing connects before
// Start; what is enqueued before is published after it.
func New(log *slog.Logger, login, passcode, queue string, serve func(body []byte)) *Processor {
	return &Processor{
		serve:    serve,
		login:    login,
		passcode: passcode,
		queue:    queue,
		log:      log,
		notify:   make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		live:     make(map[net.Conn]struct{}),
	}
}

// Queue returns the destination requests are read from.
func (pr *Processor) Queue() string { return pr.queue }

// Reconnects returns how many times the processor replaced a lost broker
// connection.
func (pr *Processor) Reconnects() int64 { return pr.reconnects.Load() }

// PublishErrors returns how many messages the broker refused or lost.
func (pr *Processor) PublishErrors() int64 { return pr.publishErrors.Load() }

// Start connects to the broker at addr and subscribes, and returns only
// when the broker has the subscription, so that the first request sent
// after it returns is served. It is called once.
func (pr *Processor) Start(addr string) error {
	pr.addr = addr
	s, err := pr.connect()
	if err != nil {
		close(pr.done)
		return err
	}
	go pr.run(s)
	return nil
}

// dial opens one STOMP connection to the broker.
//
// go-stomp's receipt timeouts are set out of reach: when a receipt wait
// times out, go-stomp abandons the receipt's channel, and the connection's
// goroutine later blocks for ever trying to deliver an error to it. The
// processor bounds its waits by closing the socket instead, which fails
// every wait and lets go-stomp's goroutines end. (A send that cannot enter
// go-stomp's write queue abandons nothing; it gives up after 5 s.)
func (pr *Processor) dial() (*stomp.Conn, net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", pr.addr)
	if err != nil {
		return nil, nil, err
	}
	pr.connMu.Lock()
	pr.live[nc] = struct{}{}
	pr.connMu.Unlock()
	c, err := stomp.ConnectWithContext(ctx, nc,
		stomp.ConnOpt.Login(pr.login, pr.passcode),
		stomp.ConnOpt.Host("/"),
		stomp.ConnOpt.HeartBeat(0, 0),
		stomp.ConnOpt.Logger(stompLogger{pr.log}),
		stomp.ConnOpt.MsgSendTimeout(5*time.Second),
		stomp.ConnOpt.RcvReceiptTimeout(time.Hour),
		stomp.ConnOpt.DisconnectReceiptTimeout(time.Hour),
		stomp.ConnOpt.UnsubscribeReceiptTimeout(time.Hour))
	if err != nil {
		pr.closeNC(nc)
		return nil, nil, err
	}
	return c, nc, nil
}

func (pr *Processor) closeNC(nc net.Conn) {
	nc.Close()
	pr.connMu.Lock()
	delete(pr.live, nc)
	pr.connMu.Unlock()
}

// closeAll closes every socket of the processor, which unblocks whatever
// waits on a broker that stopped answering.
func (pr *Processor) closeAll() {
	pr.connMu.Lock()
	defer pr.connMu.Unlock()
	for nc := range pr.live {
		nc.Close()
	}
}

func (pr *Processor) connect() (*session, error) {
	pub, pubNC, err := pr.dial()
	if err != nil {
		return nil, fmt.Errorf("ivtest: connecting to the broker: %w", err)
	}
	cons, consNC, err := pr.dial()
	if err != nil {
		pr.closeNC(pubNC)
		return nil, fmt.Errorf("ivtest: connecting to the broker: %w", err)
	}
	s := &session{cons: cons, pub: pub, consNC: consNC, pubNC: pubNC, readerDone: make(chan struct{}), failed: make(chan struct{})}
	s.sub, err = cons.Subscribe(pr.queue, stomp.AckAuto)
	if err != nil {
		pr.closeNC(consNC)
		pr.closeNC(pubNC)
		return nil, fmt.Errorf("ivtest: subscribing to %s: %w", pr.queue, err)
	}
	// The reader runs before the probe, so that requests already waiting
	// in the queue (an external broker keeps them) cannot fill the
	// subscription and stall the probe's receipt behind them.
	go pr.read(s)
	timer := time.AfterFunc(10*time.Second, func() { consNC.Close() })
	err = cons.Send(probeTopic, "", nil, stomp.SendOpt.Receipt)
	timer.Stop()
	if err != nil {
		pr.closeSession(s, false)
		return nil, fmt.Errorf("ivtest: waiting for the broker to confirm the subscription: %w", err)
	}
	return s, nil
}

// read serves the requests of one session.
func (pr *Processor) read(s *session) {
	defer close(s.readerDone)
	defer s.fail()
	for msg := range s.sub.C {
		if msg.Err != nil {
			continue // the channel closes next
		}
		pr.serve(msg.Body)
	}
}

// run is the supervisor: it publishes for the current session and replaces
// failed sessions until close.
func (pr *Processor) run(s *session) {
	defer close(pr.done)
	backoff := 20 * time.Millisecond
	for {
		stopping := pr.publish(s)
		pr.closeSession(s, stopping)
		if stopping {
			return
		}
		pr.reconnects.Add(1)
		pr.log.Warn("ivtest: lost the broker connection; reconnecting")
		for {
			t := time.NewTimer(backoff)
			select {
			case <-pr.stop:
				t.Stop()
				return
			case <-t.C:
			}
			var err error
			if s, err = pr.connect(); err == nil {
				backoff = 20 * time.Millisecond
				break
			}
			pr.log.Debug("ivtest: reconnect failed", "err", err)
			backoff = min(backoff*2, 2*time.Second)
		}
	}
}

// publish drains the outbound queue on the session's publisher connection
// until the session fails (false) or the processor stops (true).
func (pr *Processor) publish(s *session) (stopping bool) {
	for {
		select {
		case <-s.failed:
			return false
		case <-pr.stop:
			return true
		default:
		}
		items := pr.take()
		if len(items) == 0 {
			select {
			case <-pr.notify:
			case <-s.failed:
				return false
			case <-pr.stop:
				return true
			}
			continue
		}
		if !pr.send(s, items) {
			return false
		}
	}
}

// send publishes items in order; false when the connection failed.
func (pr *Processor) send(s *session, items []Item) bool {
	for i, it := range items {
		var err error
		if it.barrier != nil {
			err = s.pub.Send(probeTopic, "", nil, stomp.SendOpt.Receipt)
			it.barrier <- err
		} else {
			err = s.pub.Send(it.Dest, "", it.Body)
		}
		if err != nil {
			pr.publishErrors.Add(1)
			pr.log.Warn("ivtest: publishing failed", "destination", safeDest(it.Dest), "err", err)
			// The failed item is dropped (it may be what the broker
			// refused); the rest are kept for the next session.
			pr.requeue(items[i+1:])
			s.fail()
			return false
		}
	}
	return true
}

// sendAll publishes messages (no barriers) until one fails.
func (pr *Processor) sendAll(s *session, items []Item) bool {
	for _, it := range items {
		if err := s.pub.Send(it.Dest, "", it.Body); err != nil {
			pr.publishErrors.Add(1)
			return false
		}
	}
	return true
}

func (pr *Processor) take() []Item {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	items := pr.out
	pr.out = nil
	return items
}

func (pr *Processor) requeue(items []Item) {
	if len(items) == 0 {
		return
	}
	pr.mu.Lock()
	pr.out = append(append([]Item(nil), items...), pr.out...)
	pr.mu.Unlock()
}

// Enqueue appends messages to the outbound queue; it never blocks. It
// reports false once the processor has stopped.
func (pr *Processor) Enqueue(items ...Item) bool {
	pr.mu.Lock()
	if pr.stopped {
		pr.mu.Unlock()
		for _, it := range items {
			if it.barrier != nil {
				it.barrier <- ErrClosed
			}
		}
		return false
	}
	pr.out = append(pr.out, items...)
	pr.mu.Unlock()
	select {
	case pr.notify <- struct{}{}:
	default:
	}
	return true
}

// Sync waits until everything enqueued before it has been accepted by the
// broker.
func (pr *Processor) Sync(ctx context.Context) error {
	ch := make(chan error, 1)
	if !pr.Enqueue(Item{barrier: ch}) {
		return ErrClosed
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-pr.done:
		select {
		case err := <-ch:
			return err
		default:
			return ErrClosed
		}
	}
}

// closeSession ends a session: it stops consuming, lets the reader answer
// what go-stomp had already received, and, when the processor is stopping,
// publishes what is still queued before closing the publisher connection.
func (pr *Processor) closeSession(s *session, graceful bool) {
	s.fail()
	pr.closeNC(s.consNC)
	<-s.readerDone
	if graceful {
		pr.mu.Lock()
		pr.stopped = true
		items := pr.out
		pr.out = nil
		pr.mu.Unlock()
		var msgs []Item
		for _, it := range items {
			if it.barrier != nil {
				it.barrier <- ErrClosed
			} else {
				msgs = append(msgs, it)
			}
		}
		// A final receipt proves the broker has taken every message.
		timer := time.AfterFunc(closeGrace, func() { s.pubNC.Close() })
		if pr.sendAll(s, msgs) {
			_ = s.pub.Send(probeTopic, "", nil, stomp.SendOpt.Receipt)
		}
		timer.Stop()
	}
	pr.closeNC(s.pubNC)
}

// closeGrace bounds how long stopping waits for the broker.
const closeGrace = 5 * time.Second

// Close stops the processor and waits for its goroutines, after
// publishing what is queued (within a grace period). It is idempotent.
func (pr *Processor) Close() {
	select {
	case <-pr.stop:
	default:
		close(pr.stop)
	}
	t := time.NewTimer(closeGrace)
	select {
	case <-pr.done:
	case <-t.C:
		pr.closeAll()
		<-pr.done
	}
	t.Stop()
	pr.mu.Lock()
	pr.stopped = true
	items := pr.out
	pr.out = nil
	pr.mu.Unlock()
	for _, it := range items {
		if it.barrier != nil {
			it.barrier <- ErrClosed
		}
	}
}

// ErrClosed is the error of Sync, and of a barrier, once the processor
// has stopped.
var ErrClosed = errors.New("ivtest: platform closed")

// replyPrefix is the prefix of a key's reply topic, /topic/<key>.
const replyPrefix = "/topic/"

// safeDest hides the key in a reply topic, for logs.
func safeDest(dest string) string {
	if len(dest) > len(replyPrefix) && dest[:len(replyPrefix)] == replyPrefix {
		return replyPrefix + "<key>"
	}
	return dest
}

// stompLogger sends go-stomp's log lines to slog at debug level (go-stomp
// otherwise prints through the standard log package).
type stompLogger struct{ l *slog.Logger }

func (s stompLogger) Debugf(format string, v ...any) {
	s.l.Debug("stomp: " + fmt.Sprintf(format, v...))
}
func (s stompLogger) Infof(format string, v ...any) { s.l.Debug("stomp: " + fmt.Sprintf(format, v...)) }
func (s stompLogger) Warningf(format string, v ...any) {
	s.l.Debug("stomp: " + fmt.Sprintf(format, v...))
}
func (s stompLogger) Errorf(format string, v ...any) {
	s.l.Debug("stomp: " + fmt.Sprintf(format, v...))
}
func (s stompLogger) Debug(msg string)   { s.l.Debug("stomp: " + msg) }
func (s stompLogger) Info(msg string)    { s.l.Debug("stomp: " + msg) }
func (s stompLogger) Warning(msg string) { s.l.Debug("stomp: " + msg) }
func (s stompLogger) Error(msg string)   { s.l.Debug("stomp: " + msg) }
