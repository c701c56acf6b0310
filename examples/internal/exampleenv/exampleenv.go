// Package exampleenv is what the programs of examples/ share: finding the
// platform to run against and connecting to it.
//
// A program runs against a real platform when IV_STOMP_ADDR (the broker,
// "host:61613", or the nodes of a RabbitMQ cluster, comma-separated, tried
// in order) or IV_SOAP_URL (the IVWS endpoint, "http://host:7789/") is
// set, with the access key IV_KEY and, for the broker, the login
// IV_STOMP_LOGIN / IV_STOMP_PASSCODE when set (default the platform's).
// Otherwise it starts the in-process fake platform of package ivtest and
// runs against that.
package exampleenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/soapx"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// Context returns the context a program runs in: done on SIGINT or SIGTERM
// and, when d > 0, after d. Call cancel when the program is done.
func Context(d time.Duration) (ctx context.Context, cancel context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if d <= 0 {
		return ctx, stop
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, d)
	return ctx, func() { cancelTimeout(); stop() }
}

// Platform is the platform a program runs against.
type Platform struct {
	STOMPAddr string           // the broker; "" when IV_STOMP_ADDR is not set
	SOAPURL   string           // the IVWS endpoint; "" when IV_SOAP_URL is not set
	Key       string           // the access key
	Fake      *ivtest.Platform // the fake platform started; nil against a real one

	login, passcode string
}

// Open returns the real platform the environment names, after checking that
// IV_KEY is set. When the environment names none, it starts the fake
// platform with fake (its seed), and prints where the fake listens and how
// to point the program at a real platform instead. Close the platform when
// done.
func Open(fake ...ivtest.Option) (*Platform, error) {
	p := &Platform{
		STOMPAddr: os.Getenv("IV_STOMP_ADDR"),
		SOAPURL:   os.Getenv("IV_SOAP_URL"),
		Key:       os.Getenv("IV_KEY"),
		login:     os.Getenv("IV_STOMP_LOGIN"),
		passcode:  os.Getenv("IV_STOMP_PASSCODE"),
	}
	if p.STOMPAddr == "" && p.SOAPURL == "" {
		f, err := ivtest.Start(fake...)
		if err != nil {
			return nil, fmt.Errorf("starting the fake platform: %w", err)
		}
		fmt.Printf("started the fake platform: STOMP broker on %s, IVWS endpoint %s, access key %s\n",
			f.STOMPAddr(), f.SOAPURL(), f.Key())
		fmt.Printf("to run against a real platform: IV_STOMP_ADDR=<host>:61613 IV_KEY=<access key> go run ./examples/%s (-h says more)\n",
			strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe"))
		return &Platform{STOMPAddr: f.STOMPAddr(), SOAPURL: f.SOAPURL(), Key: f.Key(), Fake: f}, nil
	}
	if p.Key == "" {
		return nil, errors.New("IV_KEY is not set: the access key is needed with IV_STOMP_ADDR / IV_SOAP_URL")
	}
	return p, nil
}

// Close stops the fake platform, if one was started.
func (p *Platform) Close() {
	if p.Fake != nil {
		p.Fake.Close()
	}
}

// DialSTOMP connects to the broker, with the login of the environment (for
// a real platform) and opts. Events come over STOMP only.
func (p *Platform) DialSTOMP(ctx context.Context, opts ...stompx.Option) (*stompx.Transport, error) {
	if p.STOMPAddr == "" {
		return nil, errors.New("IV_STOMP_ADDR is not set: call events and -transport stomp need the broker")
	}
	if p.Fake == nil && p.login != "" {
		opts = append([]stompx.Option{stompx.WithLogin(p.login, p.passcode)}, opts...)
	}
	addrs := SplitAddrs(p.STOMPAddr)
	if len(addrs) == 0 {
		return nil, fmt.Errorf("IV_STOMP_ADDR lists no address: %q", p.STOMPAddr)
	}
	opts = append([]stompx.Option{stompx.WithAddrs(addrs[1:]...)}, opts...)
	t, err := stompx.Dial(ctx, addrs[0], opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to the broker: %w", err)
	}
	return t, nil
}

// SplitAddrs returns the addresses of a comma-separated list (IV_STOMP_ADDR),
// blanks trimmed and empty items left out.
func SplitAddrs(list string) []string {
	var addrs []string
	for _, a := range strings.Split(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// Transport returns the transport named "stomp" or "soap".
func (p *Platform) Transport(ctx context.Context, name string) (ivclient.Transport, error) {
	switch name {
	case "stomp":
		return p.DialSTOMP(ctx)
	case "soap":
		if p.SOAPURL == "" {
			return nil, errors.New("IV_SOAP_URL is not set (-transport soap)")
		}
		return soapx.New(p.SOAPURL)
	}
	return nil, fmt.Errorf("-transport must be stomp or soap, not %q", name)
}

// Client returns a client with the platform's key over the transport named
// "stomp" or "soap". Closing the client closes the transport.
func (p *Platform) Client(ctx context.Context, transport string, opts ...ivclient.Option) (*ivclient.Client, error) {
	t, err := p.Transport(ctx, transport)
	if err != nil {
		return nil, err
	}
	c, err := ivclient.New(t, p.Key, opts...)
	if err != nil {
		t.Close()
		return nil, err
	}
	return c, nil
}

// STOMPClient returns a client with the platform's key over the broker,
// and the broker's transport, which also delivers the call events
// (t.Subscribe). Closing the client closes the transport.
func (p *Platform) STOMPClient(ctx context.Context, opts ...stompx.Option) (*stompx.Transport, *ivclient.Client, error) {
	t, err := p.DialSTOMP(ctx, opts...)
	if err != nil {
		return nil, nil, err
	}
	c, err := ivclient.New(t, p.Key)
	if err != nil {
		t.Close()
		return nil, nil, err
	}
	return t, c, nil
}

// QueueOfTwo seeds the fake platform with a queue 7000 of accountcode and
// two agents in it: 1001 (Alice) and 1002 (Bob).
func QueueOfTwo(accountcode string) []ivtest.Option {
	member := func(user string) ivtest.Option {
		return ivtest.WithSeed("AgentQueueAdd", map[string]any{"accountcode": accountcode, "user": user,
			"queues": []any{map[string]any{"name": "7000", "priority": "0"}}})
	}
	return []ivtest.Option{
		ivtest.WithAccountcodes(accountcode),
		ivtest.WithQueue(accountcode, "7000"),
		ivtest.WithAgent(accountcode, "1001", "", "Alice"),
		ivtest.WithAgent(accountcode, "1002", "", "Bob"),
		member("1001"), member("1002"),
	}
}

// Play runs a demo on the fake platform: play makes the calls while
// events.Run hands the events of sub to sinks. It returns once last reports
// the demo's last event (events arrive in order, so every sink has seen the
// rest), or, when last is nil, once ctx ends. A demo that fails, or a ctx
// that ends while the demo's events are awaited, is an error.
func Play(ctx context.Context, sub *events.Subscription, play func(context.Context) error, last func(events.Event) bool, sinks ...events.Sink) error {
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	if last != nil {
		sinks = append(sinks, events.SinkFunc(func(ev events.Event) {
			if last(ev) {
				stopRun()
			}
		}))
	}
	playCtx, stopPlay := context.WithCancel(ctx)
	defer stopPlay()
	played := make(chan error, 1)
	go func() {
		err := play(playCtx)
		if err != nil {
			stopRun()
		}
		played <- err
	}()
	err := events.Run(runCtx, sub, sinks...)
	if runCtx.Err() == nil {
		stopPlay() // the subscription ended: stop playing
	}
	playErr := <-played
	switch {
	case playErr != nil && ctx.Err() == nil:
		return fmt.Errorf("playing the calls: %w", playErr)
	case ctx.Err() != nil && last != nil:
		return fmt.Errorf("waiting for the calls' events: %w", ctx.Err())
	case err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return nil
}
