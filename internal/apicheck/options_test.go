package apicheck

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/soapx"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// packages are the public packages whose options the table covers,
// relative to the module root.
var packages = []string{"codes", "events", "ivclient", "ivclient/ivtest", "soapx", "stompx"}

// optCase is one option given a bad value, applied by its constructor.
type optCase struct {
	// fn is the function that applies the option: "stompx: Dial".
	fn string
	// apply calls fn with the option set to a bad value; nil for an option
	// that takes no value that can be wrong (a flag).
	apply func(env *testEnv) error
}

// knownViolations are the options and constructors that do not follow
// the rule yet, each with why and who is fixing it on their branch. They do
// not fail the test, so that the fixes can be merged in any order; an entry
// that the code now satisfies, or that no longer exists, is logged so that
// it is removed.
var knownViolations = map[string]string{}

// testEnv is what the cases need: a platform and a STOMP transport for
// the options of a subscription.
type testEnv struct {
	ctx context.Context
	p   *ivtest.Platform
	st  *stompx.Transport
}

func dial(o stompx.Option) func(*testEnv) error {
	return func(env *testEnv) error {
		t, err := stompx.Dial(env.ctx, env.p.STOMPAddr(), o)
		if err == nil {
			t.Close()
		}
		return err
	}
}

func durable(o stompx.DurableOption) func(*testEnv) error {
	return func(env *testEnv) error {
		s, err := env.st.SubscribeDurable(env.ctx, "apicheck-options", []string{events.AllAgents}, o)
		if err == nil {
			s.Close()
			env.st.DeleteDurable(env.ctx, "apicheck-options")
		}
		return err
	}
}

func start(o ivtest.Option) func(*testEnv) error {
	return func(*testEnv) error {
		p, err := ivtest.Start(o)
		if err == nil {
			p.Close()
		}
		return err
	}
}

// fatalTB is a testing.TB whose Fatal and Fatalf keep what failed and end
// the calling goroutine, as testing's do.
type fatalTB struct {
	testing.TB
	err      error
	cleanups []func()
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatal(args ...any) {
	if err, ok := args[0].(error); ok && len(args) == 1 {
		f.err = err
	} else {
		f.err = errors.New(fmt.Sprint(args...))
	}
	runtime.Goexit()
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.err = fmt.Errorf(format, args...)
	runtime.Goexit()
}

func (f *fatalTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

// newPlatform calls ivtest.NewPlatform with o and returns what it failed
// tb with.
func newPlatform(o ivtest.Option) func(*testEnv) error {
	return func(*testEnv) error {
		tb := &fatalTB{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			ivtest.NewPlatform(tb, o)
		}()
		<-done
		for _, fn := range tb.cleanups {
			fn()
		}
		return tb.err
	}
}

// construct calls the constructor ctor (func(...XOption) T, or one that
// also returns an error) with opt (nil: a nil option) by reflection, so
// that the case holds whichever of the two the constructor is. One that
// returns no error breaks the rule.
func construct(ctor, opt any) func(*testEnv) error {
	return func(*testEnv) error {
		f := reflect.ValueOf(ctor)
		ft := f.Type()
		v := reflect.Zero(ft.In(ft.NumIn() - 1).Elem())
		if opt != nil {
			v = reflect.ValueOf(opt)
		}
		out := f.Call([]reflect.Value{v})
		last := out[len(out)-1]
		if last.Type() != reflect.TypeFor[error]() {
			return fmt.Errorf("%s returns no error", ft)
		}
		err, _ := last.Interface().(error)
		return err
	}
}

// withFeed runs f on the subscription of a new feed, ended afterwards.
func withFeed(f func(*events.Subscription) error) error {
	feed, err := events.NewFeed()
	if err != nil {
		return err
	}
	defer feed.End(nil)
	return f(feed.Subscription())
}

func consume(o events.ConsumeOption) func(*testEnv) error {
	return func(env *testEnv) error {
		return withFeed(func(s *events.Subscription) error {
			return events.Consume(env.ctx, s, func(context.Context, events.Event) error { return nil }, o)
		})
	}
}

func soapNew(o soapx.Option) func(*testEnv) error {
	return func(*testEnv) error {
		_, err := soapx.New("http://127.0.0.1:1/", o)
		return err
	}
}

func clientNew(o ivclient.Option) func(*testEnv) error {
	return func(env *testEnv) error {
		c, err := ivclient.New(env.st, env.p.Key(), o, ivclient.KeepTransportOpen())
		if err == nil {
			c.Close()
		}
		return err
	}
}

// options is the table: every exported option constructor of packages,
// by "<package>.<Name>", and a nil option given to every function that
// takes options, by "<package>.<Function>(nil)".
func options() map[string]optCase {
	return map[string]optCase{
		"ivclient.New(nil)": {"ivclient: New", clientNew(nil)},
		"ivclient.New(nil transport)": {"ivclient: New", func(*testEnv) error {
			_, err := ivclient.New(nil, "key1")
			return err
		}},
		"ivclient.WithLogger":         {"ivclient: New", clientNew(ivclient.WithLogger(nil))},
		"ivclient.WithObserver":       {"ivclient: New", clientNew(ivclient.WithObserver(nil))},
		"ivclient.WithCallTimeout":    {"ivclient: New", clientNew(ivclient.WithCallTimeout(0))},
		"ivclient.WithoutCallTimeout": {"ivclient: New", nil},
		"ivclient.KeepTransportOpen":  {"ivclient: New", nil},
		"ivclient.WithRawAgentNames":  {"ivclient: New", nil},

		"soapx.New(nil)":         {"soapx: New", soapNew(nil)},
		"soapx.WithHTTPClient":   {"soapx: New", soapNew(soapx.WithHTTPClient(nil))},
		"soapx.WithBasicAuth":    {"soapx: New", soapNew(soapx.WithBasicAuth("", "x"))},
		"soapx.WithLogger":       {"soapx: New", soapNew(soapx.WithLogger(nil))},
		"soapx.WithNamespace":    {"soapx: New", soapNew(soapx.WithNamespace(" "))},
		"soapx.WithMaxReplySize": {"soapx: New", soapNew(soapx.WithMaxReplySize(0))},

		"stompx.Dial(nil)":                {"stompx: Dial", dial(nil)},
		"stompx.WithLogin":                {"stompx: Dial", dial(stompx.WithLogin("agent\nx", "secret"))},
		"stompx.WithTLS":                  {"stompx: Dial", nil}, // nil: the system roots
		"stompx.WithVirtualHost":          {"stompx: Dial", dial(stompx.WithVirtualHost(""))},
		"stompx.WithHeartBeat":            {"stompx: Dial", dial(stompx.WithHeartBeat(-time.Second, 0))},
		"stompx.WithLogger":               {"stompx: Dial", dial(stompx.WithLogger(nil))},
		"stompx.WithEventBuffer":          {"stompx: Dial", dial(stompx.WithEventBuffer(0))},
		"stompx.WithBlockingEvents":       {"stompx: Dial", nil},
		"stompx.WithWildcard":             {"stompx: Dial", dial(stompx.WithWildcard(""))},
		"stompx.WithRequestQueue":         {"stompx: Dial", dial(stompx.WithRequestQueue("queue"))},
		"stompx.WithoutReconnect":         {"stompx: Dial", nil},
		"stompx.WithAddrs":                {"stompx: Dial", dial(stompx.WithAddrs(""))},
		"stompx.WithReconnectBackoff":     {"stompx: Dial", dial(stompx.WithReconnectBackoff(0, 0))},
		"stompx.WithMaxReconnects":        {"stompx: Dial", dial(stompx.WithMaxReconnects(-2))},
		"stompx.WithRetryOnFailedConnect": {"stompx: Dial", nil},
		"stompx.WithFailFast":             {"stompx: Dial", nil},
		"stompx.WithStateHandler":         {"stompx: Dial", dial(stompx.WithStateHandler(nil))},
		"stompx.WithConnectTimeout":       {"stompx: Dial", dial(stompx.WithConnectTimeout(0))},
		"stompx.WithFrameLimits":          {"stompx: Dial", dial(stompx.WithFrameLimits(0, 1, 1))},
		"stompx.WithoutRequestExpiry":     {"stompx: Dial", nil},
		"stompx.SubscribeDurable(nil)":    {"stompx: SubscribeDurable", durable(nil)},
		"stompx.DeleteDurable(nil)": {"stompx: DeleteDurable", func(env *testEnv) error {
			return env.st.DeleteDurable(env.ctx, "apicheck-none", nil)
		}},
		"stompx.WithQuorumQueue":  {"stompx: SubscribeDurable", nil},
		"stompx.WithSingleActive": {"stompx: SubscribeDurable", nil},
		"stompx.WithActiveChange": {"stompx: SubscribeDurable", durable(stompx.WithActiveChange(nil))},
		"stompx.WithBacklogTTL":   {"stompx: SubscribeDurable", durable(stompx.WithBacklogTTL(0))},
		"stompx.WithIdleExpiry":   {"stompx: SubscribeDurable", durable(stompx.WithIdleExpiry(0))},
		"stompx.WithPrefetch":     {"stompx: SubscribeDurable", durable(stompx.WithPrefetch(0))},
		"stompx.WithMaxBacklog":   {"stompx: SubscribeDurable", durable(stompx.WithMaxBacklog(0))},

		"events.NewTracker(nil)":  {"events: NewTracker", construct(events.NewTracker, nil)},
		"events.NewBoard(nil)":    {"events: NewBoard", construct(events.NewBoard, nil)},
		"events.NewPoller(nil)":   {"events: NewPoller", construct(events.NewPoller, nil)},
		"events.WithClock":        {"events: NewTracker", construct(events.NewTracker, events.WithClock(nil))},
		"events.WithExpiry":       {"events: NewTracker", construct(events.NewTracker, events.WithExpiry(-time.Second))},
		"events.WithMaxCalls":     {"events: NewTracker", construct(events.NewTracker, events.WithMaxCalls(0))},
		"events.WithFinished":     {"events: NewTracker", construct(events.NewTracker, events.WithFinished(nil))},
		"events.WithDedupeWindow": {"events: NewTracker", construct(events.NewTracker, events.WithDedupeWindow(-1))},
		"events.WithMaxAgents":    {"events: NewBoard", construct(events.NewBoard, events.WithMaxAgents(0))},
		"events.WithPollLimit":    {"events: NewPoller", construct(events.NewPoller, events.WithPollLimit(0))},
		"events.NewFeed(nil)":     {"events: NewFeed", construct(events.NewFeed, nil)},
		"events.WithBuffer":       {"events: NewFeed", construct(events.NewFeed, events.WithBuffer(0))},
		"events.WithErrorHandler": {"events: NewFeed", construct(events.NewFeed, events.WithErrorHandler(nil))},
		"events.WithUnsubscribe":  {"events: NewFeed", construct(events.NewFeed, events.WithUnsubscribe(nil))},
		"events.WithBlocking":     {"events: NewFeed", nil},
		"events.WithAcks":         {"events: NewFeed", nil},
		"events.Consume(nil)":     {"events: Consume", consume(nil)},
		"events.WithLanes":        {"events: Consume", consume(events.WithLanes(0))},
		"events.WithRetry":        {"events: Consume", consume(events.WithRetry(-1, time.Second))},
		"events.WithOtherEvents":  {"events: Consume", consume(events.WithOtherEvents(nil))},
		"events.WithMaxHold":      {"events: Consume", consume(events.WithMaxHold(-time.Second))},
		"events.WithCallExpiry":   {"events: Consume", consume(events.WithCallExpiry(0))},
		"events.ConsumeCalls(nil)": {"events: ConsumeCalls", func(env *testEnv) error {
			return withFeed(func(s *events.Subscription) error {
				return events.ConsumeCalls(env.ctx, s, func(context.Context, events.Call) error { return nil }, nil)
			})
		}},

		"ivtest.Start(nil)":           {"ivtest: Start", start(nil)},
		"ivtest.NewPlatform(nil)":     {"ivtest: Start", newPlatform(nil)},
		"ivtest.WithSTOMPAddr":        {"ivtest: Start", start(ivtest.WithSTOMPAddr("no port"))},
		"ivtest.WithSOAPAddr":         {"ivtest: Start", start(ivtest.WithSOAPAddr("no port"))},
		"ivtest.WithSTOMPLogin":       {"ivtest: Start", start(ivtest.WithSTOMPLogin("a\nb", "x"))},
		"ivtest.WithExternalBroker":   {"ivtest: Start", start(ivtest.WithExternalBroker("", "", ""))},
		"ivtest.WithRequestQueue":     {"ivtest: Start", start(ivtest.WithRequestQueue(""))},
		"ivtest.WithEventWildcards":   {"ivtest: Start", start(ivtest.WithEventWildcards(""))},
		"ivtest.WithAccountcodes":     {"ivtest: Start", start(ivtest.WithAccountcodes(""))},
		"ivtest.WithKey":              {"ivtest: Start", start(ivtest.WithKey("bad key!"))},
		"ivtest.WithPermissionGroups": {"ivtest: Start", start(ivtest.WithPermissionGroups(""))},
		"ivtest.WithPauseReason":      {"ivtest: Start", start(ivtest.WithPauseReason("", ""))},
		"ivtest.WithSeed":             {"ivtest: Start", start(ivtest.WithSeed("NoSuchMethod", nil))},
		"ivtest.WithAgent":            {"ivtest: Start", start(ivtest.WithAgent("", "", "", ""))},
		"ivtest.WithQueue":            {"ivtest: Start", start(ivtest.WithQueue("", ""))},
		"ivtest.WithSipUser":          {"ivtest: Start", start(ivtest.WithSipUser("", ""))},
		"ivtest.WithLogger":           {"ivtest: Start", start(ivtest.WithLogger(nil))},
		"ivtest.WithClock":            {"ivtest: Start", start(ivtest.WithClock(nil))},
		"ivtest.WithNewCallOutcome":   {"ivtest: Start", start(ivtest.WithNewCallOutcome(ivtest.Outcome("no such outcome")))},
		"ivtest.WithLicensedAgents":   {"ivtest: Start", start(ivtest.WithLicensedAgents(-1))},
		"ivtest.WithPythonLists":      {"ivtest: Start", nil},
	}
}

// TestEveryOptionHasACase: every exported function of packages that
// returns an option type (Option, DurableOption, TrackerOption, ...) has a
// case in the table (or is a known violation), and every case names one.
func TestEveryOptionHasACase(t *testing.T) {
	found := exportedOptions(t)
	table := options()
	for _, name := range found {
		if _, ok := table[name]; !ok && knownViolations[name] == "" {
			t.Errorf("%s: an option without a case in options(): add one with a bad value (or nil apply for a flag)", name)
		}
	}
	have := map[string]bool{}
	for _, name := range found {
		have[name] = true
	}
	for name := range table {
		if !have[name] && !strings.HasSuffix(name, ")") {
			t.Errorf("%s: a case for an option that does not exist", name)
		}
	}
	for name := range knownViolations {
		if !have[name] && !strings.HasSuffix(name, "(nil)") {
			t.Logf("known violation %s: the option no longer exists; remove the entry", name)
		}
	}
}

// TestOptionRule applies every option with a bad value, and every
// constructor with a nil option: each must fail with an error matching
// ivclient.ErrInvalidArgument that reads
// "<package>: <Function>: invalid argument: <Option>: ...".
func TestOptionRule(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := ivtest.NewPlatform(t, ivtest.WithLogger(slog.New(slog.DiscardHandler)))
	st, err := stompx.Dial(ctx, p.STOMPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	env := &testEnv{ctx: ctx, p: p, st: st}
	table := options()
	names := make([]string, 0, len(table))
	for name := range table {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := table[name]
		if c.apply == nil {
			continue
		}
		err := safely(func() error { return c.apply(env) })
		_, opt, _ := strings.Cut(name, ".")
		prefix := c.fn + ": invalid argument: "
		if !strings.HasSuffix(name, ")") {
			prefix += opt + ": "
		}
		ok := errors.Is(err, ivclient.ErrInvalidArgument) && err != nil && strings.HasPrefix(err.Error(), prefix)
		switch why := knownViolations[name]; {
		case ok && why != "":
			t.Logf("%s now follows the rule: remove it from knownViolations", name)
		case !ok && why != "":
			t.Logf("known violation %s (%s): %v", name, why, err)
		case !ok:
			t.Errorf("%s with a bad value: %v; want an error matching ivclient.ErrInvalidArgument that starts %q", name, err, prefix)
		}
	}
}

// safely turns a panic into an error, so that an option that panics is
// reported as failing the rule rather than ending the test.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("panic")
		}
	}()
	return f()
}

// takesOptions reports whether fd's last parameter is ...<X>Option.
func takesOptions(fd *ast.FuncDecl) bool {
	ps := fd.Type.Params.List
	if len(ps) == 0 {
		return false
	}
	e, ok := ps[len(ps)-1].Type.(*ast.Ellipsis)
	if !ok {
		return false
	}
	id, ok := e.Elt.(*ast.Ident)
	return ok && strings.HasSuffix(id.Name, "Option")
}

// exportedOptions parses the packages' source and returns
// "<package>.<Name>" for every exported function whose result is an option
// type (a type whose name ends in "Option"), and "<package>.<Name>(nil)"
// for every exported function or method that takes options.
func exportedOptions(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, dir := range packages {
		files, err := filepath.Glob(filepath.Join("..", "..", dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || !fd.Name.IsExported() {
					continue
				}
				if takesOptions(fd) {
					out = append(out, f.Name.Name+"."+fd.Name.Name+"(nil)")
				}
				if fd.Recv != nil || fd.Type.Results == nil || len(fd.Type.Results.List) != 1 {
					continue
				}
				if id, ok := fd.Type.Results.List[0].Type.(*ast.Ident); ok && strings.HasSuffix(id.Name, "Option") {
					out = append(out, f.Name.Name+"."+fd.Name.Name)
				}
			}
		}
	}
	if len(out) < 40 {
		t.Fatalf("found %d options; the walk is broken", len(out))
	}
	return out
}
